"""A loaded MovieLens dataset (:class:`MovieLens`) and the loaders that read one from disk.

Where the files are present they are read as they are and nothing is written, so the data
folder may be read-only; ``download_if_missing=True`` fetches a missing dataset first
(:func:`gnnrec_course.data.fetch.download`). The rating scale a :class:`MovieLens` reports is
read from the data; the parsers have already checked it against the dataset's documented one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gnnrec_course.data.fetch import download
from gnnrec_course.data.parse import read_movies_file, read_ratings_file
from gnnrec_course.data.registry import (
    DATASETS,
    DEFAULT_DATASET,
    EXTRA_FOLDS,
    FOLD_DATASET,
    FOLDS,
    check_dataset_name,
    is_present,
    missing_message,
    resolve_root,
)
from gnnrec_course.errors import DataNotFoundError, UnknownSplitError

__all__ = ["MovieLens", "load_dataset", "load_fold", "load_movies", "load_ratings", "make_dataset"]


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


def make_dataset(
    name: str, ratings: pd.DataFrame, movies: pd.DataFrame, path: Path | None
) -> MovieLens:
    """A :class:`MovieLens` whose scale is the smallest and largest rating in ``ratings``."""
    values = ratings["rating"].to_numpy()
    return MovieLens(
        name=name,
        ratings=ratings,
        movies=movies,
        rating_min=float(values.min()),
        rating_max=float(values.max()),
        path=path,
    )


def _ensure(name: str, root: str | os.PathLike | None, download_if_missing: bool) -> Path:
    """The dataset's folder, downloading it first if asked; raise if it is not there."""
    spec = DATASETS[check_dataset_name(name)]
    folder = resolve_root(root)
    if not is_present(spec.name, folder):
        if download_if_missing:
            return download(spec.name, folder)
        raise DataNotFoundError(missing_message(spec.name, folder))
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
        MalformedDataError: naming the file and the 1-based line that cannot be parsed, or
            whose rating is off the dataset's documented scale.
    """
    spec = DATASETS[check_dataset_name(name)]
    folder = _ensure(spec.name, root, download_if_missing)
    return read_ratings_file(folder / spec.ratings_file, spec)


def load_movies(name: str = DEFAULT_DATASET, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """All movies of a dataset: ``[M]`` rows of movie_id (int64), title, genres (``|``-joined
    genre names, e.g. ``"Animation|Children's|Comedy"``) and year (nullable Int64)."""
    spec = DATASETS[check_dataset_name(name)]
    folder = _ensure(spec.name, root, False)
    return read_movies_file(folder / spec.movies_file, spec)


def load_dataset(
    name: str = DEFAULT_DATASET,
    root: str | os.PathLike | None = None,
    *,
    download_if_missing: bool = False,
) -> MovieLens:
    """Ratings, movies and rating scale of a dataset (see :func:`load_ratings`)."""
    spec = DATASETS[check_dataset_name(name)]
    folder = _ensure(spec.name, root, download_if_missing)
    ratings = read_ratings_file(folder / spec.ratings_file, spec)
    movies = read_movies_file(folder / spec.movies_file, spec)
    return make_dataset(spec.name, ratings, movies, folder)


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
    if key not in FOLDS + EXTRA_FOLDS:
        raise UnknownSplitError(f"Unknown ml-100k fold {fold!r}: choose one of {', '.join(FOLDS)}.")
    spec = DATASETS[FOLD_DATASET]
    folder = _ensure(spec.name, root, False)
    base = read_ratings_file(folder / f"{key}.base", spec)
    test = read_ratings_file(folder / f"{key}.test", spec)
    return base, test
