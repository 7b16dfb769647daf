"""Tests for gnnrec_course.data.synthetic and .write: planted structure, sparse sampling, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnrec_course import data
from gnnrec_course.data import write
from gnnrec_course.errors import CourseError, SyntheticDataError

NAMES = tuple(data.DATASETS)
RATINGS_DTYPES = {
    "user_id": "int64",
    "movie_id": "int64",
    "rating": "float32",
    "timestamp": "int64",
}


# ---------------------------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------------------------


def test_synthetic_ratings_shape_and_types():
    ratings = data.synthetic_ratings()
    assert list(ratings.columns) == list(data.RATING_COLUMNS)
    assert {c: str(t) for c, t in ratings.dtypes.items()} == RATINGS_DTYPES
    assert set(ratings["user_id"]) == set(range(1, 61))
    assert set(ratings["movie_id"]) == set(range(1, 41))
    assert not ratings.duplicated(["user_id", "movie_id"]).any()
    values = ratings["rating"].to_numpy()
    assert np.array_equal(values, np.rint(values)) and values.min() >= 1 and values.max() <= 5
    assert 0.2 < len(ratings) / (60 * 40) < 0.4


def test_synthetic_ratings_are_deterministic():
    pd.testing.assert_frame_equal(data.synthetic_ratings(seed=5), data.synthetic_ratings(seed=5))
    assert not data.synthetic_ratings(seed=5).equals(data.synthetic_ratings(seed=6))


def test_synthetic_ratings_have_planted_groups():
    ratings = data.synthetic_ratings(n_users=90, n_movies=60, n_groups=3, seed=1)
    same = (ratings["user_id"] - 1) % 3 == (ratings["movie_id"] - 1) % 3
    inside, outside = ratings["rating"][same].mean(), ratings["rating"][~same].mean()
    assert inside > outside + 1.5
    # planted user biases: per-user means spread more than noise alone would give
    assert ratings.groupby("user_id")["rating"].mean().std() > 0.2


def test_synthetic_every_user_and_movie_rated_even_when_sparse():
    ratings = data.synthetic_ratings(n_users=30, n_movies=50, density=0.01, seed=2)
    assert ratings["user_id"].nunique() == 30
    assert ratings["movie_id"].nunique() == 50


@pytest.mark.parametrize("kwargs", [{"n_users": 0}, {"n_groups": 0}, {"density": 0.0}])
def test_synthetic_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError):
        data.synthetic_ratings(**kwargs)


def test_synthetic_dataset_in_memory():
    dataset = data.synthetic_dataset(n_users=20, n_movies=15, seed=4)
    assert isinstance(dataset, data.MovieLens)
    assert dataset.name == "synthetic" and dataset.path is None
    assert dataset.num_users == 20 and dataset.num_movies == 15
    assert dataset.num_ratings == len(dataset.ratings)
    assert dataset.rating_min == dataset.ratings["rating"].min()
    assert dataset.rating_max == dataset.ratings["rating"].max()
    assert list(dataset.movies.columns) == list(data.MOVIE_COLUMNS)
    assert len(dataset.movies) == 15
    assert "synthetic" in repr(dataset)


def test_synthetic_movies_genres_use_standard_names_in_order():
    movies = data.synthetic_movies(40)
    order = {g: i for i, g in enumerate(data.GENRES_100K)}
    for genres in movies["genres"]:
        names = genres.split("|")
        assert names and all(n in order and n != "unknown" for n in names)
        assert [order[n] for n in names] == sorted(order[n] for n in names)
    for title in movies["title"]:
        title.encode("latin-1")  # every synthetic title fits ml-100k / ml-1m files


@pytest.mark.parametrize("name", NAMES)
def test_write_synthetic_is_deterministic(tmp_path, name):
    first = data.write_synthetic(tmp_path / "a", name, seed=9)
    second = data.write_synthetic(tmp_path / "b", name, seed=9)
    assert first == tmp_path / "a" / name
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(p.name for p in second.iterdir())
    for file in files:
        assert (first / file).read_bytes() == (second / file).read_bytes()


# ---------------------------------------------------------------------------------------------
# sparse sampling at any size
# ---------------------------------------------------------------------------------------------


def _check_pairs(ratings: pd.DataFrame, n_users: int, n_movies: int, n_ratings: int) -> None:
    assert len(ratings) == n_ratings
    assert not ratings.duplicated(["user_id", "movie_id"]).any()
    assert ratings["user_id"].nunique() == n_users
    assert ratings["movie_id"].nunique() == n_movies
    assert ratings["user_id"].between(1, n_users).all()
    assert ratings["movie_id"].between(1, n_movies).all()
    keys = ratings["user_id"].to_numpy() * (n_movies + 1) + ratings["movie_id"].to_numpy()
    assert (np.diff(keys) > 0).all()  # sorted by user, then movie


@pytest.mark.parametrize(
    "n_users, n_movies, n_ratings",
    [(2_000, 1_500, 60_000), (50, 3_000, 3_000), (3_000, 50, 3_000), (7, 5, 35), (1, 1, 1)],
)
def test_exact_number_of_distinct_pairs(n_users, n_movies, n_ratings):
    ratings = data.synthetic_ratings(n_users, n_movies, n_ratings=n_ratings, seed=3)
    _check_pairs(ratings, n_users, n_movies, n_ratings)


def test_full_density_rates_every_pair():
    ratings = data.synthetic_ratings(n_users=12, n_movies=9, density=1.0, seed=4)
    _check_pairs(ratings, 12, 9, 12 * 9)


def test_far_more_pairs_than_a_dense_matrix_could_hold():
    # 2e10 possible pairs: a dense users x movies array would need >= 20 GB.
    ratings = data.synthetic_ratings(n_users=200_000, n_movies=100_000, n_ratings=250_000)
    _check_pairs(ratings, 200_000, 100_000, 250_000)


def test_large_data_keeps_planted_groups_and_has_popularity_skew():
    ratings = data.synthetic_ratings(n_users=3_000, n_movies=2_000, n_ratings=100_000, seed=5)
    same = (ratings["user_id"] - 1) % 3 == (ratings["movie_id"] - 1) % 3
    assert ratings["rating"][same].mean() > ratings["rating"][~same].mean() + 1.5
    per_movie = ratings["movie_id"].value_counts()
    per_user = ratings["user_id"].value_counts()
    assert per_movie.max() > 8 * per_movie.mean()  # a few blockbusters
    assert per_movie.median() < per_movie.mean()  # and a long tail
    assert per_user.max() > 5 * per_user.mean()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 10, "n_movies": 5, "n_ratings": 51},  # more than every pair
        {"n_users": 10, "n_movies": 5, "n_ratings": 9},  # fewer than one per user
        {"n_users": 4, "n_movies": 30, "n_ratings": 29},  # fewer than one per movie
        {"n_users": -1},
    ],
)
def test_impossible_sizes_are_one_line_course_errors(kwargs):
    with pytest.raises(SyntheticDataError) as info:
        data.synthetic_ratings(**kwargs)
    assert isinstance(info.value, CourseError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_rating_count():
    assert data.rating_count(60, 40) == 720
    assert data.rating_count(30, 50, density=0.01) == 50  # one per movie at least
    assert data.rating_count(10, 10, n_ratings=37) == 37
    assert data.rating_count(10, 10, density=1.0) == 100


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", ["\t", ",", "::"])
@pytest.mark.parametrize("decimals", [False, True])
def test_vectorised_rows_match_python_formatting(sep, decimals):
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame(
        {
            "user_id": np.r_[[1, 9, 10, 99, 100, 162_541], rng.integers(1, 10**6, n - 6)],
            "movie_id": np.r_[[10, 1, 100, 59_047, 9, 99], rng.integers(1, 10**5, n - 6)],
            "rating": (rng.integers(1, 11, n) / 2).astype(np.float32),
            "timestamp": np.r_[
                [0, 9, 874_724_710, 999_999_999, 1_000_000_000, 7], rng.integers(0, 2**31, n - 6)
            ],
        }
    )
    fmt = "{:.1f}" if decimals else "{:g}"
    expected = "".join(
        f"{u}{sep}{m}{sep}{fmt.format(r)}{sep}{t}\n" for u, m, r, t in frame.itertuples(index=False)
    )
    assert write._text(write._format_ratings(frame, sep, decimals)).decode() == expected


@pytest.mark.parametrize("name", NAMES)
def test_files_written_in_many_blocks_read_back_the_same(tmp_path, name, monkeypatch):
    whole = data.load_dataset(name, data.write_synthetic(tmp_path / "one", name, seed=2).parent)
    monkeypatch.setattr(write, "_BLOCK_ROWS", 7)
    blocks = data.load_dataset(name, data.write_synthetic(tmp_path / "many", name, seed=2).parent)
    pd.testing.assert_frame_equal(whole.ratings, blocks.ratings)
    if name == "ml-100k":
        for fold in data.FOLDS:
            for a, b in zip(
                data.load_fold(fold, whole.path.parent),
                data.load_fold(fold, blocks.path.parent),
                strict=True,
            ):
                pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_write_synthetic_with_a_number_of_ratings(tmp_path, name):
    folder = data.write_synthetic(tmp_path, name, n_users=300, n_movies=200, n_ratings=5_000)
    dataset = data.load_dataset(name, tmp_path)
    assert (dataset.num_users, dataset.num_movies, dataset.num_ratings) == (300, 200, 5_000)
    assert len(dataset.movies) == 200
    assert "5000 ratings" in (folder / write.MARKER).read_text()


def test_write_synthetic_never_overwrites_real_data(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1::5::978300760\n")  # as if downloaded
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Animation\n")
    with pytest.raises(SyntheticDataError) as info:
        data.write_synthetic(tmp_path, "ml-1m")
    assert str(folder) in str(info.value) and "\n" not in str(info.value)
    assert (folder / "ratings.dat").read_text() == "1::1::5::978300760\n"
    assert sorted(p.name for p in folder.iterdir()) == ["movies.dat", "ratings.dat"]


def test_write_synthetic_replaces_its_own_data(tmp_path):
    data.write_synthetic(tmp_path, "ml-1m", seed=1)
    data.write_synthetic(tmp_path, "ml-1m", n_users=20, n_movies=10, seed=2)
    assert data.load_dataset("ml-1m", tmp_path).num_users == 20


@pytest.mark.parametrize(
    ("users", "movies", "ratings", "most"),
    [(200, 50, 2_000, 35), (50, 40, 1_500, 30), (6, 5, 30, 5)],  # sparse, dense, every pair
)
def test_no_user_rates_more_than_the_real_datasets_share(users, movies, ratings, most):
    """At most 70 % of the catalogue per user (the real datasets' top user: 44-69 %), unless
    the density needs more: BPR then always has a negative to draw."""
    frame = data.synthetic_ratings(users, movies, seed=1, n_ratings=ratings)
    per_user = frame.groupby("user_id").size()
    assert len(frame) == ratings and per_user.max() <= most
    assert frame.user_id.nunique() == users
