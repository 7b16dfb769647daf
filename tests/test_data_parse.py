"""Tests for gnnrec_course.data.parse through the loaders: the three formats, malformed files.

Everything runs on synthetic files the package writes; the real ml-100k is read only in the
``realdata`` tests (GNNREC_DATA_DIR).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnnrec_course import data
from gnnrec_course.errors import (
    DataNotFoundError,
    MalformedDataError,
    UnknownSplitError,
)

NAMES = tuple(data.DATASETS)
RATINGS_DTYPES = {
    "user_id": "int64",
    "movie_id": "int64",
    "rating": "float32",
    "timestamp": "int64",
}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["user_id", "movie_id"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# parsers, per format
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_of_each_format(tmp_path, name):
    data.write_synthetic(tmp_path, name, seed=1)
    dataset = data.load_dataset(name, tmp_path)
    expected = data.synthetic_ratings(seed=1)
    assert dataset.name == name and dataset.path == tmp_path / name
    assert {c: str(t) for c, t in dataset.ratings.dtypes.items()} == RATINGS_DTYPES
    got = _sorted(dataset.ratings)
    np.testing.assert_array_equal(got["user_id"], expected["user_id"])
    np.testing.assert_array_equal(got["movie_id"], expected["movie_id"])
    np.testing.assert_array_equal(got["timestamp"], expected["timestamp"])
    if name == "ml-latest-small":  # half stars: at most half a star below
        diff = expected["rating"].to_numpy() - got["rating"].to_numpy()
        assert set(np.unique(diff)) == {0.0, 0.5}
    else:
        np.testing.assert_array_equal(got["rating"], expected["rating"])
    movies = dataset.movies
    assert list(movies.columns) == list(data.MOVIE_COLUMNS)
    assert str(movies["movie_id"].dtype) == "int64"
    assert str(movies["year"].dtype) == "Int64"
    reference = data.synthetic_movies(40, seed=1)
    assert movies["title"].tolist() == reference["title"].tolist()
    assert movies["genres"].tolist() == reference["genres"].tolist()
    assert movies["year"].tolist() == reference["year"].tolist()
    pd.testing.assert_frame_equal(data.load_ratings(name, tmp_path), dataset.ratings)
    pd.testing.assert_frame_equal(data.load_movies(name, tmp_path), movies)


@pytest.mark.parametrize("name, file", [("ml-100k", "u.item"), ("ml-1m", "movies.dat")])
def test_iso_8859_1_titles(tmp_path, name, file):
    folder = data.write_synthetic(tmp_path, name)
    raw = (folder / file).read_bytes()
    assert b"Am\xe9lie (2001)" in raw  # written as ISO-8859-1, not UTF-8
    assert "Amélie".encode() not in raw
    titles = data.load_movies(name, tmp_path).set_index("movie_id")["title"]
    assert titles[1] == "Amélie (2001)"
    assert titles[2] == "Misérables, Les (1995)"
    assert titles[9] == "Ça commence aujourd'hui (1999)"


def test_latest_small_quoted_commas_and_half_stars(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-latest-small")
    text = (folder / "movies.csv").read_text(encoding="utf-8")
    assert '"Good, the Bad and the Ugly, The (1966)"' in text
    assert '"""Great Performances"" Cats (1998)"' in text
    assert "Amélie" in text  # UTF-8
    dataset = data.load_dataset("ml-latest-small", tmp_path)
    titles = dataset.movies.set_index("movie_id")["title"]
    assert titles[3] == "Good, the Bad and the Ugly, The (1966)"
    assert titles[5] == '"Great Performances" Cats (1998)'
    halves = dataset.ratings["rating"].to_numpy() % 1
    assert set(np.unique(halves)) == {0.0, 0.5}
    assert dataset.rating_min == float(dataset.ratings["rating"].min())
    assert dataset.rating_min in (0.5, 1.0)
    assert dataset.rating_max == 5.0


def test_rating_scale_is_read_from_the_data(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    (folder / "u.data").write_text("1\t1\t2\t5\n2\t1\t4\t6\n2\t2\t3\t7\n")
    dataset = data.load_dataset("ml-100k", tmp_path)
    assert (dataset.rating_min, dataset.rating_max) == (2.0, 4.0)  # not the documented 1-5
    assert dataset.num_users == 2 and dataset.num_movies == 2 and dataset.num_ratings == 3


def test_documented_scales():
    assert data.DATASETS["ml-100k"].rating_scale == data.WHOLE_STARS
    assert data.DATASETS["ml-1m"].rating_scale == data.WHOLE_STARS
    assert data.DATASETS["ml-latest-small"].rating_scale == data.HALF_STARS
    assert [v for v in (0.5, 1, 2.5, 3, 5, 5.5, 0) if data.WHOLE_STARS.allows(v)] == [1, 3, 5]
    assert [v for v in (0.5, 1, 2.5, 3.25, 5, 5.5, 0) if data.HALF_STARS.allows(v)] == [
        0.5,
        1,
        2.5,
        5,
    ]
    assert str(data.WHOLE_STARS) == "1–5 in whole stars"
    assert str(data.HALF_STARS) == "0.5–5 in half stars"


_OFF_SCALE = {"ml-100k": "1\t2\t{}\t11", "ml-1m": "1::2::{}::11", "ml-latest-small": "1,2,{},11"}


@pytest.mark.parametrize(
    "name, rating",
    [
        ("ml-100k", "99"),
        ("ml-100k", "0"),
        ("ml-100k", "3.5"),  # whole stars only
        ("ml-100k", "-1"),
        ("ml-1m", "6"),
        ("ml-1m", "4.5"),
        ("ml-latest-small", "5.5"),
        ("ml-latest-small", "0.0"),
        ("ml-latest-small", "3.25"),
        ("ml-latest-small", "99"),
    ],
)
def test_rating_off_the_documented_scale_is_a_damaged_file(tmp_path, name, rating):
    folder = data.write_synthetic(tmp_path, name)
    path = folder / data.DATASETS[name].ratings_file
    good, bad = _GOOD[name], _OFF_SCALE[name]  # _GOOD, _HEADER: see "malformed files"
    lines = [_HEADER[name]] if name in _HEADER else []
    lines += [good] * 4 + [bad.format(rating)] + [good] * 2
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedDataError) as info:
        data.load_dataset(name, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert f"{path}, line {len(lines) - 2}: rating {rating!r} is outside" in message
    assert str(data.DATASETS[name].rating_scale) in message
    assert "gnnrec-course data download" in message


def test_off_scale_rating_after_a_blank_line_names_the_right_line(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    (folder / "u.data").write_text("1\t1\t4\t10\n\n\n2\t1\t99\t11\n")
    with pytest.raises(MalformedDataError, match=r"u\.data, line 4: rating '99'"):
        data.load_ratings("ml-100k", tmp_path)


def test_off_scale_rating_in_a_fold_file(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    lines = (folder / "u2.base").read_text().splitlines()
    user, movie, _, stamp = lines[10].split("\t")
    lines[10] = "\t".join([user, movie, "99", stamp])
    (folder / "u2.base").write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedDataError, match=r"u2\.base, line 11: rating '99' is outside"):
        data.load_fold("u2", tmp_path)


def test_years_parsed_from_titles(tmp_path):
    data.write_synthetic(tmp_path, "ml-100k")
    movies = data.load_movies("ml-100k", tmp_path).set_index("movie_id")
    assert movies.loc[1, "year"] == 2001
    assert movies.loc[6, "year"] == 1995  # "Shanghai Triad (Yao ...) (1995)"
    assert pd.isna(movies.loc[7, "year"])  # "Untitled Work in Progress"


@pytest.mark.parametrize(
    "title, year",
    [
        ("Toy Story (1995)", 1995),
        ("Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)", 1995),
        ("Land Before Time III: The Time of the Great Giving (1995) (V)", 1995),
        ("Babylon 5", None),
        ("Stranger Things (2016–2017)", None),
        ("unknown", None),
        ("1776 (1972) ", 1972),
    ],
)
def test_parse_year(title, year):
    assert data.parse_year(title) == year


def test_genre_names_come_from_u_genre(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    genre_file = folder / "u.genre"
    renamed = genre_file.read_text(encoding="latin-1").replace("Sci-Fi|", "Science Fiction|")
    genre_file.write_text(renamed, encoding="latin-1")
    genres = data.load_movies("ml-100k", tmp_path)["genres"]
    standard = data.synthetic_movies(40)["genres"]
    assert genres.tolist() == standard.str.replace("Sci-Fi", "Science Fiction").tolist()
    genre_file.unlink()  # without u.genre: the standard list
    assert data.load_movies("ml-100k", tmp_path)["genres"].tolist() == standard.tolist()


def test_ml_100k_folds_partition_the_ratings(tmp_path):
    data.write_synthetic(tmp_path, "ml-100k", n_users=40, n_movies=30, seed=2)
    everything = _sorted(data.load_ratings("ml-100k", tmp_path))
    tests = []
    for fold in data.FOLDS:
        base, test = data.load_fold(fold, tmp_path)
        assert {c: str(t) for c, t in test.dtypes.items()} == RATINGS_DTYPES
        assert abs(len(test) - len(everything) / 5) <= 1
        pd.testing.assert_frame_equal(_sorted(pd.concat([base, test])), everything)
        tests.append(test)
    pd.testing.assert_frame_equal(_sorted(pd.concat(tests)), everything)  # disjoint, cover all


def test_load_fold_rejects_unknown_names(tmp_path):
    data.write_synthetic(tmp_path, "ml-100k")
    with pytest.raises(UnknownSplitError) as info:
        data.load_fold("u6", tmp_path)
    assert "u1" in str(info.value) and "u5" in str(info.value)


def test_load_fold_without_data(tmp_path):
    with pytest.raises(DataNotFoundError):
        data.load_fold("u1", tmp_path)


# ---------------------------------------------------------------------------------------------
# malformed files
# ---------------------------------------------------------------------------------------------

_GOOD = {"ml-100k": "1\t1\t4\t10", "ml-latest-small": "1,1,4.0,10", "ml-1m": "1::1::4::10"}
_HEADER = {"ml-latest-small": "userId,movieId,rating,timestamp"}
_BAD_LINES = {
    "extra column": {
        "ml-100k": "2\t1\t3\t11\t99",
        "ml-latest-small": "2,1,3.0,11,99",
        "ml-1m": "2::1::3::11::99",
    },
    "missing column": {"ml-100k": "2\t1\t3", "ml-latest-small": "2,1,3.0", "ml-1m": "2::1::3"},
    "non-numeric rating": {
        "ml-100k": "2\t1\tfive\t11",
        "ml-latest-small": "2,1,five,11",
        "ml-1m": "2::1::five::11",
    },
    "empty rating": {"ml-100k": "2\t1\t\t11", "ml-latest-small": "2,1,,11", "ml-1m": "2::1::::11"},
    "non-integer user": {
        "ml-100k": "x\t1\t3\t11",
        "ml-latest-small": "x,1,3.0,11",
        "ml-1m": "x::1::3::11",
    },
}


@pytest.mark.parametrize("problem", list(_BAD_LINES))
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("where", ["first", "later"])
def test_malformed_ratings_name_file_and_line(tmp_path, name, problem, where):
    folder = data.write_synthetic(tmp_path, name)
    path = folder / data.DATASETS[name].ratings_file
    lines = [_HEADER[name]] if name in _HEADER else []
    good_before = 0 if where == "first" else 5
    lines += [_GOOD[name]] * good_before + [_BAD_LINES[problem][name]] + [_GOOD[name]] * 3
    path.write_text("\n".join(lines) + "\n")
    bad_line = len(lines) - 3  # 1-based number of the bad line
    with pytest.raises(MalformedDataError) as info:
        data.load_dataset(name, tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {bad_line}:" in message
    assert "\n" not in message


def test_malformed_fold_file(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    lines = (folder / "u3.test").read_text().splitlines()
    lines[7] = lines[7] + "\textra"
    (folder / "u3.test").write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedDataError, match=r"u3\.test, line 8:"):
        data.load_fold("u3", tmp_path)


def test_latest_small_bad_header(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-latest-small")
    path = folder / "ratings.csv"
    path.write_text("user,movie,stars,time\n1,1,4.0,10\n")
    with pytest.raises(MalformedDataError, match="line 1:"):
        data.load_ratings("ml-latest-small", tmp_path)


def test_empty_ratings_file(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    (folder / "u.data").write_text("")
    with pytest.raises(MalformedDataError, match=r"u\.data, line 1: the file holds no ratings"):
        data.load_ratings("ml-100k", tmp_path)
    (folder / "u.data").write_text("\n\n")
    with pytest.raises(MalformedDataError, match="holds no ratings"):
        data.load_ratings("ml-100k", tmp_path)


def test_blank_line_before_a_bad_line_in_csv(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-latest-small")
    header = "userId,movieId,rating,timestamp"
    (folder / "ratings.csv").write_text(f"{header}\n1,1,4.0,10\n\n2,1,bad,11\n")
    with pytest.raises(MalformedDataError, match="line 4: rating 'bad'"):
        data.load_ratings("ml-latest-small", tmp_path)


def test_blank_lines_and_crlf_are_accepted(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-100k")
    (folder / "u.data").write_bytes(b"1\t1\t4\t10\r\n\r\n2\t1\t3\t11\r\n")
    ratings = data.load_ratings("ml-100k", tmp_path)
    assert ratings["rating"].tolist() == [4.0, 3.0]


@pytest.mark.parametrize(
    "name, file, line",
    [
        ("ml-100k", "u.item", "3|Broken (1990)|01-Jan-1990||url|0|1"),
        ("ml-100k", "u.item", "x" + "|t|d||u" + "|0" * 19),
        ("ml-latest-small", "movies.csv", '3,"Unclosed, Title (1990),Drama,Extra'),
        ("ml-1m", "movies.dat", "3::No genres here (1990)"),
    ],
)
def test_malformed_movies_name_file_and_line(tmp_path, name, file, line):
    folder = data.write_synthetic(tmp_path, name)
    path = folder / file
    encoding = "utf-8" if file.endswith(".csv") else "latin-1"
    lines = path.read_text(encoding=encoding).splitlines()
    lines[3] = line
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    with pytest.raises(MalformedDataError) as info:
        data.load_movies(name, tmp_path)
    assert str(path) in str(info.value)
    assert "line 4:" in str(info.value)


def test_movies_csv_that_is_not_utf8(tmp_path):
    folder = data.write_synthetic(tmp_path, "ml-latest-small")
    path = folder / "movies.csv"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("latin-1"))  # "Amélie" on line 2 becomes invalid UTF-8
    with pytest.raises(MalformedDataError, match="line 2:"):
        data.load_movies("ml-latest-small", tmp_path)


# ---------------------------------------------------------------------------------------------
# real data (GNNREC_DATA_DIR)
# ---------------------------------------------------------------------------------------------


def _real_root() -> Path:
    root = os.environ.get("GNNREC_DATA_DIR")
    if not root or not data.is_present("ml-100k", root):
        pytest.skip("needs MovieLens 100K: set GNNREC_DATA_DIR (see README, 'Data')")
    return Path(root)


@pytest.mark.realdata
def test_real_ml_100k():
    root = _real_root()
    dataset = data.load_dataset("ml-100k", root)
    assert dataset.num_users == 943
    assert dataset.num_movies == 1682
    assert dataset.num_ratings == 100_000
    assert (dataset.rating_min, dataset.rating_max) == (1.0, 5.0)
    assert {c: str(t) for c, t in dataset.ratings.dtypes.items()} == RATINGS_DTYPES
    movies = dataset.movies.set_index("movie_id")
    assert len(movies) == 1682
    assert movies.loc[1, "title"] == "Toy Story (1995)"
    assert movies.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert movies.loc[1, "year"] == 1995
    assert movies["year"].notna().sum() >= 1680


@pytest.mark.realdata
def test_real_ml_100k_fold_u1():
    root = _real_root()
    base, test = data.load_fold("u1", root)
    assert (len(base), len(test)) == (80_000, 20_000)
    everything = _sorted(data.load_ratings("ml-100k", root))
    pd.testing.assert_frame_equal(_sorted(pd.concat([base, test])), everything)
