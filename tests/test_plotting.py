"""The plotting helpers draw on the Agg backend without error and return their axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gnnrec_course import plotting  # noqa: E402
from gnnrec_course.errors import CourseError  # noqa: E402


@pytest.fixture
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "user_id": rng.integers(1, 21, n),
            "movie_id": rng.integers(1, 31, n),
            "rating": rng.integers(1, 6, n).astype(np.float32),
            "timestamp": np.arange(n),
        }
    ).drop_duplicates(["user_id", "movie_id"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_rating_histogram_has_one_bar_per_value(ratings):
    ax = plotting.plot_rating_histogram(ratings)
    assert len(ax.patches) == ratings["rating"].nunique()
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted(ratings["rating"].value_counts().tolist())


def test_rating_histogram_accepts_an_array_and_half_stars():
    _, ax = plt.subplots()
    out = plotting.plot_rating_histogram(np.array([0.5, 1.0, 1.0, 4.5, 5.0]), ax=ax)
    assert out is ax
    assert len(ax.patches) == 4


def test_long_tail_is_sorted_and_log_scaled(ratings):
    ax = plotting.plot_long_tail(ratings)
    assert ax.get_yscale() == "log"
    users, movies = ax.get_lines()
    for line, column in ((users, "user_id"), (movies, "movie_id")):
        y = line.get_ydata()
        assert len(y) == ratings[column].nunique()
        assert np.all(np.diff(y) <= 0)


def test_user_subgraph_draws_the_users_neighbourhood(ratings):
    user = int(ratings["user_id"].iloc[0])
    titles = {m: f"Movie number {m} with a long title" for m in ratings["movie_id"].unique()}
    ax = plotting.draw_user_subgraph(ratings, user, max_movies=3, max_other_users=2, titles=titles)
    texts = [t.get_text() for t in ax.texts]
    assert f"user {user}" in texts
    assert any(t.endswith("…") for t in texts)  # long titles are cut


def test_user_subgraph_has_the_users_movies_and_ratings(ratings):
    user = int(ratings["user_id"].iloc[0])
    mine = ratings[ratings["user_id"] == user]
    ax = plotting.draw_user_subgraph(ratings, user, max_movies=100, max_other_users=0)
    texts = [t.get_text() for t in ax.texts]
    for movie in mine["movie_id"]:
        assert f"movie {movie}" in texts  # no titles given: "movie <id>"
    edge_labels = sorted(t for t in texts if not t.startswith(("user", "movie")))
    assert edge_labels == sorted(f"{r:g}" for r in mine["rating"])


def test_user_subgraph_unknown_user(ratings):
    with pytest.raises(CourseError, match="no rating"):
        plotting.draw_user_subgraph(ratings, 9999)


HISTORY = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.8, 0.7], "val_rmse": [1.1, 1.0, 0.95]}


def test_plot_history_puts_loss_and_metric_on_separate_labelled_axes():
    loss_ax, metric_ax = plotting.plot_history(HISTORY, title="A run")
    assert loss_ax is not metric_ax
    assert loss_ax.figure is metric_ax.figure
    (loss_line,) = loss_ax.get_lines()  # one quantity per axes
    (metric_line,) = metric_ax.get_lines()
    np.testing.assert_array_equal(loss_line.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_line.get_ydata(), HISTORY["train_loss"])
    np.testing.assert_array_equal(metric_line.get_ydata(), HISTORY["val_rmse"])
    for ax in (loss_ax, metric_ax):
        assert ax.get_xlabel() == "epoch"
        assert ax.get_title()
    assert "loss" in loss_ax.get_ylabel()
    assert metric_ax.get_ylabel() == "validation RMSE (stars)"  # the unit
    assert loss_ax.figure.get_suptitle() == "A run"


def test_plot_history_labels_units_and_overlays_runs():
    _, axes = plt.subplots(1, 2)
    for lr, scale in (("1e-3", 1.0), ("1e-2", 0.5)):
        run = {k: [scale * v for v in values] for k, values in HISTORY.items() if k != "epoch"}
        out = plotting.plot_history(
            run, axes=axes, loss_label="training MSE (stars²)", metric="val_rmse", label=lr
        )
    assert tuple(out) == tuple(axes)
    assert axes[0].get_ylabel() == "training MSE (stars²)"
    for ax in axes:
        assert [line.get_label() for line in ax.get_lines()] == ["1e-3", "1e-2"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1e-3", "1e-2"]
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])  # 1..T


def test_plot_history_names_the_missing_series():
    with pytest.raises(CourseError, match=r"no series 'val_rmse'.*'train_loss'"):
        plotting.plot_history({"epoch": [1], "train_loss": [1.0]})
    loss_ax, _ = plotting.plot_history(
        {"loss": [3.0, 2.0], "val_mae": [1.0, 0.9]}, loss="loss", metric="val_mae"
    )
    assert loss_ax.get_ylabel() == "loss"


def test_embedding_map_groups_rare_labels():
    xy = np.random.default_rng(0).normal(size=(30, 2))
    labels = ["a"] * 10 + ["b"] * 10 + ["c"] * 5 + ["d"] * 5
    ax = plotting.plot_embedding_map(xy, labels, annotate={0: "first"}, max_legend=2)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a", "b", "other"]
    assert "first" in [t.get_text() for t in ax.texts]


def test_embedding_map_without_labels_and_bad_shapes():
    plotting.plot_embedding_map(np.zeros((4, 2)))
    with pytest.raises(CourseError, match=r"\[K, 2\]"):
        plotting.plot_embedding_map(np.zeros((4, 3)))
    with pytest.raises(CourseError, match="labels"):
        plotting.plot_embedding_map(np.zeros((4, 2)), ["a"])
