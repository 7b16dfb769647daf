"""Tests for gnnrec_course.training: losses, steps, fit, train_default."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnrec_course import models, training
from gnnrec_course.data import load_dataset, synthetic_dataset, synthetic_ratings
from gnnrec_course.errors import CourseError, TrainingDivergedError
from gnnrec_course.graph import (
    RatingEdges,
    build_graph,
    build_id_maps,
    rating_edges,
    split_ratings,
)

# ----- losses --------------------------------------------------------------------------------

PRED = jnp.array([1.0, 2.0, 3.0, 5.0])
TARGET = jnp.array([1.0, 1.0, 1.0, 1.0])
MASK = jnp.array([1.0, 0.0, 1.0, 0.0])


def test_masked_l1_divides_by_masked_count():
    # |1-1| + |3-1| over 2 masked edges = 1.0 (the tutorial's /4 would give 0.5)
    assert float(training.masked_l1_loss(PRED, TARGET, MASK)) == pytest.approx(1.0)


def test_masked_mse_divides_by_masked_count():
    # (0^2 + 2^2) / 2 = 2.0
    assert float(training.masked_mse_loss(PRED, TARGET, MASK)) == pytest.approx(2.0)


def test_losses_accept_boolean_mask_and_no_mask():
    assert float(training.masked_l1_loss(PRED, TARGET, MASK > 0)) == pytest.approx(1.0)
    assert float(training.masked_l1_loss(PRED, TARGET)) == pytest.approx((0 + 1 + 2 + 4) / 4)
    assert float(training.masked_mse_loss(PRED, TARGET)) == pytest.approx((0 + 1 + 4 + 16) / 4)


def test_losses_with_empty_mask_are_zero_not_nan():
    empty = jnp.zeros(4)
    assert float(training.masked_l1_loss(PRED, TARGET, empty)) == 0.0
    assert float(training.masked_mse_loss(PRED, TARGET, empty)) == 0.0


def test_losses_ignore_values_outside_the_mask():
    pred = PRED.at[1].set(1e6)
    assert float(training.masked_mse_loss(pred, TARGET, MASK)) == pytest.approx(2.0)


# ----- a small synthetic problem -------------------------------------------------------------


@pytest.fixture(scope="module")
def problem():
    ratings = synthetic_ratings(n_users=40, n_movies=30, seed=2)
    maps = build_id_maps(ratings)
    split = split_ratings(ratings, seed=0)
    graph = build_graph(split.train, maps)
    edges = {name: rating_edges(getattr(split, name), maps) for name in ("train", "val", "test")}
    return maps, split, graph, edges


def test_default_model_overfits_tiny_graph(problem):
    maps, _, graph, edges = problem
    model = models.default_model(
        maps.num_nodes, 1.0, 5.0, num_users=maps.num_users, embed_dim=16, num_layers=1,
        l2=0.0, bias_l2=0.0, rating_l2=0.0, rating_hidden=32,
    )  # fmt: skip
    result = training.fit(
        model, graph, edges["train"], None, epochs=300, learning_rate=0.03, progress=False
    )
    assert result.history["train_loss"][-1] < 0.01
    assert result.epochs_run == 300
    train_rmse = training.evaluate(result.state, graph, edges["train"])["rmse"]
    assert train_rmse < 0.1


def test_fit_is_deterministic(problem):
    maps, _, graph, edges = problem
    runs = []
    for _ in range(2):
        model = models.default_model(
            maps.num_nodes, 1.0, 5.0, num_users=maps.num_users, embed_dim=8, dropout=0.2
        )
        runs.append(
            training.fit(
                model, graph, edges["train"], edges["val"], epochs=30, seed=7, progress=False
            )
        )
    a, b = runs
    assert a.history == b.history
    assert a.best_epoch == b.best_epoch
    for x, y in zip(
        jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    other = training.fit(
        models.default_model(maps.num_nodes, 1.0, 5.0, embed_dim=8, dropout=0.2),
        graph, edges["train"], edges["val"], epochs=30, seed=8, progress=False,
    )  # fmt: skip
    assert other.history["train_loss"] != a.history["train_loss"]


def test_fit_history_and_early_stopping_restore_best(problem):
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes, 1.0, 5.0, embed_dim=8, l2=0.0, bias_l2=0.0)
    result = training.fit(
        model, graph, edges["train"], edges["val"], epochs=400, learning_rate=0.05,
        patience=15, progress=False,
    )  # fmt: skip
    h = result.history
    assert set(h) >= {"epoch", "train_loss", "val_rmse"}
    assert len(h["epoch"]) == len(h["train_loss"]) == len(h["val_rmse"]) == result.epochs_run
    assert result.stopped_early and result.epochs_run < 400
    assert result.epochs_run - result.best_epoch == 15
    best = min(h["val_rmse"])
    assert result.best_val_rmse == pytest.approx(best)
    assert h["val_rmse"][result.best_epoch - 1] == pytest.approx(best)
    # the returned state holds the best parameters, not the last ones
    restored = training.evaluate(result.state, graph, edges["val"])["rmse"]
    assert restored == pytest.approx(best, rel=1e-5)


def test_fit_l1_loss_and_tutorial_model(problem):
    maps, _, graph, edges = problem
    model = models.tutorial_model(maps.num_nodes, 1.0, 5.0, embed_dim=8, hidden=(8,))
    result = training.fit(
        model, graph, edges["train"], edges["val"], epochs=5, learning_rate=1e-2, loss="l1",
        patience=None, progress=False,
    )  # fmt: skip
    assert result.epochs_run == 5
    assert all(math.isfinite(v) for v in result.history["train_loss"])
    preds = training.predict(result.state, graph, edges["test"].users, edges["test"].movies)
    assert preds.shape == (len(edges["test"]),) and preds.dtype == np.float32
    assert preds.min() >= 1.0 and preds.max() <= 5.0
    same = training.predict(
        model, graph, edges["test"].users, edges["test"].movies, params=result.params
    )
    np.testing.assert_allclose(preds, same, rtol=1e-6)


def test_unknown_loss_is_a_clear_error(problem):
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes)
    with pytest.raises(ValueError, match="mse"):
        training.fit(model, graph, edges["train"], epochs=1, loss="huber", progress=False)


@pytest.mark.parametrize("how", ["nan_lr", "nan_ratings", "inf_lr"])
def test_nan_loss_raises_training_diverged(problem, how):
    maps, _, graph, edges = problem
    train = edges["train"]
    lr = 1e-2
    if how == "nan_lr":
        lr = float("nan")
    elif how == "inf_lr":
        lr = float("inf")
    else:
        bad = train.ratings.copy()
        bad[3] = np.nan
        train = RatingEdges(train.users, train.movies, bad)
    model = models.default_model(maps.num_nodes, 1.0, 5.0, embed_dim=4)
    with pytest.raises(TrainingDivergedError) as info:
        training.fit(model, graph, train, edges["val"], epochs=20, learning_rate=lr,
                     progress=False)  # fmt: skip
    message = str(info.value)
    assert "diverged" in message and "learning rate" in message
    assert "\n" not in message
    assert isinstance(info.value, CourseError)


def test_train_step_takes_graph_as_argument(problem):
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes, embed_dim=4)
    state = training.create_train_state(model, graph, edges["train"], learning_rate=1e-2)
    tr = edges["train"]
    key = jax.random.PRNGKey(0)
    state2, loss = training.train_step(state, graph, tr.users, tr.movies, tr.ratings, key)
    assert np.isfinite(float(loss)) and int(state2.step) == 1
    # A different graph of the same shape runs through the same compiled step.
    other = graph._replace(senders=graph.receivers, receivers=graph.senders)
    cache_size = getattr(training.train_step, "_cache_size", None)  # private jax API
    before = cache_size() if cache_size else None
    training.train_step(state, other, tr.users, tr.movies, tr.ratings, key)
    if cache_size:
        assert cache_size() == before
    rmse, mae = training.eval_step(state2, graph, tr.users, tr.movies, tr.ratings)
    assert float(mae) <= float(rmse)


def test_train_default_on_synthetic_dataset():
    ds = synthetic_dataset(n_users=40, n_movies=30, seed=3)
    result = training.train_default(ds, split="random", seed=0, epochs=20, progress=False)
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

    tut = training.train_default(ds, epochs=3, progress=False, model="tutorial")
    assert tut.model_name == "tutorial" and tut.epochs_run == 3
    with pytest.raises(ValueError, match="default"):
        training.train_default(ds, epochs=1, progress=False, model="nope")


@pytest.mark.realdata
def test_short_realdata_run_beats_global_mean(movielens_dir):
    ds = load_dataset("ml-100k", movielens_dir)
    result = training.train_default(ds, split="u1", seed=0, epochs=60, progress=False)
    global_mean = float(result.split.train["rating"].mean())
    test = result.split.test["rating"].to_numpy()
    mean_rmse = float(np.sqrt(np.mean((test - global_mean) ** 2)))
    assert result.test_rmse < mean_rmse - 0.1, (result.test_rmse, mean_rmse)
    assert result.epochs_run <= 60
