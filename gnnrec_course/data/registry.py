"""The supported MovieLens datasets, their file layout and rating scale, and where they live.

Three GroupLens datasets are supported (Harper & Konstan 2015):

===================  ==========================  ============================  ===============
name                 ratings file                movies file                   scale
===================  ==========================  ============================  ===============
``ml-100k``          ``u.data`` (tab)            ``u.item`` (``|``, latin-1)    1–5 whole stars
``ml-latest-small``  ``ratings.csv``             ``movies.csv`` (UTF-8)         0.5–5 half stars
``ml-1m``            ``ratings.dat`` (``::``)    ``movies.dat`` (latin-1)       1–5 whole stars
===================  ==========================  ============================  ===============

Files live in :func:`data_dir` laid out as the zips extract (``<dir>/ml-100k/u.data``).
Nothing in this module writes anything.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from gnnrec_course.errors import UnknownDatasetError

BASE_URL = "https://files.grouplens.org/datasets/movielens"
"""Where the zips are published; ``$GNNREC_DATA_URL`` or ``base_url=`` override it."""

RATING_COLUMNS = ("user_id", "movie_id", "rating", "timestamp")
MOVIE_COLUMNS = ("movie_id", "title", "genres", "year")

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
EXTRA_FOLDS = ("ua", "ub")
"""Also shipped with ml-100k: 10 test ratings per user (``ua.test``, ``ub.test``)."""
FOLD_DATASET = "ml-100k"
"""The only dataset that ships official folds."""


@dataclass(frozen=True)
class RatingScale:
    """The documented rating scale of a dataset: ``low``..``high`` in steps of ``step``."""

    low: float
    high: float
    step: float

    def allows(self, value: float) -> bool:
        """Whether ``value`` is one of the scale's ratings (e.g. 3.5 on a half-star scale)."""
        steps = (value - self.low) / self.step
        return self.low <= value <= self.high and abs(steps - round(steps)) < 1e-6

    def __str__(self) -> str:
        unit = "whole stars" if self.step == 1 else "half stars"
        return f"{self.low:g}–{self.high:g} in {unit}"


WHOLE_STARS = RatingScale(1.0, 5.0, 1.0)
HALF_STARS = RatingScale(0.5, 5.0, 0.5)


@dataclass(frozen=True)
class DatasetSpec:
    """What we know about one published MovieLens zip.

    ``ratings_format`` is ``"tab"`` (u.data), ``"csv"`` (ratings.csv with a header) or
    ``"colons"`` (ratings.dat, ``::``-separated).
    """

    name: str
    url: str
    sha256: str
    size_bytes: int
    ratings_file: str
    movies_file: str
    redistributable: bool
    ratings_format: str = "tab"
    rating_scale: RatingScale = WHOLE_STARS


DATASETS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        name="ml-100k",
        url=f"{BASE_URL}/ml-100k.zip",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        size_bytes=4_924_029,
        ratings_file="u.data",
        movies_file="u.item",
        redistributable=False,
        ratings_format="tab",
        rating_scale=WHOLE_STARS,
    ),
    "ml-latest-small": DatasetSpec(
        name="ml-latest-small",
        url=f"{BASE_URL}/ml-latest-small.zip",
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        size_bytes=978_202,
        ratings_file="ratings.csv",
        movies_file="movies.csv",
        redistributable=True,
        ratings_format="csv",
        rating_scale=HALF_STARS,
    ),
    "ml-1m": DatasetSpec(
        name="ml-1m",
        url=f"{BASE_URL}/ml-1m.zip",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        size_bytes=5_917_549,
        ratings_file="ratings.dat",
        movies_file="movies.dat",
        redistributable=False,
        ratings_format="colons",
        rating_scale=WHOLE_STARS,
    ),
}

DEFAULT_DATASET = "ml-100k"


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


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root`` as a Path, or :func:`data_dir` when it is None."""
    return Path(root).expanduser() if root is not None else data_dir()


def dataset_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """``root/name``: the folder the dataset's zip extracts to (``root`` defaults to data_dir())."""
    return resolve_root(root) / check_dataset_name(name)


def is_present(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether the dataset's ratings and movies files are already extracted under ``root``."""
    spec = DATASETS[check_dataset_name(name)]
    folder = dataset_path(spec.name, root)
    return (folder / spec.ratings_file).is_file() and (folder / spec.movies_file).is_file()


def dataset_url(name: str, base_url: str | None = None) -> str:
    """``<base>/<name>.zip``, base being ``base_url``, ``$GNNREC_DATA_URL`` or :data:`BASE_URL`."""
    base = base_url or os.environ.get("GNNREC_DATA_URL", "").strip() or BASE_URL
    return f"{base.rstrip('/')}/{check_dataset_name(name)}.zip"


def missing_message(name: str, root: Path) -> str:
    """The one-line message for a dataset that is not under ``root`` (and was not fetched)."""
    return (
        f"{name} is not in {root / name}: run `gnnrec-course data download --dataset {name}` "
        f"(it downloads {dataset_url(name)}), or set GNNREC_DATA_DIR to a folder that holds "
        f"{name}/."
    )
