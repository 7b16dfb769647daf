"""MovieLens: download, verify, cache and parse into pandas; synthetic data in the same formats.

Every public name lives in one small module and is re-exported here, so notebooks and the
rest of the package import from ``gnnrec_course.data``:

* :mod:`~gnnrec_course.data.registry`: the datasets (:data:`DATASETS`, :class:`DatasetSpec`,
  rating scales, :data:`FOLDS`), names and folders (:func:`data_dir`, :func:`is_present`);
* :mod:`~gnnrec_course.data.fetch`: :func:`download` (retries, SHA-256, temporary file and
  rename); :mod:`~gnnrec_course.data.archive`: safe extraction;
* :mod:`~gnnrec_course.data.parse`: the parsers of the three file formats;
* :mod:`~gnnrec_course.data.movielens`: :class:`MovieLens` and the loaders
  (:func:`load_dataset`, :func:`load_fold`, ...);
* :mod:`~gnnrec_course.data.synthetic`: made-up data of any size with planted groups;
  :mod:`~gnnrec_course.data.write`: :func:`write_synthetic` in each real file format.
"""

from gnnrec_course.data.fetch import download, sha256_file
from gnnrec_course.data.movielens import (
    MovieLens,
    load_dataset,
    load_fold,
    load_movies,
    load_ratings,
)
from gnnrec_course.data.parse import parse_year
from gnnrec_course.data.registry import (
    BASE_URL,
    DATASETS,
    DEFAULT_DATASET,
    FOLD_DATASET,
    FOLDS,
    GENRES_100K,
    HALF_STARS,
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    WHOLE_STARS,
    DatasetSpec,
    RatingScale,
    check_dataset_name,
    data_dir,
    dataset_path,
    is_present,
)
from gnnrec_course.data.synthetic import (
    rating_count,
    synthetic_dataset,
    synthetic_movies,
    synthetic_ratings,
)
from gnnrec_course.data.write import write_synthetic

__all__ = [
    "BASE_URL",
    "DATASETS",
    "DEFAULT_DATASET",
    "FOLDS",
    "FOLD_DATASET",
    "GENRES_100K",
    "HALF_STARS",
    "MOVIE_COLUMNS",
    "RATING_COLUMNS",
    "WHOLE_STARS",
    "DatasetSpec",
    "MovieLens",
    "RatingScale",
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
    "rating_count",
    "sha256_file",
    "synthetic_dataset",
    "synthetic_movies",
    "synthetic_ratings",
    "write_synthetic",
]
