"""Tests for gnnrec_course.training's state (jitted steps, predict) and fit modules."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from gnnrec_course import models, training
from gnnrec_course.config import TrainConfig
from gnnrec_course.data import synthetic_ratings
from gnnrec_course.errors import CourseError, TrainingDivergedError
from gnnrec_course.graph import (
    RatingEdges,
    build_graph,
    build_id_maps,
    rating_edges,
    split_ratings,
)

# ----- a small synthetic problem -------------------------------------------------------------


@pytest.fixture(scope="module")
def problem():
    ratings = synthetic_ratings(n_users=40, n_movies=30, seed=2)
    maps = build_id_maps(ratings)
    split = split_ratings(ratings, seed=0)
    graph = build_graph(split.train, maps)
    edges = {name: rating_edges(getattr(split, name), maps) for name in ("train", "val", "test")}
    return maps, split, graph, edges


@pytest.mark.slow
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


@pytest.mark.slow
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
    # The same model with another seed: another initialisation and other dropout masks.
    other = training.fit(
        models.default_model(
            maps.num_nodes, 1.0, 5.0, num_users=maps.num_users, embed_dim=8, dropout=0.2
        ),
        graph, edges["train"], edges["val"], epochs=30, seed=8, progress=False,
    )  # fmt: skip
    assert other.history["train_loss"][0] != a.history["train_loss"][0]
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


@pytest.mark.slow
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
    with pytest.raises(CourseError) as info:
        training.fit(model, graph, edges["train"], epochs=1, loss="huber", progress=False)
    message = str(info.value)
    assert "'huber'" in message and "\n" not in message
    for name in training.LOSSES:
        assert name in message


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"epochs": -3}, {"eval_every": 0}])
def test_fit_rejects_settings_out_of_range(problem, bad):
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes, embed_dim=4)
    with pytest.raises(CourseError, match=next(iter(bad))):
        training.fit(model, graph, edges["train"], progress=False, **bad)


def test_fit_defaults_are_the_train_config():
    """One source: every TrainConfig field is a fit() keyword with the same default."""
    import dataclasses
    import inspect

    params = inspect.signature(training.fit).parameters
    for f in dataclasses.fields(TrainConfig):
        assert f.name in params, f.name
        assert params[f.name].default == getattr(TrainConfig(), f.name), f.name


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
    rmse, mae = training.eval_step(state2, graph, tr.users, tr.movies, tr.ratings)
    assert float(mae) <= float(rmse)


def test_train_step_does_not_recompile_for_another_graph_of_the_same_shape(problem):
    """The model runs only while jax traces the step, so counting its calls counts traces."""
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes, embed_dim=4)
    traces = []

    def counting_apply(*args, **kwargs):
        traces.append(1)
        return model.apply(*args, **kwargs)

    # apply_fn is a static field of the state: a new function means a fresh compilation.
    state = training.create_train_state(model, graph, edges["train"]).replace(
        apply_fn=counting_apply
    )
    tr = edges["train"]
    key = jax.random.PRNGKey(0)
    graph = training.as_device_graph(graph)
    training.train_step(state, graph, tr.users, tr.movies, tr.ratings, key)
    assert len(traces) == 1
    training.train_step(state, graph, tr.users, tr.movies, tr.ratings, key)
    other = graph._replace(senders=graph.receivers, receivers=graph.senders)
    training.train_step(state, other, tr.users, tr.movies, tr.ratings, key)
    assert len(traces) == 1, "a same-shaped graph must reuse the compiled step"
    # ... while a new shape does trace again (so the counter does see traces).
    training.train_step(state, graph, tr.users[1:], tr.movies[1:], tr.ratings[1:], key)
    assert len(traces) == 2


# ----- mini-batches --------------------------------------------------------------------------


def test_padded_masked_step_equals_the_unpadded_step(problem):
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes, 1.0, 5.0, num_users=maps.num_users, embed_dim=8)
    state = training.create_train_state(model, graph, edges["train"], seed=0)
    users, movies, ratings = training.edge_arrays(edges["train"])
    key = jax.random.PRNGKey(0)
    plain, plain_loss = training.train_step(state, graph, users, movies, ratings, key)
    batch = next(training.batches.epoch_batches(users, movies, ratings, len(ratings) + 7,
                                                seed=None))  # fmt: skip
    assert batch[3].sum() == len(ratings) and len(batch[3]) == len(ratings) + 7
    padded, padded_loss = training.masked_train_step(state, graph, *batch, key)
    np.testing.assert_allclose(padded_loss, plain_loss, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(padded.params),
                    jax.tree_util.tree_leaves(plain.params), strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_epoch_batches_cover_every_rating_once():
    users = np.arange(10)
    seen = []
    for u, _, _, mask in training.batches.epoch_batches(users, users, users, 4, seed=1, epoch=2):
        assert len(u) == 4
        seen.extend(u[mask > 0].tolist())
    assert sorted(seen) == list(range(10))


def test_fit_with_batches_trains_and_evaluates_like_full_batch(problem):
    maps, _, graph, edges = problem
    model = models.default_model(maps.num_nodes, 1.0, 5.0, num_users=maps.num_users, embed_dim=8)
    result = training.fit(model, graph, edges["train"], edges["val"], epochs=5, batch_size=64,
                          patience=None, progress=False)  # fmt: skip
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    full = training.evaluate(result.state, graph, edges["val"])  # the best epoch's params
    best = result.history["epoch"].index(result.best_epoch)
    assert result.history["val_rmse"][best] == pytest.approx(full["rmse"], rel=1e-5)
    assert result.history["val_mae"][best] == pytest.approx(full["mae"], rel=1e-5)
