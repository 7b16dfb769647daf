"""Tests for gnnrec_course.recommend: top-N, similar movies, ranking metrics, baselines."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from gnnrec_course.baselines import BiasBaseline
from gnnrec_course.errors import CourseError, UnknownMovieError, UnknownUserError
from gnnrec_course.graph import build_graph, build_id_maps
from gnnrec_course.metrics import ndcg_at_k, precision_at_k, recall_at_k
from gnnrec_course.recommend import (
    Recommender,
    RecommendError,
    baseline_score_fn,
    popularity_score_fn,
    popularity_top_n,
    ranking_metrics,
)

# 3 users (raw 1, 2, 3) and 6 movies (raw 101..106): nodes 0..2 and 3..8.
TRAIN = pd.DataFrame(
    {
        "user_id": [1, 1, 2, 3, 3],
        "movie_id": [101, 102, 103, 101, 106],
        "rating": [5.0, 3.0, 4.0, 2.0, 5.0],
    }
)
TEST = pd.DataFrame(
    {
        "user_id": [1, 1, 1, 2, 3],
        "movie_id": [103, 104, 105, 101, 102],
        "rating": [5.0, 4.0, 2.0, 5.0, 3.0],
    }
)
MOVIES = pd.DataFrame(
    {
        "movie_id": [101, 102, 103, 104, 105, 106],
        "title": ["Alpha (1990)", "Béta (1991)", "Gamma (1992)", "Delta", "Epsilon", "Zeta"],
    }
)
# SCORES[u, j]: score of raw user u + 1 for raw movie 101 + j
SCORES = np.array(
    [
        [9.0, 8.0, 1.0, 3.0, 2.0, 0.5],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
    ]
)


@pytest.fixture
def maps():
    return build_id_maps(pd.concat([TRAIN, TEST]), name="tiny")


def table_score_fn(table: np.ndarray, n_users: int = 3):
    def score_fn(users, movies):
        return table[np.asarray(users), np.asarray(movies) - n_users]

    return score_fn


@pytest.fixture
def rec(maps):
    return Recommender(table_score_fn(SCORES), maps, MOVIES, [TRAIN, TEST])


def test_top_n_excludes_every_rated_movie_and_sorts_by_score(rec):
    top = rec.top_n(1, n=2)
    assert list(top.columns) == ["movie_id", "title", "score"]
    # user 1 rated 101, 102 (train) and 103, 104, 105 (test): only 106 is left
    assert top["movie_id"].tolist() == [106]
    top3 = rec.top_n(3, n=3)  # user 3 rated 101, 106, 102
    assert top3["movie_id"].tolist() == [103, 104, 105]
    assert top3["title"].tolist() == ["Gamma (1992)", "Delta", "Epsilon"]
    assert top3["score"].tolist() == [4.0, 3.0, 2.0]
    assert top3["movie_id"].dtype == np.int64


def test_top_n_returns_n_distinct_unseen_movies_with_titles(maps):
    rec = Recommender(table_score_fn(SCORES), maps, MOVIES, TRAIN)
    top = rec.top_n(2, n=4)
    assert len(top) == 4 and top["movie_id"].is_unique
    assert 103 not in set(top["movie_id"])
    assert top["movie_id"].tolist() == [106, 105, 104, 102]
    assert top["score"].is_monotonic_decreasing
    titles = dict(zip(MOVIES["movie_id"], MOVIES["title"], strict=True))
    assert top["title"].tolist() == [titles[m] for m in top["movie_id"]]
    # asking for more than there is gives every unseen movie once
    assert len(rec.top_n(2, n=50)) == 5


def test_ties_are_broken_by_movie_id(maps):
    rec = Recommender(table_score_fn(np.zeros((3, 6))), maps, MOVIES, TRAIN)
    assert rec.top_n(2, n=3)["movie_id"].tolist() == [101, 102, 104]


def test_missing_title_gets_a_placeholder(maps):
    rec = Recommender(table_score_fn(SCORES), maps, MOVIES.iloc[:5], [TRAIN, TEST])
    top = rec.top_n(1, n=1)
    assert top["title"].tolist() == ["movie 106"]


def test_unknown_user_raises_one_line_error(rec):
    with pytest.raises(UnknownUserError) as info:
        rec.top_n(99999, n=5)
    message = str(info.value)
    assert "99999" in message and "\n" not in message and not message.startswith("'")
    assert isinstance(info.value, CourseError)


@pytest.mark.parametrize("n", [0, -3, 2.5, "ten"])
def test_bad_n_raises_course_error(rec, n):
    with pytest.raises(RecommendError) as info:
        rec.top_n(1, n=n)
    assert isinstance(info.value, CourseError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value) and "positive" in str(info.value)
    with pytest.raises(RecommendError):
        rec.similar_movies(101, n=n)


def node_embeddings(movie_vectors: list[list[float]], n_users: int = 3) -> np.ndarray:
    users = np.ones((n_users, len(movie_vectors[0])))
    return np.vstack([users, np.array(movie_vectors)])


MOVIE_VECTORS = [
    [1.0, 0.0, 0.0],  # 101
    [0.0, 1.0, 0.0],  # 102
    [0.7, 0.7, 0.1],  # 103
    [0.0, 0.0, 1.0],  # 104
    [1.4, 1.4, 0.2],  # 105: twin of 103 (same direction, twice as long)
    [-1.0, 0.0, 0.0],  # 106: opposite of 101
]


def test_similar_movies_finds_planted_twin_and_excludes_itself(maps):
    z = node_embeddings(MOVIE_VECTORS)
    rec = Recommender(table_score_fn(SCORES), maps, MOVIES, TRAIN, embedding_fn=lambda: z)
    sim = rec.similar_movies(103, n=5)
    assert list(sim.columns) == ["movie_id", "title", "similarity"]
    assert 103 not in set(sim["movie_id"])
    assert sim["movie_id"].iloc[0] == 105
    assert sim["similarity"].iloc[0] == pytest.approx(1.0)
    assert sim["similarity"].is_monotonic_decreasing
    assert len(sim) == 5 and sim["movie_id"].is_unique
    far = rec.similar_movies(101, n=5)
    assert far["movie_id"].iloc[-1] == 106
    assert far["similarity"].iloc[-1] == pytest.approx(-1.0)
    assert rec.movie_embeddings().shape == (6, 3)
    assert rec.user_embeddings().shape == (3, 3)


def test_similar_movies_accepts_movie_only_embeddings_and_checks_inputs(maps):
    rec = Recommender(
        table_score_fn(SCORES), maps, MOVIES, TRAIN, embedding_fn=lambda: np.array(MOVIE_VECTORS)
    )
    assert rec.similar_movies(105, n=1)["movie_id"].tolist() == [103]
    with pytest.raises(UnknownMovieError):
        rec.similar_movies(424242)
    bare = Recommender(table_score_fn(SCORES), maps, MOVIES, TRAIN)
    with pytest.raises(RecommendError, match="embedding_fn"):
        bare.similar_movies(101)
    wrong = Recommender(table_score_fn(SCORES), maps, embedding_fn=lambda: np.ones((4, 2)))
    with pytest.raises(ValueError, match="expected"):
        wrong.movie_embeddings()


def oracle(maps, test: pd.DataFrame, bonus_for: pd.DataFrame | None = None):
    """Scores = the test rating (0 elsewhere), plus 100 on ``bonus_for``'s pairs."""
    table = np.zeros((maps.num_users, maps.num_movies))
    u = maps.user_nodes(test["user_id"])
    m = maps.movie_nodes(test["movie_id"]) - maps.num_users
    table[u, m] = test["rating"]
    if bonus_for is not None:
        bu = maps.user_nodes(bonus_for["user_id"])
        bm = maps.movie_nodes(bonus_for["movie_id"]) - maps.num_users
        table[bu, bm] += 100.0
    return table_score_fn(table, maps.num_users)


def test_ranking_metrics_hand_computed(maps):
    # user 1: relevant {103, 104}; oracle top-2 = 103, 104 -> P=1, R=1, NDCG=1
    # user 2: relevant {101};      oracle top-2 = 101, ... -> P=1/2, R=1, NDCG=1
    # user 3: no test rating >= 4 -> skipped
    out = ranking_metrics(oracle(maps, TEST), TRAIN, TEST, maps, k=2)
    assert out == pytest.approx({"precision@2": 0.75, "recall@2": 1.0, "ndcg@2": 1.0})
    # scoring the training movies highest changes nothing: they are masked
    cheat = ranking_metrics(oracle(maps, TEST, bonus_for=TRAIN), TRAIN, TEST, maps, k=2)
    assert cheat == pytest.approx(out)
    # a higher threshold: only 5-star test ratings are relevant (103 for user 1, 101 for 2)
    strict = ranking_metrics(oracle(maps, TEST), TRAIN, TEST, maps, k=1, relevant_threshold=5)
    assert strict == pytest.approx({"precision@1": 1.0, "recall@1": 1.0, "ndcg@1": 1.0})


def test_ranking_metrics_agree_with_top_n_and_list_metrics(maps):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(maps.num_users, maps.num_movies))
    rec = Recommender(table_score_fn(table), maps, MOVIES, TRAIN)
    k = 3
    out = ranking_metrics(rec, TRAIN, TEST, maps, k=k)
    users = sorted(set(TEST.loc[TEST["rating"] >= 4, "user_id"]))
    recs = [rec.top_n(u, n=k)["movie_id"].tolist() for u in users]
    rel = [set(TEST.loc[(TEST["user_id"] == u) & (TEST["rating"] >= 4), "movie_id"]) for u in users]
    assert out["precision@3"] == pytest.approx(precision_at_k(recs, rel, k))
    assert out["recall@3"] == pytest.approx(recall_at_k(recs, rel, k))
    assert out["ndcg@3"] == pytest.approx(ndcg_at_k(recs, rel, k))


def test_constructor_points_models_to_from_model(maps):
    graph = build_graph(TRAIN, maps)
    with pytest.raises(TypeError, match="from_model"):
        Recommender(TinyModel(num_nodes=9), {}, graph, maps)


def test_ranking_metrics_validates_k(maps):
    with pytest.raises(RecommendError, match="k must be"):
        ranking_metrics(oracle(maps, TEST), TRAIN, TEST, maps, k=0)


def test_popularity_helpers(maps):
    # counts in TRAIN: 101 x2 (mean 3.5), 102, 103, 106 x1 (means 3, 4, 5), 104, 105 x0
    assert popularity_top_n(TRAIN, set(), n=3).tolist() == [101, 106, 103]
    assert popularity_top_n(TRAIN, {101, 106}, n=5).tolist() == [103, 102]
    with pytest.raises(RecommendError):
        popularity_top_n(TRAIN, set(), n=0)
    pop = Recommender(popularity_score_fn(TRAIN, maps), maps, MOVIES, TRAIN)
    assert pop.top_n(2, n=3)["movie_id"].tolist() == [101, 106, 102]
    out = ranking_metrics(popularity_score_fn(TRAIN, maps), TRAIN, TEST, maps, k=1)
    # user 1 gets 106 (1 rating, mean 5: not relevant), user 2 gets 101 (relevant)
    assert out["precision@1"] == pytest.approx(0.5)


def test_baseline_score_fn_matches_predict(maps):
    model = BiasBaseline(reg=1.0).fit(TRAIN)
    rec = Recommender(baseline_score_fn(model, maps), maps, MOVIES, TRAIN)
    top = rec.top_n(3, n=4)
    expected = model.predict(pd.DataFrame({"user_id": 3, "movie_id": top["movie_id"]}))
    np.testing.assert_allclose(top["score"], expected, rtol=1e-6)


class TinyModel(nn.Module):
    """Embeddings + one mean aggregation + dot product: enough to exercise from_model."""

    num_nodes: int

    def setup(self) -> None:
        self.embed = nn.Embed(self.num_nodes, 4)

    def encode(self, graph, train: bool = False):
        x = self.embed(jnp.asarray(graph.nodes)[:, 0])
        agg = jax.ops.segment_sum(x[graph.senders], graph.receivers, self.num_nodes)
        return x + 0.5 * agg

    def decode(self, z, users, movies):
        return jnp.sum(z[users] * z[movies], axis=-1)

    def __call__(self, graph, users, movies, train: bool = False):
        return self.decode(self.encode(graph, train), users, movies)


class TinyModelNoDecode(nn.Module):
    """Same interface without ``decode``: from_model must use the full forward pass."""

    num_nodes: int

    def setup(self) -> None:
        self.embed = nn.Embed(self.num_nodes, 4)
        self.scale = self.param("scale", nn.initializers.ones, ())

    def encode(self, graph, train: bool = False):
        return self.embed(jnp.asarray(graph.nodes)[:, 0])

    def __call__(self, graph, users, movies, train: bool = False):
        z = self.encode(graph, train)
        return self.scale * jnp.sum(z[users] * z[movies], axis=-1)


@pytest.mark.parametrize("cls", [TinyModel, TinyModelNoDecode])
def test_from_model_scores_and_embeds_like_apply(maps, cls):
    graph = build_graph(TRAIN, maps)
    model = cls(num_nodes=maps.num_nodes)
    users0 = np.zeros(1, np.int32)
    variables = model.init(jax.random.PRNGKey(0), graph, users0, users0 + maps.num_users)
    rec = Recommender.from_model(model, variables["params"], graph, maps, MOVIES, TRAIN)
    users = np.repeat(np.arange(3, dtype=np.int32), 6)
    movies = np.tile(np.arange(3, 9, dtype=np.int32), 3)
    direct = np.asarray(model.apply(variables, graph, users, movies))
    np.testing.assert_allclose(rec.score_fn(users, movies), direct, rtol=1e-5, atol=1e-6)
    z = np.asarray(model.apply(variables, graph, method=model.encode))
    np.testing.assert_allclose(rec.movie_embeddings(), z[3:], rtol=1e-5)
    top = rec.top_n(1, n=3)
    assert len(top) == 3 and not set(top["movie_id"]) & {101, 102}
    # the variables dict is accepted as well as the bare parameters
    rec2 = Recommender.from_model(model, variables, graph, maps, MOVIES, TRAIN)
    pd.testing.assert_frame_equal(rec2.top_n(1, n=3), top)


def test_from_model_clips_like_the_model_unless_told_not_to(maps):
    from gnnrec_course.config import build_model

    model = build_model(
        "default", num_nodes=maps.num_nodes, num_users=maps.num_users, rating_min=1.0,
        rating_max=5.0, rating_mean=3.8, init_std=3.0,
    )  # fmt: skip
    graph = build_graph(TRAIN, maps)
    users = np.repeat(np.arange(3, dtype=np.int32), 6)
    movies = np.tile(np.arange(3, 9, dtype=np.int32), 3)
    params = model.init(jax.random.PRNGKey(0), graph, users, movies)["params"]
    z = model.apply({"params": params}, graph, method=model.encode)
    raw = model.apply({"params": params}, z, users, movies, method=model.decode, clip=False)
    assert raw.min() < 1.0 or raw.max() > 5.0  # large embeddings: some scores leave the scale
    clipped = Recommender.from_model(model, params, graph, maps).score_fn(users, movies)
    unclipped = Recommender.from_model(model, params, graph, maps, clip=False).score_fn(
        users, movies
    )
    np.testing.assert_allclose(clipped, np.clip(raw, 1.0, 5.0), rtol=1e-5)
    np.testing.assert_allclose(unclipped, raw, rtol=1e-5)
