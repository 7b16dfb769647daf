"""Tests for gnnrec_course.training.pipeline (train_default) and training.timing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnnrec_course import config, training
from gnnrec_course.data import load_dataset, synthetic_dataset, synthetic_ratings
from gnnrec_course.errors import CourseError
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges, split_ratings


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset(n_users=40, n_movies=30, seed=3)


@pytest.mark.slow
def test_train_default_on_synthetic_dataset(dataset):
    result = training.train_default(dataset, split="random", seed=0, epochs=20, progress=False)
    summary = result.summary()
    assert set(summary) == {
        "dataset", "split", "seed", "model", "epochs_run", "train_seconds", "val_rmse",
        "test_rmse", "test_mae",
    }  # fmt: skip
    assert summary["model"] == "default" and summary["epochs_run"] <= 20
    assert math.isfinite(result.test_rmse) and result.test_mae <= result.test_rmse
    assert result.graph.nodes.shape == (result.maps.num_nodes, 1)
    assert len(result.split.train) > len(result.split.test) > 0
    assert result.history["epoch"]
    preds = result.predict(
        result.maps.user_nodes(result.split.test.user_id),
        result.maps.movie_nodes(result.split.test.movie_id),
    )
    assert preds.shape == (len(result.split.test),)
    # the settings come from the registry, with the caller's epochs
    entry = config.get_model_entry("default")
    assert result.hparams["model"] == config.as_dict(entry.model)
    assert result.hparams["fit"] == {**config.as_dict(entry.train), "epochs": 20}
    assert result.model.rating_hidden == entry.model.rating_hidden


@pytest.mark.slow
def test_train_default_tutorial_model_trains_as_its_entry_says(dataset):
    tut = training.train_default(dataset, epochs=3, progress=False, model="tutorial")
    assert tut.model_name == "tutorial" and tut.epochs_run == 3
    assert type(tut.model).__name__ == "TutorialGCN"
    assert tut.hparams["fit"]["loss"] == "l1"
    assert tut.hparams["fit"]["learning_rate"] == config.MODELS["tutorial"].train.learning_rate


def test_train_default_unknown_model_lists_the_valid_ones(dataset):
    with pytest.raises(CourseError) as info:
        training.train_default(dataset, epochs=1, progress=False, model="nope")
    message = str(info.value)
    assert "'nope'" in message and "\n" not in message
    for name in config.MODELS:
        assert name in message


def test_train_default_unknown_fit_setting_lists_the_valid_ones(dataset):
    with pytest.raises(CourseError) as info:
        training.train_default(dataset, epochs=1, progress=False, learning_rat=0.1)
    message = str(info.value)
    assert "'learning_rat'" in message and "learning_rate" in message and "patience" in message


def test_train_default_rejects_zero_epochs(dataset):
    with pytest.raises(CourseError, match="epochs"):
        training.train_default(dataset, epochs=0, progress=False)


@pytest.mark.slow
def test_epoch_seconds_times_compiled_epochs():
    ratings = synthetic_ratings(n_users=20, n_movies=15, seed=4)
    maps = build_id_maps(ratings)
    split = split_ratings(ratings, seed=0)
    graph = build_graph(split.train, maps)
    train, val = rating_edges(split.train, maps), rating_edges(split.val, maps)
    model = config.build_model(
        "default", num_nodes=maps.num_nodes, num_users=maps.num_users, rating_min=1.0,
        rating_max=5.0, embed_dim=4, rating_hidden=8,
    )  # fmt: skip
    timing = training.epoch_seconds(model, graph, train, val, epochs=3)
    assert timing.epochs == 3 and timing.train_ratings == len(train)
    assert 0 < timing.min_seconds <= timing.seconds
    assert timing.compile_seconds > 0
    assert math.isfinite(timing.final_loss) and math.isfinite(timing.val_rmse)
    without_val = training.epoch_seconds(model, graph, train, epochs=1)
    assert math.isnan(without_val.val_rmse)
    with pytest.raises(CourseError):
        training.epoch_seconds(model, graph, train, epochs=0)


def test_training_build_model_keeps_the_older_signature():
    ratings = synthetic_ratings(n_users=12, n_movies=9, seed=5)
    model = training.build_model("default", 21, 1.0, 5.0, ratings, num_users=12)
    assert model.rating_mean == pytest.approx(float(ratings["rating"].mean()))
    assert model.embed_dim == config.RatingModelConfig().embed_dim


@pytest.mark.slow
@pytest.mark.realdata
def test_short_realdata_run_beats_global_mean(movielens_dir):
    ds = load_dataset("ml-100k", movielens_dir)
    result = training.train_default(ds, split="u1", seed=0, epochs=60, progress=False)
    global_mean = float(result.split.train["rating"].mean())
    test = result.split.test["rating"].to_numpy()
    mean_rmse = float(np.sqrt(np.mean((test - global_mean) ** 2)))
    assert result.test_rmse < mean_rmse - 0.1, (result.test_rmse, mean_rmse)
    assert result.epochs_run <= 60
