"""Download a MovieLens zip: stream it with retries, check its SHA-256, extract it safely.

:func:`download` is the one entry point (``gnnrec_course.data.download``). Where the extracted
files are present it writes nothing, so the data folder may be read-only. A download goes to
a temporary file in the data folder and is renamed to ``<name>.zip`` only once its SHA-256
matches; any failure deletes it. Every failure a user can meet is a one-line ``CourseError``
that says what to do (no network or an unwritable folder: the URL, the folder,
``GNNREC_DATA_DIR`` and ``gnnrec-course data download``; a bad file: both SHA-256s).

Why not ``pooch`` (checked against pooch 1.9's source)? It would replace only the ~60 lines
of streaming, and every behaviour the tests check would still need code of ours, plus three
new runtime dependencies (requests, platformdirs, packaging):

* ``pooch.Unzip`` calls ``ZipFile.extractall`` with no check of the entry names, so the
  zip-slip refusal (:mod:`gnnrec_course.data.archive`) stays ours either way;
* ``pooch.retrieve`` has no retries; ``Pooch.fetch(retry_if_failed=n)`` sleeps
  ``min(i + 1, 10)`` seconds (no exponential backoff to set), and retries every
  ``ValueError`` and ``requests`` error alike: a 404 and a complete file with the wrong
  checksum (which retrying cannot fix) are fetched again;
* a cut transfer surfaces as a ``requests`` exception after the partial file is deleted, so
  the message can no longer give the SHA-256 of what arrived;
* its errors are plain ``ValueError`` and ``requests`` exceptions, which we would translate
  into our one-line messages (URL, folder, GNNREC_DATA_DIR, the command) anyway.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from gnnrec_course.data.archive import check_archive, extract
from gnnrec_course.data.registry import (
    DATASETS,
    DEFAULT_DATASET,
    DatasetSpec,
    check_dataset_name,
    dataset_url,
    is_present,
    resolve_root,
)
from gnnrec_course.errors import ChecksumError, DataNotFoundError, one_line

__all__ = ["download", "sha256_file"]

_CHUNK = 1 << 16


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _unlink(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _offline_message(name: str, root: Path, url: str, reason: object) -> str:
    return (
        f"{name} is not in {root / name} and could not be downloaded from {url} "
        f"({one_line(reason)}): connect to the internet and run "
        f"`gnnrec-course data download --dataset {name}`, or set GNNREC_DATA_DIR to a folder "
        f"that holds {name}/."
    )


def _unwritable_message(name: str, root: Path, url: str, err: OSError) -> str:
    return (
        f"{name} is not in {root / name} and that folder cannot be written "
        f"({one_line(err)}): set GNNREC_DATA_DIR to a writable folder and run "
        f"`gnnrec-course data download --dataset {name}` (it downloads {url})."
    )


# ---------------------------------------------------------------------------------------------
# one attempt
# ---------------------------------------------------------------------------------------------


class _Truncated(Exception):
    """Fewer bytes arrived than the server announced."""

    def __init__(self, received: int, expected: int, actual_sha: str):
        super().__init__(f"received {received:,} of {expected:,} bytes")
        self.received, self.expected, self.actual_sha = received, expected, actual_sha


def _progress_bar(total: int | None, name: str, progress: bool):
    from tqdm.auto import tqdm  # lazy: only a download needs it

    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"{name}.zip",
        disable=not progress,
        leave=False,
    )


def _stream(response, out, digest, bar, total: int | None) -> int:
    """Copy ``response`` to ``out`` chunk by chunk, hashing as it goes; return the bytes read.

    Raises _Truncated when the connection ends before ``total`` bytes.
    """
    received = 0
    while True:
        try:
            chunk = response.read(_CHUNK)
        except http.client.IncompleteRead as err:
            digest.update(err.partial)
            received += len(err.partial)
            raise _Truncated(received, total or received, digest.hexdigest()) from err
        if not chunk:
            break
        out.write(chunk)
        digest.update(chunk)
        received += len(chunk)
        bar.update(len(chunk))
    if total is not None and received < total:
        raise _Truncated(received, total, digest.hexdigest())
    return received


def _fetch_once(
    url: str, folder: Path, name: str, expected_size: int | None, timeout: float, progress: bool
) -> tuple[Path, str]:
    """Stream ``url`` to a temporary file in ``folder``; return (path, sha256).

    Raises _Truncated when fewer bytes arrive than announced; deletes the file on any error.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "gnnrec-course"})
    tmp: Path | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else expected_size
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".zip.part", dir=folder)
            tmp = Path(tmp_name)
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, _progress_bar(total, name, progress) as bar:
                _stream(response, out, digest, bar, total)
        return tmp, digest.hexdigest()
    except BaseException:
        _unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# retries
# ---------------------------------------------------------------------------------------------


def _worth_retrying(err: BaseException) -> bool:
    """A cut connection or a server error may pass; a missing file (4xx) will not."""
    if isinstance(err, urllib.error.HTTPError):
        return not (400 <= err.code < 500 and err.code not in (408, 429))
    return True


def _give_up(last: BaseException | None, url: str, folder: Path, name: str, expected_sha: str):
    """The one-line error for the last failed attempt."""
    if isinstance(last, _Truncated):
        return ChecksumError(
            f"The download of {url} was cut short ({last}): expected SHA-256 {expected_sha}, "
            f"got {last.actual_sha}. Nothing was saved; check the connection and run "
            f"`gnnrec-course data download --dataset {name}` again."
        )
    reason = f"{type(last).__name__}: {last}" if last is not None else "no attempt made"
    return DataNotFoundError(_offline_message(name, folder, url, reason))


def _fetch(
    url: str,
    folder: Path,
    name: str,
    expected_sha: str,
    expected_size: int | None,
    *,
    retries: int,
    backoff: float,
    timeout: float,
    progress: bool,
) -> Path:
    """Download with retries (sleeping ``backoff * 2**k`` between attempts); return a
    temporary file whose SHA-256 is ``expected_sha``.

    Raises:
        ChecksumError: a complete file with another SHA-256 (not retried), or cut short.
        DataNotFoundError: no connection, server down, or the file is not there.
    """
    last: BaseException | None = None
    for attempt in range(max(1, int(retries) + 1)):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            tmp, actual = _fetch_once(url, folder, name, expected_size, timeout, progress)
        except (_Truncated, http.client.HTTPException, OSError, ValueError) as err:
            last = err  # OSError covers urllib's URLError and HTTPError
            if not _worth_retrying(err):
                break
            continue
        if actual != expected_sha:
            _unlink(tmp)
            raise ChecksumError(
                f"The download of {url} is corrupt: expected SHA-256 {expected_sha}, got "
                f"{actual}. Nothing was saved; run `gnnrec-course data download --dataset "
                f"{name}` again, or fetch the zip another way and put it in {folder}."
            )
        return tmp
    raise _give_up(last, url, folder, name, expected_sha)


# ---------------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------------


def _ensure_writable(folder: Path, name: str, url: str) -> None:
    """Create ``folder`` and prove a file can be made in it, before any byte is fetched."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".gnnrec-write-test-")
        probe.close()
    except OSError as err:
        raise DataNotFoundError(_unwritable_message(name, folder, url, err)) from err


def _install(tmp: Path, zip_path: Path, folder: Path, spec: DatasetSpec, url: str) -> Path:
    """Check a verified download, rename it to ``zip_path`` and extract it."""
    try:
        check_archive(tmp, folder, url, spec)
        os.replace(tmp, zip_path)
    except BaseException:
        _unlink(tmp)
        raise
    return extract(zip_path, folder, spec, url)


def download(
    name: str = DEFAULT_DATASET,
    root: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    sha256: str | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Fetch, verify and extract a dataset into ``root/name``; return that folder.

    Where the extracted files are already present nothing is fetched or written. Otherwise a
    verified ``root/name.zip`` is reused, or the zip is streamed from
    ``<base_url>/<name>.zip`` (``base_url`` defaults to ``$GNNREC_DATA_URL`` or GroupLens)
    into a temporary file in ``root``, with ``retries`` further attempts after failures
    (sleeping ``backoff * 2**k`` seconds), and moved to ``root/name.zip`` only once its
    SHA-256 matches (``sha256`` overrides the published one, for tests). Extraction refuses any
    entry that would leave ``root``.

    Raises:
        DataNotFoundError: no network / server down / folder not writable (one line, with the
            URL, the folder, GNNREC_DATA_DIR and the command to run).
        ChecksumError: a corrupt or truncated download (expected and actual SHA-256).
        UnsafeArchiveError: a zip entry with an absolute path or ``..``.
    """
    spec = DATASETS[check_dataset_name(name)]
    folder = resolve_root(root)
    if is_present(spec.name, folder):
        return folder / spec.name
    url = dataset_url(spec.name, base_url)
    expected_sha = (sha256 or spec.sha256).lower()
    zip_path = folder / f"{spec.name}.zip"
    if zip_path.is_file() and sha256_file(zip_path) == expected_sha:
        try:
            return extract(zip_path, folder, spec, str(zip_path))
        except OSError as err:
            raise DataNotFoundError(_unwritable_message(spec.name, folder, url, err)) from err
    _ensure_writable(folder, spec.name, url)
    tmp = _fetch(
        url,
        folder,
        spec.name,
        expected_sha,
        spec.size_bytes if sha256 is None else None,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        progress=progress,
    )
    return _install(tmp, zip_path, folder, spec, url)
