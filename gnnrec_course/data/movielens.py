"""MovieLens: download, verify, cache and parse into pandas; synthetic data in the same formats.

Three GroupLens datasets are supported (Harper & Konstan 2015):

=================  =======================  ==========================  ========
name               ratings file             movies file                 scale
=================  =======================  ==========================  ========
``ml-100k``        ``u.data`` (tab)         ``u.item`` (``|``, latin-1)  1–5
``ml-latest-small``  ``ratings.csv``        ``movies.csv`` (UTF-8)      0.5–5
``ml-1m``          ``ratings.dat`` (``::``)  ``movies.dat`` (latin-1)    1–5
=================  =======================  ==========================  ========

The rating scale is always read from the data, never assumed. Every loader returns

* ratings: ``user_id`` int64, ``movie_id`` int64, ``rating`` float32, ``timestamp`` int64
  (one row per rating, ``[R]`` rows, in file order);
* movies: ``movie_id`` int64, ``title`` str, ``genres`` str (``|``-joined names) and
  ``year`` Int64 (nullable; parsed from a trailing ``"(1995)"`` in the title).

Files live in :func:`data_dir` laid out as the zips extract (``<dir>/ml-100k/u.data``). Where
they are present they are used as they are and nothing is written, so the folder may be
read-only. :func:`download` fetches a zip from GroupLens with retries, checks its SHA-256,
and extracts it safely.

:func:`write_synthetic` writes small made-up datasets in each real format (for tests and for
learning without the real data); :func:`synthetic_ratings` and :func:`synthetic_dataset`
make them in memory. They have planted structure: user ``u`` is in group ``(u - 1) % G`` and
movie ``m`` in group ``(m - 1) % G``; users rate movies of their own group high, others low,
plus a per-user and per-movie bias and Gaussian noise.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import http.client
import io
import math
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from gnnrec_course.errors import (
    ChecksumError,
    DataNotFoundError,
    MalformedDataError,
    UnknownDatasetError,
    UnknownSplitError,
    UnsafeArchiveError,
)

__all__ = [
    "BASE_URL",
    "DATASETS",
    "DEFAULT_DATASET",
    "FOLDS",
    "GENRES_100K",
    "DatasetSpec",
    "MovieLens",
    "check_dataset_name",
    "data_dir",
    "dataset_path",
    "download",
    "is_present",
    "load_dataset",
    "load_fold",
    "load_movies",
    "load_ratings",
    "parse_year",
    "sha256_file",
    "synthetic_dataset",
    "synthetic_movies",
    "synthetic_ratings",
    "write_synthetic",
]

BASE_URL = "https://files.grouplens.org/datasets/movielens"
"""Where the zips are published; ``$GNNREC_DATA_URL`` or ``base_url=`` override it."""

RATING_COLUMNS = ("user_id", "movie_id", "rating", "timestamp")
MOVIE_COLUMNS = ("movie_id", "title", "genres", "year")
_RATING_DTYPES = {
    "user_id": "int64",
    "movie_id": "int64",
    "rating": "float64",
    "timestamp": "int64",
}

GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
"""The 19 genre flags at the end of each ``u.item`` line, in order (as ``u.genre`` lists them)."""

FOLDS = ("u1", "u2", "u3", "u4", "u5")
"""The official ml-100k 80/20 folds (``uN.base`` / ``uN.test``; disjoint test sets)."""
_EXTRA_FOLDS = ("ua", "ub")  # also shipped: 10 test ratings per user

_YEAR_RE = re.compile(r"\((\d{4})\)")


@dataclass(frozen=True)
class DatasetSpec:
    """What we know about one published MovieLens zip."""

    name: str
    url: str
    sha256: str
    size_bytes: int
    ratings_file: str
    movies_file: str
    redistributable: bool


def _spec(name: str, sha256: str, size: int, ratings: str, movies: str, redist: bool):
    return DatasetSpec(name, f"{BASE_URL}/{name}.zip", sha256, size, ratings, movies, redist)


DATASETS: dict[str, DatasetSpec] = {
    "ml-100k": _spec(
        "ml-100k",
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        4_924_029,
        "u.data",
        "u.item",
        False,
    ),
    "ml-latest-small": _spec(
        "ml-latest-small",
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        978_202,
        "ratings.csv",
        "movies.csv",
        True,
    ),
    "ml-1m": _spec(
        "ml-1m",
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        5_917_549,
        "ratings.dat",
        "movies.dat",
        False,
    ),
}

DEFAULT_DATASET = "ml-100k"


# ---------------------------------------------------------------------------------------------
# Names and places
# ---------------------------------------------------------------------------------------------


def check_dataset_name(name: str) -> str:
    """The canonical name of a dataset (case and surrounding spaces are forgiven).

    Raises:
        UnknownDatasetError: listing the valid names, with a "did you mean" where one is close.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key in DATASETS:
        return key
    valid = ", ".join(DATASETS)
    close = difflib.get_close_matches(str(key), list(DATASETS), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownDatasetError(f"Unknown dataset {name!r}.{hint} Valid datasets: {valid}.")


def data_dir() -> Path:
    """The folder that holds the datasets.

    ``$GNNREC_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/gnnrec-course``, else
    ``~/.cache/gnnrec-course``. Nothing is created here.
    """
    env = os.environ.get("GNNREC_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    cache = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return cache / "gnnrec-course"


def _root(root: str | os.PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else data_dir()


def dataset_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """``root/name``: the folder the dataset's zip extracts to (``root`` defaults to data_dir())."""
    return _root(root) / check_dataset_name(name)


def is_present(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether the dataset's ratings and movies files are already extracted under ``root``."""
    spec = DATASETS[check_dataset_name(name)]
    folder = dataset_path(spec.name, root)
    return (folder / spec.ratings_file).is_file() and (folder / spec.movies_file).is_file()


def _base_url(base_url: str | None) -> str:
    base = base_url or os.environ.get("GNNREC_DATA_URL", "").strip() or BASE_URL
    return base.rstrip("/")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _missing_message(name: str, root: Path, url: str) -> str:
    folder = root / name
    return (
        f"{name} is not in {folder}: run `gnnrec-course data download --dataset {name}` "
        f"(it downloads {url}), or set GNNREC_DATA_DIR to a folder that holds {name}/."
    )


def _offline_message(name: str, root: Path, url: str, reason: object) -> str:
    folder = root / name
    return (
        f"{name} is not in {folder} and could not be downloaded from {url} "
        f"({_one_line(reason)}): connect to the internet and run "
        f"`gnnrec-course data download --dataset {name}`, or set GNNREC_DATA_DIR to a folder "
        f"that holds {name}/."
    )


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class _Truncated(Exception):
    def __init__(self, received: int, expected: int, actual_sha: str):
        super().__init__(f"received {received:,} of {expected:,} bytes")
        self.received, self.expected, self.actual_sha = received, expected, actual_sha


def _unlink(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _fetch_once(
    url: str,
    folder: Path,
    name: str,
    expected_size: int | None,
    timeout: float,
    progress: bool,
) -> tuple[Path, str]:
    """Stream ``url`` to a temporary file in ``folder``; return (path, sha256).

    Raises _Truncated when fewer bytes arrive than announced; deletes the file on any error.
    """
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "gnnrec-course"})
    tmp: Path | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else expected_size
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".zip.part", dir=folder)
            tmp = Path(tmp_name)
            digest = hashlib.sha256()
            received = 0
            with (
                os.fdopen(fd, "wb") as out,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=f"{name}.zip",
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                while True:
                    try:
                        chunk = response.read(1 << 16)
                    except http.client.IncompleteRead as err:
                        chunk = err.partial
                        digest.update(chunk)
                        received += len(chunk)
                        raise _Truncated(received, total or received, digest.hexdigest()) from err
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received < total:
            raise _Truncated(received, total, digest.hexdigest())
        return tmp, digest.hexdigest()
    except BaseException:
        _unlink(tmp)
        raise


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
    """Download with retries; return a temporary file whose SHA-256 is ``expected_sha``."""
    attempts = max(1, int(retries) + 1)
    last: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            tmp, actual = _fetch_once(url, folder, name, expected_size, timeout, progress)
        except _Truncated as err:
            last = err
            continue
        except urllib.error.HTTPError as err:
            last = err
            if 400 <= err.code < 500 and err.code not in (408, 429):
                break  # the file is not there: retrying will not help
            continue
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            last = err
            continue
        if actual != expected_sha:
            _unlink(tmp)
            raise ChecksumError(
                f"The download of {url} is corrupt: expected SHA-256 {expected_sha}, got "
                f"{actual}. Nothing was saved; run `gnnrec-course data download --dataset "
                f"{name}` again, or fetch the zip another way and put it in {folder}."
            )
        return tmp
    if isinstance(last, _Truncated):
        raise ChecksumError(
            f"The download of {url} was cut short ({last}): expected SHA-256 {expected_sha}, "
            f"got {last.actual_sha}. Nothing was saved; check the connection and run "
            f"`gnnrec-course data download --dataset {name}` again."
        )
    reason = f"{type(last).__name__}: {last}" if last is not None else "no attempt made"
    raise DataNotFoundError(_offline_message(name, folder, url, reason))


def _unsafe_member(member: str) -> bool:
    """True for a zip entry name that could land outside the folder it is extracted to."""
    posix = member.replace("\\", "/")
    path = PurePosixPath(posix)
    return (
        posix.startswith("/")
        or bool(re.match(r"^[A-Za-z]:", posix))
        or any(part == ".." for part in path.parts)
        or "\x00" in posix
    )


def _check_archive(
    zip_path: Path, target: Path, url: str, spec: DatasetSpec
) -> list[zipfile.ZipInfo]:
    """The archive's entries, after checking that none would leave ``target`` and that it
    holds the dataset's ratings file (at its top or in a ``name/`` folder)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as err:
        raise MalformedDataError(f"{url} is not a valid zip archive ({err}).") from err
    base = target.resolve()
    for info in members:
        resolved = (base / info.filename).resolve()
        if _unsafe_member(info.filename) or not resolved.is_relative_to(base):
            raise UnsafeArchiveError(
                f"Refusing to extract {url}: entry {info.filename!r} would be written outside "
                f"{target}. Nothing was extracted; the archive is not a genuine MovieLens zip."
            )
    names = {info.filename.replace("\\", "/") for info in members}
    if not names & {spec.ratings_file, f"{spec.name}/{spec.ratings_file}"}:
        raise MalformedDataError(
            f"{url} holds no {spec.name}/{spec.ratings_file}: it is not the {spec.name} zip."
        )
    return members


def _extract(zip_path: Path, root: Path, spec: DatasetSpec, url: str) -> Path:
    """Extract a checked zip into ``root/name`` via a temporary folder (ratings file last)."""
    members = _check_archive(zip_path, root, url, spec)
    dest = root / spec.name
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", suffix=".extract", dir=root))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(staging, members)
        source = staging / spec.name if (staging / spec.name).is_dir() else staging
        if not (source / spec.ratings_file).is_file():
            raise MalformedDataError(
                f"{url} holds no {spec.name}/{spec.ratings_file}: it is not the {spec.name} zip."
            )
        if not dest.exists():
            os.replace(source, dest)
        else:  # a folder from an interrupted run: complete it, the ratings file last
            files = sorted(p for p in source.rglob("*") if p.is_file())
            files.sort(key=lambda p: p.name == spec.ratings_file)
            for file in files:
                target = dest / file.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


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
    folder = _root(root)
    if is_present(spec.name, folder):
        return folder / spec.name
    url = f"{_base_url(base_url)}/{spec.name}.zip"
    expected_sha = (sha256 or spec.sha256).lower()
    expected_size = spec.size_bytes if sha256 is None else None
    zip_path = folder / f"{spec.name}.zip"
    if zip_path.is_file() and sha256_file(zip_path) == expected_sha:
        try:
            return _extract(zip_path, folder, spec, str(zip_path))
        except OSError as err:
            raise DataNotFoundError(_unwritable_message(spec.name, folder, url, err)) from err
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".gnnrec-write-test-")
        probe.close()
    except OSError as err:
        raise DataNotFoundError(_unwritable_message(spec.name, folder, url, err)) from err
    tmp = _fetch(
        url,
        folder,
        spec.name,
        expected_sha,
        expected_size,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        progress=progress,
    )
    try:
        _check_archive(tmp, folder, url, spec)
        os.replace(tmp, zip_path)
    except BaseException:
        _unlink(tmp)
        raise
    return _extract(zip_path, folder, spec, url)


def _unwritable_message(name: str, root: Path, url: str, err: OSError) -> str:
    return (
        f"{name} is not in {root / name} and that folder cannot be written "
        f"({_one_line(err)}): set GNNREC_DATA_DIR to a writable folder and run "
        f"`gnnrec-course data download --dataset {name}` (it downloads {url})."
    )


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def parse_year(title: str) -> int | None:
    """The release year in a MovieLens title: the last ``(dddd)``, e.g. ``"Heat (1995)"`` -> 1995.

    A trailing note is allowed (ml-100k has ``"... (1995) (V)"``); a range such as
    ``"(2006-2007)"`` or no brackets at all gives None.

    >>> parse_year("Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)")
    1995
    >>> parse_year("unknown") is None
    True
    """
    found = _YEAR_RE.findall(title)
    return int(found[-1]) if found else None


def _malformed(path: Path, line: int, what: str) -> MalformedDataError:
    return MalformedDataError(
        f"{path}, line {line}: {what}. The file is damaged: delete the folder {path.parent} and "
        f"run `gnnrec-course data download --dataset {path.parent.name}` again."
    )


def _decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise _malformed(path, line, f"not valid {encoding} text ({err.reason})") from err


def _find_bad_rating_line(rows: Iterable[tuple[int, list[str]]]) -> tuple[int, str] | None:
    """The first (line, problem) among (1-based line, fields) rows, or None if all parse."""
    for line, fields in rows:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line (read_csv skips these too)
        if len(fields) != 4:
            return line, f"expected 4 fields (user, movie, rating, timestamp), found {len(fields)}"
        for column, text in zip(RATING_COLUMNS, fields, strict=True):
            try:
                value = float(text) if column == "rating" else int(text)
            except ValueError:
                kind = "a number" if column == "rating" else "an integer"
                return line, f"{column} {text.strip()!r} is not {kind}"
            if column == "rating" and not math.isfinite(value):
                return line, f"rating {text.strip()!r} is not a finite number"
    return None


def _split_lines(text: str, sep: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= first_line:
            yield number, line.split(sep)


def _read_ratings_file(path: Path, fmt: str) -> pd.DataFrame:
    """Parse one ratings file; fmt is "tab" (u.data, uN.base), "csv" or "colons" (ml-1m).

    Fast path: pandas' C parser with explicit dtypes. If it fails, a line-by-line scan finds
    the first bad line for the error message.
    """
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} is missing: run `gnnrec-course data download --dataset {path.parent.name}` "
            f"or set GNNREC_DATA_DIR to a folder that holds {path.parent.name}/."
        )
    skip = 0
    if fmt == "csv":
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline().strip()
        fields = [f.strip().strip('"') for f in header.split(",")]
        if fields != ["userId", "movieId", "rating", "timestamp"]:
            raise _malformed(
                path,
                1,
                f"expected the header userId,movieId,rating,timestamp, found {header[:60]!r}",
            )
        skip = 1
    source: object = path
    sep = {"tab": "\t", "csv": ",", "colons": "\t"}[fmt]
    if fmt == "colons":
        source = io.BytesIO(path.read_bytes().replace(b"::", b"\t"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                source,
                sep=sep,
                header=None,
                names=list(RATING_COLUMNS),
                dtype=_RATING_DTYPES,
                skiprows=skip,
                index_col=False,
                engine="c",
                encoding="latin-1",
            )
        problem = None if frame["rating"].notna().all() else "NaN"
        if problem is None and not np.isfinite(frame["rating"].to_numpy()).all():
            problem = "inf"
    except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning, OverflowError) as err:
        frame, problem = None, err
    if problem is not None:
        text = _decode(path, "utf-8" if fmt == "csv" else "latin-1")
        if fmt == "csv":
            lines = enumerate(text.splitlines(), start=1)
            rows: Iterable = ((n, next(csv.reader([s]), [""])) for n, s in lines if n > skip)
        else:
            rows = _split_lines(text, "::" if fmt == "colons" else "\t", skip + 1)
        bad = _find_bad_rating_line(rows)
        if bad is not None:
            raise _malformed(path, *bad)
        if not any(line.strip() for line in text.splitlines()[skip:]):
            raise _malformed(path, skip + 1, "the file holds no ratings")
        raise MalformedDataError(f"{path}: cannot be read as ratings ({_one_line(problem)}).")
    if frame is None or frame.empty:
        raise _malformed(path, skip + 1, "the file holds no ratings")
    frame["rating"] = frame["rating"].astype(np.float32)
    return frame


def _genre_names_100k(folder: Path, n_flags: int) -> list[str]:
    """Genre names for u.item's flags: from u.genre when it lists n_flags of them."""
    genre_file = folder / "u.genre"
    if genre_file.is_file():
        by_index: dict[int, str] = {}
        for line in _decode(genre_file, "latin-1").splitlines():
            if not line.strip():
                continue
            label, _, index = line.rpartition("|")
            if index.strip().isdigit():
                by_index[int(index)] = label
        if sorted(by_index) == list(range(n_flags)):
            return [by_index[i] for i in range(n_flags)]
    if n_flags == len(GENRES_100K):
        return list(GENRES_100K)
    return [f"genre_{i}" for i in range(n_flags)]


def _movies_frame(ids: list[int], titles: list[str], genres: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "movie_id": np.asarray(ids, dtype=np.int64),
            "title": pd.Series(titles, dtype=object).astype(str),
            "genres": pd.Series(genres, dtype=object).astype(str),
            "year": pd.array([parse_year(t) for t in titles], dtype="Int64"),
        }
    )


def _read_item_100k(path: Path) -> pd.DataFrame:
    """u.item: id|title|release date|video date|URL|19 genre flags, ISO-8859-1."""
    ids, titles, genres = [], [], []
    names: list[str] | None = None
    width = None
    for number, line in enumerate(_decode(path, "latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if width is None:
            width = len(fields)
            if width < 6:
                raise _malformed(
                    path, number, f"expected id|title|...|genre flags, found {width} fields"
                )
            names = _genre_names_100k(path.parent, width - 5)
        if len(fields) != width:
            raise _malformed(
                path, number, f"expected {width} '|'-separated fields, found {len(fields)}"
            )
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise _malformed(path, number, "genre flags must be 0 or 1")
        try:
            ids.append(int(fields[0]))
        except ValueError:
            raise _malformed(path, number, f"movie id {fields[0]!r} is not an integer") from None
        titles.append(fields[1].strip())
        genres.append("|".join(n for n, f in zip(names, flags, strict=True) if f == "1"))
    if not ids:
        raise _malformed(path, 1, "the file holds no movies")
    return _movies_frame(ids, titles, genres)


def _read_movies_csv(path: Path) -> pd.DataFrame:
    """ml-latest-small movies.csv: movieId,title,genres (UTF-8, quoted commas)."""
    ids, titles, genres = [], [], []
    lines = _decode(path, "utf-8").lstrip("\ufeff").splitlines()
    for number, line in enumerate(lines, start=1):
        try:  # line by line: a title never spans lines, so an unclosed quote is an error
            row = next(csv.reader([line], strict=True), [])
        except csv.Error as err:
            raise _malformed(path, number, f"not valid CSV ({err})") from None
        if number == 1:
            if row != ["movieId", "title", "genres"]:
                raise _malformed(path, 1, "expected the header movieId,title,genres")
            continue
        if not row:
            continue
        if len(row) != 3:
            raise _malformed(path, number, f"expected 3 fields, found {len(row)}")
        try:
            ids.append(int(row[0]))
        except ValueError:
            raise _malformed(path, number, f"movie id {row[0]!r} is not an integer") from None
        titles.append(row[1].strip())
        genres.append(row[2])
    return _movies_frame(ids, titles, genres)


def _read_movies_dat(path: Path) -> pd.DataFrame:
    """ml-1m movies.dat: MovieID::Title::Genres, ISO-8859-1."""
    ids, titles, genres = [], [], []
    for number, line in enumerate(_decode(path, "latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) < 3:
            raise _malformed(path, number, f"expected MovieID::Title::Genres, found {line[:60]!r}")
        try:
            ids.append(int(fields[0]))
        except ValueError:
            raise _malformed(path, number, f"movie id {fields[0]!r} is not an integer") from None
        titles.append("::".join(fields[1:-1]).strip())
        genres.append(fields[-1].strip())
    return _movies_frame(ids, titles, genres)


_RATINGS_FORMAT = {"ml-100k": "tab", "ml-latest-small": "csv", "ml-1m": "colons"}
_MOVIE_READERS = {
    "ml-100k": _read_item_100k,
    "ml-latest-small": _read_movies_csv,
    "ml-1m": _read_movies_dat,
}


def _ensure(name: str, root: str | os.PathLike | None, download_if_missing: bool) -> Path:
    spec = DATASETS[check_dataset_name(name)]
    folder = _root(root)
    if not is_present(spec.name, folder):
        if download_if_missing:
            return download(spec.name, folder)
        url = f"{_base_url(None)}/{spec.name}.zip"
        raise DataNotFoundError(_missing_message(spec.name, folder, url))
    return folder / spec.name


def load_ratings(
    name: str = DEFAULT_DATASET,
    root: str | os.PathLike | None = None,
    *,
    download_if_missing: bool = False,
) -> pd.DataFrame:
    """All ratings of a dataset: ``[R]`` rows of user_id, movie_id (int64), rating (float32),
    timestamp (int64), in file order.

    Raises:
        DataNotFoundError: the files are not there (and ``download_if_missing`` is False or the
            download failed).
        MalformedDataError: naming the file and the 1-based line that cannot be parsed.
    """
    name = check_dataset_name(name)
    folder = _ensure(name, root, download_if_missing)
    return _read_ratings_file(folder / DATASETS[name].ratings_file, _RATINGS_FORMAT[name])


def load_movies(name: str = DEFAULT_DATASET, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """All movies of a dataset: ``[M]`` rows of movie_id (int64), title, genres (``|``-joined
    genre names, e.g. ``"Animation|Children's|Comedy"``) and year (nullable Int64)."""
    name = check_dataset_name(name)
    folder = _ensure(name, root, False)
    return _MOVIE_READERS[name](folder / DATASETS[name].movies_file)


@dataclass
class MovieLens:
    """A loaded dataset.

    Attributes:
        name: ``"ml-100k"``, ``"ml-latest-small"``, ``"ml-1m"`` (or ``"synthetic"``).
        ratings: ``[R]`` rows: user_id, movie_id, rating (float32), timestamp.
        movies: ``[M']`` rows: movie_id, title, genres, year (may list unrated movies).
        rating_min, rating_max: the rating scale, read from the ratings.
        path: the folder the files were read from (None for in-memory synthetic data).
    """

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    rating_min: float
    rating_max: float
    path: Path | None = None

    @property
    def num_users(self) -> int:
        """Distinct users with at least one rating."""
        return int(self.ratings["user_id"].nunique())

    @property
    def num_movies(self) -> int:
        """Distinct movies with at least one rating (the movie nodes of the graph)."""
        return int(self.ratings["movie_id"].nunique())

    @property
    def num_ratings(self) -> int:
        return len(self.ratings)

    def __repr__(self) -> str:
        return (
            f"MovieLens({self.name!r}: {self.num_users} users, {self.num_movies} movies, "
            f"{self.num_ratings} ratings, scale {self.rating_min:g}–{self.rating_max:g})"
        )


def _make_dataset(name: str, ratings: pd.DataFrame, movies: pd.DataFrame, path) -> MovieLens:
    values = ratings["rating"].to_numpy()
    return MovieLens(
        name=name,
        ratings=ratings,
        movies=movies,
        rating_min=float(values.min()),
        rating_max=float(values.max()),
        path=path,
    )


def load_dataset(
    name: str = DEFAULT_DATASET,
    root: str | os.PathLike | None = None,
    *,
    download_if_missing: bool = False,
) -> MovieLens:
    """Ratings, movies and rating scale of a dataset (see :func:`load_ratings`)."""
    name = check_dataset_name(name)
    folder = _ensure(name, root, download_if_missing)
    ratings = _read_ratings_file(folder / DATASETS[name].ratings_file, _RATINGS_FORMAT[name])
    movies = _MOVIE_READERS[name](folder / DATASETS[name].movies_file)
    return _make_dataset(name, ratings, movies, folder)


def load_fold(
    fold: str, root: str | os.PathLike | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An official ml-100k fold ``"u1"``..``"u5"``: (``uN.base``, ``uN.test``) as ratings frames
    (80 % / 20 % of the ratings; the five test sets are disjoint). ``"ua"``/``"ub"`` also work.

    Raises:
        UnknownSplitError: for another name.
        DataNotFoundError: ml-100k is not under ``root``.
    """
    key = fold.strip().lower() if isinstance(fold, str) else fold
    if key not in FOLDS + _EXTRA_FOLDS:
        raise UnknownSplitError(f"Unknown ml-100k fold {fold!r}: choose one of {', '.join(FOLDS)}.")
    folder = _ensure("ml-100k", root, False)
    base = _read_ratings_file(folder / f"{key}.base", "tab")
    test = _read_ratings_file(folder / f"{key}.test", "tab")
    return base, test


# ---------------------------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------------------------

_SPECIAL_TITLES = (
    "Amélie (2001)",
    "Misérables, Les (1995)",
    "Good, the Bad and the Ugly, The (1966)",
    "Cinéma Paradiso (1988)",
    '"Great Performances" Cats (1998)',
    "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)",
    "Untitled Work in Progress",
    "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)",
    "Ça commence aujourd'hui (1999)",
    "Señorita Extraviada (2001)",
    "Jalla! Jalla! (2000)",
    "Fête des pères, La (1990)",
)
_PLAIN_GENRES = GENRES_100K[1:]  # every real genre but "unknown"


def _check_sizes(n_users: int, n_movies: int, n_groups: int, density: float) -> None:
    if n_users < 1 or n_movies < 1 or n_groups < 1:
        raise ValueError("n_users, n_movies and n_groups must be at least 1.")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}.")


def synthetic_ratings(
    n_users: int = 60,
    n_movies: int = 40,
    n_groups: int = 3,
    density: float = 0.3,
    seed: int = 0,
    noise: float = 0.3,
) -> pd.DataFrame:
    """Made-up ratings with planted structure, deterministic for a seed.

    User ``u`` (1..n_users) is in group ``(u - 1) % n_groups``, movie ``m`` (1..n_movies) in
    group ``(m - 1) % n_groups``. The rating of a pair is round(3 + 1.2 [same group] - 0.8
    [other group] + user bias + movie bias + noise * N(0, 1)), clipped to 1..5. Each pair is
    rated with probability ``density``; every user and every movie has at least one rating.

    Returns:
        ``[R]`` rows: user_id, movie_id (int64, from 1), rating (float32, integers 1..5),
        timestamp (int64), sorted by user then movie.
    """
    _check_sizes(n_users, n_movies, n_groups, density)
    rng = np.random.default_rng(seed)
    user_group = np.arange(n_users) % n_groups
    movie_group = np.arange(n_movies) % n_groups
    user_bias = rng.normal(0.0, 0.4, n_users)
    movie_bias = rng.normal(0.0, 0.4, n_movies)
    mask = rng.random((n_users, n_movies)) < density
    for user in np.flatnonzero(~mask.any(axis=1)):
        mask[user, rng.integers(n_movies)] = True
    for movie in np.flatnonzero(~mask.any(axis=0)):
        mask[rng.integers(n_users), movie] = True
    same = user_group[:, None] == movie_group[None, :]
    score = (
        3.0
        + np.where(same, 1.2, -0.8)
        + user_bias[:, None]
        + movie_bias[None, :]
        + noise * rng.normal(size=(n_users, n_movies))
    )
    rating = np.clip(np.rint(score), 1, 5)
    users, movies = np.nonzero(mask)
    timestamps = 874_724_710 + rng.integers(0, 20_000_000, size=len(users))
    return pd.DataFrame(
        {
            "user_id": (users + 1).astype(np.int64),
            "movie_id": (movies + 1).astype(np.int64),
            "rating": rating[users, movies].astype(np.float32),
            "timestamp": timestamps.astype(np.int64),
        }
    )


def synthetic_movies(n_movies: int = 40, n_groups: int = 3, seed: int = 0) -> pd.DataFrame:
    """Made-up movies: ``[n_movies]`` rows of movie_id, title, genres, year.

    The first titles are awkward on purpose (accents, commas, quotes, a colon, two pairs of
    brackets, no year); all are ISO-8859-1 encodable. Movie ``m``'s first genre is set by its
    group ``(m - 1) % n_groups``; some have a second genre. Genres are in u.genre order.
    """
    rng = np.random.default_rng([seed, 7])
    titles, genres = [], []
    for index in range(n_movies):
        if index < len(_SPECIAL_TITLES):
            title = _SPECIAL_TITLES[index]
        else:
            title = f"Synthetic Movie {index + 1} ({1950 + (index * 7) % 50})"
        titles.append(title)
        chosen = {_PLAIN_GENRES[(index % n_groups) * 5 % len(_PLAIN_GENRES)]}
        if rng.random() < 0.5:
            chosen.add(_PLAIN_GENRES[int(rng.integers(len(_PLAIN_GENRES)))])
        genres.append("|".join(g for g in GENRES_100K if g in chosen))
    return _movies_frame(list(range(1, n_movies + 1)), titles, genres)


def synthetic_dataset(
    n_users: int = 60,
    n_movies: int = 40,
    n_groups: int = 3,
    density: float = 0.3,
    seed: int = 0,
    noise: float = 0.3,
) -> MovieLens:
    """A :class:`MovieLens` named ``"synthetic"`` held in memory (``path`` None); see
    :func:`synthetic_ratings` for the planted structure."""
    ratings = synthetic_ratings(n_users, n_movies, n_groups, density, seed, noise)
    movies = synthetic_movies(n_movies, n_groups, seed)
    return _make_dataset("synthetic", ratings, movies, None)


def _write_lines(path: Path, lines: Iterable[str], encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")


def _rating_lines(frame: pd.DataFrame, sep: str, fmt: str = "{:g}") -> Iterator[str]:
    for user, movie, rating, stamp in frame.itertuples(index=False):
        yield f"{user}{sep}{movie}{sep}{fmt.format(rating)}{sep}{stamp}"


def _write_100k(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame, rng) -> None:
    order = rng.permutation(len(ratings))  # u.data is in no particular order
    _write_lines(folder / "u.data", _rating_lines(ratings.iloc[order], "\t"), "latin-1")
    items = []
    for movie_id, title, genres, year in movies.itertuples(index=False):
        date = f"01-Jan-{year}" if not pd.isna(year) else ""
        url = "http://us.imdb.com/M/title-exact?" + urllib.parse.quote(title, encoding="latin-1")
        chosen = set(genres.split("|"))
        flags = "|".join("1" if g in chosen else "0" for g in GENRES_100K)
        items.append(f"{movie_id}|{title}|{date}||{url}|{flags}")
    _write_lines(folder / "u.item", items, "latin-1")
    genre_lines = [f"{g}|{i}" for i, g in enumerate(GENRES_100K)] + [""]
    _write_lines(folder / "u.genre", genre_lines, "latin-1")
    n_users, n_movies = ratings["user_id"].nunique(), len(movies)
    _write_lines(
        folder / "u.info",
        [f"{n_users} users", f"{n_movies} items", f"{len(ratings)} ratings"],
        "latin-1",
    )
    # Five folds like mku.sh: disjoint test sets of ~20 %, base = the rest, sorted by user, item.
    parts = np.array_split(rng.permutation(len(ratings)), len(FOLDS))
    for fold, test_index in zip(FOLDS, parts, strict=True):
        in_test = np.zeros(len(ratings), dtype=bool)
        in_test[test_index] = True
        for suffix, part in (("base", ratings[~in_test]), ("test", ratings[in_test])):
            part = part.sort_values(["user_id", "movie_id"], kind="stable")
            _write_lines(folder / f"{fold}.{suffix}", _rating_lines(part, "\t"), "latin-1")


def _write_latest_small(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame, rng) -> None:
    ratings = ratings.copy()
    half = rng.random(len(ratings)) < 0.3  # half stars: 0.5..5
    ratings["rating"] = (ratings["rating"] - 0.5 * half).astype(np.float32)
    lines = ["userId,movieId,rating,timestamp", *_rating_lines(ratings, ",", "{:.1f}")]
    _write_lines(folder / "ratings.csv", lines, "utf-8")
    with open(folder / "movies.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        for movie_id, title, genres, _ in movies.itertuples(index=False):
            writer.writerow([movie_id, title, genres])


def _write_1m(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame, rng) -> None:
    _write_lines(folder / "ratings.dat", _rating_lines(ratings, "::"), "latin-1")
    lines = [f"{m}::{t}::{g}" for m, t, g, _ in movies.itertuples(index=False)]
    _write_lines(folder / "movies.dat", lines, "latin-1")


_WRITERS = {"ml-100k": _write_100k, "ml-latest-small": _write_latest_small, "ml-1m": _write_1m}


def write_synthetic(
    root: str | os.PathLike,
    name: str = DEFAULT_DATASET,
    *,
    n_users: int = 60,
    n_movies: int = 40,
    n_groups: int = 3,
    density: float = 0.3,
    seed: int = 0,
) -> Path:
    """Write a synthetic dataset in ``name``'s real file format under ``root/name``.

    Ratings are :func:`synthetic_ratings` (for ml-latest-small, ~30 % of them lowered by half
    a star, so the scale is 0.5–5), movies :func:`synthetic_movies`. ml-100k gets u.data,
    u.item (ISO-8859-1), u.genre, u.info and the folds u1..u5 .base/.test; ml-latest-small
    ratings.csv and movies.csv (UTF-8, quoted commas); ml-1m ratings.dat and movies.dat
    (``::``, ISO-8859-1). Deterministic for a seed. Returns the folder.
    """
    name = check_dataset_name(name)
    folder = Path(root).expanduser() / name
    folder.mkdir(parents=True, exist_ok=True)
    ratings = synthetic_ratings(n_users, n_movies, n_groups, density, seed)
    movies = synthetic_movies(n_movies, n_groups, seed)
    _WRITERS[name](folder, ratings, movies, np.random.default_rng([seed, 1]))
    return folder
