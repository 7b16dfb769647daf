"""Tests for gnnrec_course.data.registry and the loaders' folders: names, data_dir, missing data."""

from __future__ import annotations

import pytest

from gnnrec_course import data
from gnnrec_course.errors import (
    CourseError,
    DataNotFoundError,
    UnknownDatasetError,
)

NAMES = tuple(data.DATASETS)
RATINGS_DTYPES = {
    "user_id": "int64",
    "movie_id": "int64",
    "rating": "float32",
    "timestamp": "int64",
}


# ---------------------------------------------------------------------------------------------
# names and folders
# ---------------------------------------------------------------------------------------------


def test_datasets_table():
    assert NAMES == ("ml-100k", "ml-latest-small", "ml-1m")
    assert data.DEFAULT_DATASET == "ml-100k"
    for name, spec in data.DATASETS.items():
        assert spec.name == name
        assert spec.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert len(spec.sha256) == 64
        assert spec.size_bytes > 0
    assert data.DATASETS["ml-latest-small"].redistributable
    assert not data.DATASETS["ml-100k"].redistributable
    assert not data.DATASETS["ml-1m"].redistributable


def test_check_dataset_name_accepts_valid_names():
    for name in NAMES:
        assert data.check_dataset_name(name) == name
    assert data.check_dataset_name(" ML-100K ") == "ml-100k"


@pytest.mark.parametrize(
    "bad, suggestion", [("ml100k", "ml-100k"), ("ml-latest", "ml-latest-small"), ("imdb", None)]
)
def test_unknown_dataset_lists_valid_names(bad, suggestion):
    with pytest.raises(UnknownDatasetError) as info:
        data.check_dataset_name(bad)
    message = str(info.value)
    assert "\n" not in message
    assert repr(bad) in message
    for name in NAMES:
        assert name in message
    if suggestion:
        assert f"Did you mean {suggestion!r}?" in message
    else:
        assert "Did you mean" not in message
    assert isinstance(info.value, CourseError)


def test_unknown_dataset_from_loaders(tmp_path):
    with pytest.raises(UnknownDatasetError):
        data.load_dataset("ml-10m", tmp_path)
    with pytest.raises(UnknownDatasetError):
        data.download("movielens", tmp_path)


def test_data_dir_prefers_gnnrec_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_dir() == tmp_path / "mine"
    assert data.dataset_path("ml-1m") == tmp_path / "mine" / "ml-1m"
    assert not (tmp_path / "mine").exists()  # nothing created


def test_data_dir_uses_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("GNNREC_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_dir() == tmp_path / "xdg" / "gnnrec-course"


def test_data_dir_falls_back_to_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GNNREC_DATA_DIR", "")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_dir() == tmp_path / ".cache" / "gnnrec-course"


def test_root_argument_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path / "elsewhere"))
    data.write_synthetic(tmp_path, "ml-100k")
    assert data.is_present("ml-100k", tmp_path)
    assert not data.is_present("ml-100k")
    assert data.load_dataset("ml-100k", tmp_path).path == tmp_path / "ml-100k"


def test_load_reads_gnnrec_data_dir(monkeypatch, tmp_path):
    data.write_synthetic(tmp_path, "ml-1m", seed=3)
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    dataset = data.load_dataset("ml-1m")
    assert dataset.path == tmp_path / "ml-1m"
    assert dataset.num_ratings == len(data.synthetic_ratings(seed=3))


@pytest.mark.parametrize("name", NAMES)
def test_missing_data_is_one_clear_line(tmp_path, name):
    with pytest.raises(DataNotFoundError) as info:
        data.load_dataset(name, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / name) in message
    assert f"https://files.grouplens.org/datasets/movielens/{name}.zip" in message
    assert "GNNREC_DATA_DIR" in message
    assert "gnnrec-course data download" in message
    assert list(tmp_path.iterdir()) == []  # looking wrote nothing
    with pytest.raises(DataNotFoundError):
        data.load_ratings(name, tmp_path)
    with pytest.raises(DataNotFoundError):
        data.load_movies(name, tmp_path)
