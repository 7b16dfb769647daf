"""Tests for gnnrec_course.data.download against a local HTTP server on 127.0.0.1.

The server serves zips the tests build from synthetic datasets: a good file, a corrupt file,
a truncated transfer, a server that is down, and archives that try to escape their folder.
Nothing here touches the internet; retries run with ``backoff=0`` or a patched sleep.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import socket
import stat
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from gnnrec_course import data
from gnnrec_course.errors import (
    ChecksumError,
    CourseError,
    DataNotFoundError,
    MalformedDataError,
    UnsafeArchiveError,
)

FAST = {"backoff": 0.0, "progress": False, "timeout": 5.0}


# ---------------------------------------------------------------------------------------------
# a tiny file server
# ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        server: _FileServer = self.server  # type: ignore[assignment]
        server.hits.append(self.path)
        route = server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, mode = route
        if mode == "fail-once" and server.hits.count(self.path) == 1:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncate":  # announce the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


class _FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve(self, name: str, body: bytes, mode: str = "ok") -> None:
        self.routes[f"/{name}.zip"] = (body, mode)


@pytest.fixture
def server():
    httpd = _FileServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port that was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _zip_folder(folder: Path, prefix: str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{prefix}/", b"")
        for file in sorted(folder.iterdir()):
            archive.write(file, f"{prefix}/{file.name}")
        for name, payload in (extra or {}).items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def _dataset_zip(tmp_path: Path, name: str = "ml-100k", **extra) -> tuple[bytes, str]:
    """A zip of a synthetic dataset laid out like GroupLens's, and its SHA-256."""
    folder = data.write_synthetic(tmp_path / "source", name)
    body = _zip_folder(folder, name, extra.get("extra"))
    return body, hashlib.sha256(body).hexdigest()


def _listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with (mode, size, mtime_ns): any write would show."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _assert_nothing_left(root: Path, name: str = "ml-100k") -> None:
    leftovers = sorted(p.name for p in root.iterdir()) if root.exists() else []
    assert leftovers == [], f"left behind: {leftovers}"
    assert not data.is_present(name, root)


# ---------------------------------------------------------------------------------------------
# good downloads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(data.DATASETS))
def test_good_download_extracts_and_loads(tmp_path, server, name):
    body, sha = _dataset_zip(tmp_path, name)
    server.serve(name, body)
    root = tmp_path / "cache"
    path = data.download(name, root, base_url=server.url, sha256=sha, **FAST)
    assert path == root / name
    assert data.is_present(name, root)
    assert sorted(p.name for p in root.iterdir()) == [name, f"{name}.zip"]  # no temp files
    assert (root / f"{name}.zip").read_bytes() == body
    loaded = data.load_dataset(name, root)
    reference = data.load_dataset(name, tmp_path / "source")
    pd.testing.assert_frame_equal(loaded.ratings, reference.ratings)
    pd.testing.assert_frame_equal(loaded.movies, reference.movies)
    assert server.hits == [f"/{name}.zip"]


def test_second_download_uses_present_files(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    before = _listing(root)
    assert (
        data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST) == root / "ml-100k"
    )
    assert len(server.hits) == 1
    assert _listing(root) == before


def test_retry_after_server_error(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body, mode="fail-once")
    root = tmp_path / "cache"
    data.download("ml-100k", root, base_url=server.url, sha256=sha, retries=2, **FAST)
    assert data.is_present("ml-100k", root)
    assert server.hits == ["/ml-100k.zip"] * 2


def test_base_url_from_environment_and_download_if_missing(tmp_path, server, monkeypatch):
    body, sha = _dataset_zip(tmp_path, "ml-1m")
    server.serve("ml-1m", body)
    spec = dataclasses.replace(data.DATASETS["ml-1m"], sha256=sha)
    monkeypatch.setitem(data.DATASETS, "ml-1m", spec)
    monkeypatch.setenv("GNNREC_DATA_URL", server.url + "/")
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path / "env-cache"))
    dataset = data.load_dataset("ml-1m", download_if_missing=True)
    assert dataset.path == tmp_path / "env-cache" / "ml-1m"
    assert dataset.num_ratings == len(data.synthetic_ratings())
    assert server.hits == ["/ml-1m.zip"]


def test_progress_bar_only_when_asked(tmp_path, server, capsys):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    data.download("ml-100k", tmp_path / "quiet", base_url=server.url, sha256=sha, **FAST)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    loud = {**FAST, "progress": True}
    data.download("ml-100k", tmp_path / "loud", base_url=server.url, sha256=sha, **loud)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ml-100k.zip" in captured.err


def test_verified_zip_is_reused_without_network(tmp_path, closed_url):
    body, sha = _dataset_zip(tmp_path)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "ml-100k.zip").write_bytes(body)  # e.g. copied from a USB stick in a workshop
    path = data.download("ml-100k", root, base_url=closed_url, sha256=sha, retries=0, **FAST)
    assert data.is_present("ml-100k", root)
    assert data.load_ratings("ml-100k", root).equals(data.load_ratings("ml-100k", path.parent))


def test_corrupt_old_zip_is_replaced(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "ml-100k.zip").write_bytes(b"not a zip at all")
    data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    assert (root / "ml-100k.zip").read_bytes() == body
    assert data.is_present("ml-100k", root)


def test_partial_folder_is_completed(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    (root / "ml-100k").mkdir(parents=True)
    (root / "ml-100k" / "u.item").write_text("left over from an interrupted run\n")
    data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    reference = data.load_dataset("ml-100k", tmp_path / "source")
    pd.testing.assert_frame_equal(data.load_movies("ml-100k", root), reference.movies)
    assert sorted(p.name for p in root.iterdir()) == ["ml-100k", "ml-100k.zip"]


# ---------------------------------------------------------------------------------------------
# bad downloads leave nothing behind
# ---------------------------------------------------------------------------------------------


def test_wrong_checksum(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    expected = "0" * 64
    with pytest.raises(ChecksumError) as info:
        data.download("ml-100k", root, base_url=server.url, sha256=expected, **FAST)
    message = str(info.value)
    assert expected in message and sha in message
    assert f"{server.url}/ml-100k.zip" in message
    assert "\n" not in message
    _assert_nothing_left(root)
    assert len(server.hits) == 1  # a complete but different file: retrying would not help


def test_published_checksum_is_the_default(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        data.download("ml-100k", root, base_url=server.url, **FAST)
    assert data.DATASETS["ml-100k"].sha256 in str(info.value)
    assert sha in str(info.value)
    _assert_nothing_left(root)


def test_truncated_transfer(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body, mode="truncate")
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        data.download("ml-100k", root, base_url=server.url, sha256=sha, retries=2, **FAST)
    message = str(info.value)
    half = hashlib.sha256(body[: len(body) // 2]).hexdigest()
    assert sha in message and half in message
    assert "\n" not in message
    assert len(server.hits) == 3  # a cut connection is worth retrying
    _assert_nothing_left(root)


def test_cut_file(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    cut = body[:-100]
    server.serve("ml-100k", cut)  # a short file served with a matching Content-Length
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    assert sha in str(info.value)
    assert hashlib.sha256(cut).hexdigest() in str(info.value)
    _assert_nothing_left(root)


def test_server_down(tmp_path, closed_url, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    root = tmp_path / "cache"
    with pytest.raises(DataNotFoundError) as info:
        data.download("ml-100k", root, base_url=closed_url, retries=3, backoff=0.5, progress=False)
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff between the 4 attempts
    message = str(info.value)
    assert "\n" not in message
    assert f"{closed_url}/ml-100k.zip" in message
    assert str(root / "ml-100k") in message
    assert "GNNREC_DATA_DIR" in message
    assert "gnnrec-course data download" in message
    assert isinstance(info.value, CourseError)
    _assert_nothing_left(root)


def test_load_without_network(tmp_path, closed_url, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setenv("GNNREC_DATA_URL", closed_url)
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError) as info:
        data.load_dataset("ml-100k", download_if_missing=True)
    message = str(info.value)
    assert "\n" not in message
    assert closed_url in message and "GNNREC_DATA_DIR" in message
    assert "gnnrec-course data download" in message


def test_missing_file_is_not_retried(tmp_path, server):
    root = tmp_path / "cache"
    with pytest.raises(DataNotFoundError) as info:
        data.download("ml-100k", root, base_url=server.url, retries=3, **FAST)
    assert "404" in str(info.value)
    assert server.hits == ["/ml-100k.zip"]
    _assert_nothing_left(root)


def test_not_a_zip(tmp_path, server):
    body = b"<html>captive portal: please log in</html>"
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    sha = hashlib.sha256(body).hexdigest()
    with pytest.raises(MalformedDataError):
        data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    _assert_nothing_left(root)


def test_zip_without_the_dataset(tmp_path, server):
    folder = data.write_synthetic(tmp_path / "source", "ml-1m")
    body = _zip_folder(folder, "ml-1m")  # the wrong dataset
    server.serve("ml-100k", body)
    root = tmp_path / "cache"
    sha = hashlib.sha256(body).hexdigest()
    with pytest.raises(MalformedDataError, match="u.data"):
        data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    _assert_nothing_left(root)


def test_unwritable_data_folder(tmp_path, server):
    body, sha = _dataset_zip(tmp_path)
    server.serve("ml-100k", body)
    root = tmp_path / "a-file"
    root.write_text("not a folder")
    with pytest.raises(DataNotFoundError) as info:
        data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    assert "GNNREC_DATA_DIR" in str(info.value) and "\n" not in str(info.value)
    assert server.hits == []


# ---------------------------------------------------------------------------------------------
# safe extraction
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "../evil.txt",
        "ml-100k/../../evil.txt",
        "/tmp/gnnrec-evil.txt",
        "..\\evil.txt",
        "C:/evil.txt",
    ],
)
def test_zip_slip_is_refused(tmp_path, server, entry):
    body, sha = _dataset_zip(tmp_path, extra={entry: b"gotcha"})
    server.serve("ml-100k", body)
    root = tmp_path / "deep" / "cache"
    with pytest.raises(UnsafeArchiveError) as info:
        data.download("ml-100k", root, base_url=server.url, sha256=sha, **FAST)
    assert entry in str(info.value) or repr(entry) in str(info.value)
    _assert_nothing_left(root)
    escaped = [p for p in tmp_path.rglob("*evil*")]
    assert escaped == []
    assert not Path("/tmp/gnnrec-evil.txt").exists()


# ---------------------------------------------------------------------------------------------
# present files: no writes (read-only folder)
# ---------------------------------------------------------------------------------------------


def test_present_files_in_read_only_folder(tmp_path, closed_url):
    root = tmp_path / "shared"
    data.write_synthetic(root, "ml-100k")
    folder = root / "ml-100k"
    before = _listing(root)
    modes = {p: p.stat().st_mode for p in (root, folder)}
    try:
        for p in (folder, root):
            p.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
        listing = _listing(root)  # after chmod (the mode of the folders changed)
        path = data.download("ml-100k", root, base_url=closed_url, retries=0, **FAST)
        assert path == folder
        dataset = data.load_dataset("ml-100k", root, download_if_missing=True)
        assert dataset.num_ratings == len(data.synthetic_ratings())
        data.load_fold("u2", root)
        assert _listing(root) == listing  # root may ignore chmod: check nothing changed
        assert sorted(os.listdir(root)) == ["ml-100k"]
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert _listing(root) == before
