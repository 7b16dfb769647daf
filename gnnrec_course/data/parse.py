"""Parsers for the three MovieLens file formats, into pandas frames of fixed columns and dtypes.

* ratings: ``user_id`` int64, ``movie_id`` int64, ``rating`` float32, ``timestamp`` int64
  (one row per rating, ``[R]`` rows, in file order);
* movies: ``movie_id`` int64, ``title`` str, ``genres`` str (``|``-joined names) and
  ``year`` Int64 (nullable; parsed from a trailing ``"(1995)"`` in the title).

Ratings are read with pandas' C parser; only when that fails (or a rating is off the
dataset's documented scale) is the file scanned line by line, to name the first bad line in a
one-line :class:`~gnnrec_course.errors.MalformedDataError`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gnnrec_course.data.registry import GENRES_100K, RATING_COLUMNS, DatasetSpec, RatingScale
from gnnrec_course.errors import DataNotFoundError, MalformedDataError, one_line

__all__ = ["MOVIE_READERS", "movies_frame", "parse_year", "read_movies_file", "read_ratings_file"]

_RATING_DTYPES = {
    "user_id": "int64",
    "movie_id": "int64",
    "rating": "float64",
    "timestamp": "int64",
}
_CSV_HEADER = ["userId", "movieId", "rating", "timestamp"]
_YEAR_RE = re.compile(r"\((\d{4})\)")


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


# ---------------------------------------------------------------------------------------------
# ratings
# ---------------------------------------------------------------------------------------------


def _on_scale(values: np.ndarray, scale: RatingScale) -> np.ndarray:
    """``[R]`` bool: which ratings are values of the scale (in range, whole steps)."""
    steps = (values - scale.low) / scale.step
    return (values >= scale.low) & (values <= scale.high) & (np.abs(steps - np.rint(steps)) < 1e-6)


def _field_problem(column: str, text: str, scale: RatingScale) -> str | None:
    """What is wrong with one field of a ratings line, or None."""
    try:
        value = float(text) if column == "rating" else int(text)
    except ValueError:
        kind = "a number" if column == "rating" else "an integer"
        return f"{column} {text.strip()!r} is not {kind}"
    if column != "rating":
        return None
    if not math.isfinite(value):
        return f"rating {text.strip()!r} is not a finite number"
    if not scale.allows(value):
        return f"rating {text.strip()!r} is outside the dataset's scale ({scale})"
    return None


def _find_bad_rating_line(
    rows: Iterable[tuple[int, list[str]]], scale: RatingScale
) -> tuple[int, str] | None:
    """The first (line, problem) among (1-based line, fields) rows, or None if all parse."""
    for line, fields in rows:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line (read_csv skips these too)
        if len(fields) != 4:
            return line, f"expected 4 fields (user, movie, rating, timestamp), found {len(fields)}"
        for column, text in zip(RATING_COLUMNS, fields, strict=True):
            problem = _field_problem(column, text, scale)
            if problem is not None:
                return line, problem
    return None


def _split_lines(text: str, sep: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= first_line:
            yield number, line.split(sep)


def _header_lines(path: Path, fmt: str) -> int:
    """How many header lines precede the ratings (1 for a csv whose header is right)."""
    if fmt != "csv":
        return 0
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().strip()
    if [f.strip().strip('"') for f in header.split(",")] != _CSV_HEADER:
        expected = ",".join(_CSV_HEADER)
        raise _malformed(path, 1, f"expected the header {expected}, found {header[:60]!r}")
    return 1


def _parse_fast(path: Path, fmt: str, skip: int) -> pd.DataFrame:
    """pandas' C parser with explicit dtypes; raises on any line it cannot read."""
    source: object = path
    if fmt == "colons":  # the C parser takes one-character separators only
        source = io.BytesIO(path.read_bytes().replace(b"::", b"\t"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(
            source,
            sep="," if fmt == "csv" else "\t",
            header=None,
            names=list(RATING_COLUMNS),
            dtype=_RATING_DTYPES,
            skiprows=skip,
            index_col=False,
            engine="c",
            encoding="latin-1",
        )


def _raise_first_bad_line(path: Path, fmt: str, skip: int, scale: RatingScale, problem) -> None:
    """Scan the file line by line and raise for the first line that is wrong."""
    text = _decode(path, "utf-8" if fmt == "csv" else "latin-1")
    if fmt == "csv":
        lines = enumerate(text.splitlines(), start=1)
        rows: Iterable = ((n, next(csv.reader([s]), [""])) for n, s in lines if n > skip)
    else:
        rows = _split_lines(text, "::" if fmt == "colons" else "\t", skip + 1)
    bad = _find_bad_rating_line(rows, scale)
    if bad is not None:
        raise _malformed(path, *bad)
    if not any(line.strip() for line in text.splitlines()[skip:]):
        raise _malformed(path, skip + 1, "the file holds no ratings")
    raise MalformedDataError(f"{path}: cannot be read as ratings ({one_line(problem)}).")


def read_ratings_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Parse one ratings file of ``spec``'s format (u.data or uN.base/test, ratings.csv,
    ratings.dat): ``[R]`` rows of user_id, movie_id, rating (float32), timestamp.

    Raises:
        DataNotFoundError: the file is not there.
        MalformedDataError: naming the file and the first bad line, including a rating off
            ``spec.rating_scale`` (e.g. 99 in u.data).
    """
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} is missing: run `gnnrec-course data download --dataset {path.parent.name}` "
            f"or set GNNREC_DATA_DIR to a folder that holds {path.parent.name}/."
        )
    fmt, scale = spec.ratings_format, spec.rating_scale
    skip = _header_lines(path, fmt)
    try:
        frame = _parse_fast(path, fmt, skip)
        values = frame["rating"].to_numpy()
        problem = None if _on_scale(values, scale).all() else f"a rating off the scale {scale}"
    except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning, OverflowError) as err:
        frame, problem = None, err
    if problem is not None:
        _raise_first_bad_line(path, fmt, skip, scale, problem)
    if frame is None or frame.empty:
        raise _malformed(path, skip + 1, "the file holds no ratings")
    frame["rating"] = frame["rating"].astype(np.float32)
    return frame


# ---------------------------------------------------------------------------------------------
# movies
# ---------------------------------------------------------------------------------------------


def movies_frame(ids: list[int], titles: list[str], genres: list[str]) -> pd.DataFrame:
    """The movies frame: ``[M]`` rows of movie_id, title, genres and year (from the title)."""
    return pd.DataFrame(
        {
            "movie_id": np.asarray(ids, dtype=np.int64),
            "title": pd.Series(titles, dtype=object).astype(str),
            "genres": pd.Series(genres, dtype=object).astype(str),
            "year": pd.array([parse_year(t) for t in titles], dtype="Int64"),
        }
    )


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


def _movie_id(path: Path, number: int, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _malformed(path, number, f"movie id {text!r} is not an integer") from None


def _read_item_100k(path: Path) -> pd.DataFrame:
    """u.item: id|title|release date|video date|URL|19 genre flags, ISO-8859-1."""
    ids, titles, genres = [], [], []
    names: list[str] = []
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
        ids.append(_movie_id(path, number, fields[0]))
        titles.append(fields[1].strip())
        genres.append("|".join(n for n, f in zip(names, flags, strict=True) if f == "1"))
    if not ids:
        raise _malformed(path, 1, "the file holds no movies")
    return movies_frame(ids, titles, genres)


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
        ids.append(_movie_id(path, number, row[0]))
        titles.append(row[1].strip())
        genres.append(row[2])
    return movies_frame(ids, titles, genres)


def _read_movies_dat(path: Path) -> pd.DataFrame:
    """ml-1m movies.dat: MovieID::Title::Genres, ISO-8859-1."""
    ids, titles, genres = [], [], []
    for number, line in enumerate(_decode(path, "latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) < 3:
            raise _malformed(path, number, f"expected MovieID::Title::Genres, found {line[:60]!r}")
        ids.append(_movie_id(path, number, fields[0]))
        titles.append("::".join(fields[1:-1]).strip())
        genres.append(fields[-1].strip())
    return movies_frame(ids, titles, genres)


MOVIE_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "ml-100k": _read_item_100k,
    "ml-latest-small": _read_movies_csv,
    "ml-1m": _read_movies_dat,
}
"""The movies-file parser of each dataset."""


def read_movies_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Parse ``spec``'s movies file at ``path`` (see :func:`movies_frame` for the columns)."""
    return MOVIE_READERS[spec.name](path)
