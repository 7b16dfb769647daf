"""The plotting helpers draw on the Agg backend without error and return their axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gnnrec_course import plotting  # noqa: E402


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


def test_user_subgraph_unknown_user(ratings):
    with pytest.raises(ValueError, match="no rating"):
        plotting.draw_user_subgraph(ratings, 9999)


def test_plot_history():
    history = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.8, 0.7], "val_rmse": [1.1, 1.0, 0.95]}
    ax = plotting.plot_history(history)
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "val_rmse"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError):
        plotting.plot_history({"epoch": [1]})


def test_plot_history_without_epochs():
    ax = plotting.plot_history({"loss": [3.0, 2.0]})
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2])


def test_embedding_map_groups_rare_labels():
    xy = np.random.default_rng(0).normal(size=(30, 2))
    labels = ["a"] * 10 + ["b"] * 10 + ["c"] * 5 + ["d"] * 5
    ax = plotting.plot_embedding_map(xy, labels, annotate={0: "first"}, max_legend=2)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a", "b", "other"]
    assert "first" in [t.get_text() for t in ax.texts]


def test_embedding_map_without_labels_and_bad_shapes():
    plotting.plot_embedding_map(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\[K, 2\]"):
        plotting.plot_embedding_map(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_embedding_map(np.zeros((4, 2)), ["a"])
