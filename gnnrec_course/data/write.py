"""Write synthetic data in each MovieLens dataset's real file format (:func:`write_synthetic`).

* ml-100k: ``u.data`` (tab, in no particular order), ``u.item`` (``|``, ISO-8859-1),
  ``u.genre``, ``u.info`` and the folds ``u1``..``u5`` ``.base``/``.test`` (disjoint test
  sets of ~20 %, sorted by user then movie, as GroupLens's ``mku.sh`` makes them);
* ml-latest-small: ``ratings.csv`` (half stars) and ``movies.csv`` (UTF-8, quoted commas);
* ml-1m: ``ratings.dat`` and ``movies.dat`` (``::``, ISO-8859-1).

Ratings files are formatted by numpy a block of rows at a time (digits computed column by
column, no Python loop per line): ml-25m's size (25 M ratings) is made and written in under a
minute as ml-1m or ml-latest-small files, in about two as ml-100k (whose five folds repeat
every rating five times), with a peak of about 2.2 GB.
Each folder also gets ``SYNTHETIC.txt``; a folder that holds the dataset without that file is
real data and is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

from gnnrec_course.data.registry import (
    DATASETS,
    DEFAULT_DATASET,
    FOLDS,
    GENRES_100K,
    check_dataset_name,
)
from gnnrec_course.data.synthetic import synthetic_movies, synthetic_ratings
from gnnrec_course.errors import SyntheticDataError

__all__ = ["MARKER", "write_synthetic"]

MARKER = "SYNTHETIC.txt"
"""The file that marks a folder as written by :func:`write_synthetic`."""

_BLOCK_ROWS = 1 << 20  # rows formatted at a time: ~30 MB of text
_SEPARATORS = {"tab": "\t", "csv": ",", "colons": "::"}

# A formatted block is ([n, width] uint8 ASCII, [n, width] bool: which bytes are text).
Block = tuple[np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------------------------
# vectorised text
# ---------------------------------------------------------------------------------------------


def _digits(values: np.ndarray) -> Block:
    """``[n]`` non-negative integers as right-aligned decimal digits."""
    values = np.asarray(values, dtype=np.int64)
    width = len(str(int(values.max()))) if len(values) else 1
    text = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for column in range(width - 1, -1, -1):
        text[:, column] = 48 + rest % 10
        rest //= 10
    n_digits = np.ones(len(values), dtype=np.int64)
    for k in range(1, width):
        n_digits += values >= 10**k
    return text, np.arange(width) >= (width - n_digits)[:, None]


def _labels(codes: np.ndarray, labels: list[str]) -> Block:
    """``[n]`` codes 0..K-1 as the left-aligned strings ``labels[code]`` (ASCII)."""
    width = max(len(label) for label in labels)
    table = np.zeros((len(labels), width), dtype=np.uint8)
    for row, label in enumerate(labels):
        table[row, : len(label)] = np.frombuffer(label.encode("ascii"), dtype=np.uint8)
    lengths = np.array([len(label) for label in labels])
    return table[codes], np.arange(width) < lengths[codes][:, None]


def _constant(text: str, n: int) -> Block:
    row = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.broadcast_to(row, (n, len(row))), np.ones((n, len(row)), dtype=bool)


def _format_ratings(frame: pd.DataFrame, sep: str, decimals: bool) -> Block:
    """``[n]`` rating rows as ``user<sep>movie<sep>rating<sep>timestamp\\n`` lines.

    Ratings are half stars: ``"4"``/``"3.5"``, or ``"4.0"``/``"3.5"`` with ``decimals``.
    """
    n = len(frame)
    halves = [k / 2 for k in range(11)]
    labels = [f"{r:.1f}" if decimals else f"{r:g}" for r in halves]
    codes = np.rint(frame["rating"].to_numpy() * 2).astype(np.int64)
    fields = [
        _digits(frame["user_id"].to_numpy()),
        _constant(sep, n),
        _digits(frame["movie_id"].to_numpy()),
        _constant(sep, n),
        _labels(codes, labels),
        _constant(sep, n),
        _digits(frame["timestamp"].to_numpy()),
        _constant("\n", n),
    ]
    return np.hstack([f[0] for f in fields]), np.hstack([f[1] for f in fields])


def _text(block: Block, rows: np.ndarray | None = None) -> bytes:
    """The bytes of a formatted block (only the rows where ``rows`` is True)."""
    text, keep = block
    if rows is not None:
        text, keep = text[rows], keep[rows]
    return text[keep].tobytes()


def _write_ratings(path: Path, frame: pd.DataFrame, fmt: str, header: str = "") -> None:
    """Write ``frame``'s ratings to ``path`` in format ``fmt``, a block of rows at a time."""
    with open(path, "wb") as handle:
        handle.write(header.encode("ascii"))
        for start in range(0, len(frame), _BLOCK_ROWS):
            part = frame.iloc[start : start + _BLOCK_ROWS]
            handle.write(_text(_format_ratings(part, _SEPARATORS[fmt], fmt == "csv")))


def _write_lines(path: Path, lines: list[str], encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="\n") as handle:
        handle.write("".join(line + "\n" for line in lines))


# ---------------------------------------------------------------------------------------------
# the three formats
# ---------------------------------------------------------------------------------------------


def _write_folds(folder: Path, ratings: pd.DataFrame, rng: np.random.Generator) -> None:
    """u1..u5 .base/.test: five disjoint test sets of ~20 %, each base the rest; the order of
    ``ratings`` (by user, then movie) is kept. Each block of rows is formatted once."""
    fold_of = np.empty(len(ratings), dtype=np.int8)
    for fold, part in enumerate(np.array_split(rng.permutation(len(ratings)), len(FOLDS))):
        fold_of[part] = fold
    with contextlib.ExitStack() as stack:
        files = {
            (fold, kind): stack.enter_context(open(folder / f"{name}.{kind}", "wb"))
            for fold, name in enumerate(FOLDS)
            for kind in ("base", "test")
        }
        for start in range(0, len(ratings), _BLOCK_ROWS):
            block = _format_ratings(ratings.iloc[start : start + _BLOCK_ROWS], "\t", False)
            folds = fold_of[start : start + _BLOCK_ROWS]
            for fold in range(len(FOLDS)):
                files[fold, "test"].write(_text(block, folds == fold))
                files[fold, "base"].write(_text(block, folds != fold))


def _item_line(movie_id: int, title: str, genres: str, year) -> str:
    date = f"01-Jan-{year}" if not pd.isna(year) else ""
    url = "http://us.imdb.com/M/title-exact?" + urllib.parse.quote(title, encoding="latin-1")
    chosen = set(genres.split("|"))
    flags = "|".join("1" if g in chosen else "0" for g in GENRES_100K)
    return f"{movie_id}|{title}|{date}||{url}|{flags}"


def _write_100k(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame, rng) -> None:
    shuffled = ratings.iloc[rng.permutation(len(ratings))]  # u.data is in no particular order
    _write_ratings(folder / "u.data", shuffled, "tab")
    del shuffled
    items = [_item_line(*row) for row in movies.itertuples(index=False)]
    _write_lines(folder / "u.item", items, "latin-1")
    _write_lines(
        folder / "u.genre", [f"{g}|{i}" for i, g in enumerate(GENRES_100K)] + [""], "latin-1"
    )
    info = [
        f"{ratings['user_id'].nunique()} users",
        f"{len(movies)} items",
        f"{len(ratings)} ratings",
    ]
    _write_lines(folder / "u.info", info, "latin-1")
    _write_folds(folder, ratings, rng)


def _write_latest_small(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame, rng) -> None:
    half = rng.random(len(ratings)) < 0.3  # ~30 % lowered by half a star: scale 0.5..5
    ratings = ratings.assign(rating=(ratings["rating"] - 0.5 * half).astype(np.float32))
    _write_ratings(folder / "ratings.csv", ratings, "csv", "userId,movieId,rating,timestamp\n")
    movies[["movie_id", "title", "genres"]].to_csv(
        folder / "movies.csv",
        index=False,
        header=["movieId", "title", "genres"],
        encoding="utf-8",
        lineterminator="\n",
    )


def _write_1m(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame, rng) -> None:
    _write_ratings(folder / "ratings.dat", ratings, "colons")
    lines = [f"{m}::{t}::{g}" for m, t, g, _ in movies.itertuples(index=False)]
    _write_lines(folder / "movies.dat", lines, "latin-1")


_WRITERS = {"ml-100k": _write_100k, "ml-latest-small": _write_latest_small, "ml-1m": _write_1m}


def _claim(folder: Path, name: str) -> None:
    """Refuse a folder that holds real data (the dataset's ratings file and no marker)."""
    if (folder / DATASETS[name].ratings_file).exists() and not (folder / MARKER).exists():
        raise SyntheticDataError(
            f"{folder} already holds {name} that was not written by write_synthetic; it is "
            "left as it is: choose another folder (--root DIR) for synthetic data."
        )
    folder.mkdir(parents=True, exist_ok=True)


def write_synthetic(
    root: str | os.PathLike,
    name: str = DEFAULT_DATASET,
    *,
    n_users: int = 60,
    n_movies: int = 40,
    n_groups: int = 3,
    density: float = 0.3,
    seed: int = 0,
    n_ratings: int | None = None,
) -> Path:
    """Write a synthetic dataset in ``name``'s real file format under ``root/name``.

    Ratings are :func:`~gnnrec_course.data.synthetic.synthetic_ratings` (``n_ratings`` of
    them, or about ``density`` of all pairs; for ml-latest-small ~30 % are lowered by half a
    star, so the scale is 0.5–5), movies
    :func:`~gnnrec_course.data.synthetic.synthetic_movies`. Deterministic for a seed. Returns
    the folder.

    Raises:
        SyntheticDataError: sizes that cannot be made, or ``root/name`` holds real data.
    """
    name = check_dataset_name(name)
    folder = Path(root).expanduser() / name
    ratings = synthetic_ratings(n_users, n_movies, n_groups, density, seed, n_ratings=n_ratings)
    movies = synthetic_movies(n_movies, n_groups, seed)
    _claim(folder, name)
    (folder / MARKER).write_text(  # first, so that a folder cut short is still marked
        f"Synthetic data in the {name} format, not MovieLens: written by gnnrec-course "
        f"(write_synthetic) with {n_users} users, {n_movies} movies, {len(ratings)} ratings, "
        f"{n_groups} groups, seed {seed}.\n",
        encoding="utf-8",
    )
    _WRITERS[name](folder, ratings, movies, np.random.default_rng([seed, 1]))
    return folder
