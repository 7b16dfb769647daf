"""Tests for gnnrec_course.graph: id maps, splits, the bipartite graph and jraph's GCN on it."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnnrec_course.errors import (
    CourseError,
    UnknownMovieError,
    UnknownSplitError,
    UnknownUserError,
)
from gnnrec_course.graph import (
    SPLITS,
    IdMaps,
    RatingEdges,
    RatingSplit,
    build_graph,
    build_id_maps,
    load_split,
    one_hot_features,
    rating_edges,
    split_ratings,
)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def make_ratings(n_users: int = 12, n_movies: int = 9, n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Ratings with unique (user, movie) pairs and non-contiguous raw ids (users 10, 13, ...)."""
    rng = np.random.default_rng(seed)
    n = min(n, n_users * n_movies)
    cells = rng.choice(n_users * n_movies, size=n, replace=False)
    users = 10 + 3 * (cells // n_movies)
    movies = 100 + 7 * (cells % n_movies)
    return pd.DataFrame(
        {
            "user_id": users.astype(np.int64),
            "movie_id": movies.astype(np.int64),
            "rating": rng.integers(1, 6, size=n).astype(np.float32),
            "timestamp": np.arange(n, dtype=np.int64) + 880_000_000,
        }
    )


def pairs(df: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(df["user_id"].tolist(), df["movie_id"].tolist(), strict=True))


def graph_pairs(graph: jraph.GraphsTuple) -> set[tuple[int, int]]:
    return set(zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True))


def dense_gcn(senders, receivers, n: int, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """D^-1/2 (A+I) D^-1/2 X W with numpy, A[i, j] = number of edges j -> i."""
    a = np.zeros((n, n))
    np.add.at(a, (np.asarray(receivers), np.asarray(senders)), 1.0)
    a_hat = a + np.eye(n)
    d = a_hat.sum(axis=1)
    norm = a_hat / np.sqrt(np.outer(d, d))
    return norm @ x @ w


def _apply_gcn(
    graph: jraph.GraphsTuple, x, w=None, *, normalise: bool = True, self_edges: bool = True
):
    """jraph.GraphConvolution (update h @ w, or identity) on ``graph`` with node features ``x``."""
    gcn = jraph.GraphConvolution(
        update_node_fn=(lambda h: h) if w is None else (lambda h: h @ w),
        add_self_edges=self_edges,
        symmetric_normalization=normalise,
    )
    return gcn(graph._replace(nodes=x)).nodes


# one jit per shape is much faster than JAX's op-by-op dispatch of the same code
_apply_gcn_jit = jax.jit(_apply_gcn, static_argnames=("normalise", "self_edges"))


def _as_jax(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    return graph._replace(
        nodes=None,
        edges=None,
        senders=jnp.asarray(graph.senders),
        receivers=jnp.asarray(graph.receivers),
        n_node=jnp.asarray(graph.n_node),
        n_edge=jnp.asarray(graph.n_edge),
    )


def jraph_gcn(graph: jraph.GraphsTuple, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """add_self_edges=True, symmetric_normalization=True, update_node_fn = h @ w; [N, F] out."""
    return np.asarray(_apply_gcn_jit(_as_jax(graph), jnp.asarray(x), jnp.asarray(w)))


def in_degrees(graph: jraph.GraphsTuple, add_self_edges: bool) -> np.ndarray:
    """Edges each node receives as jraph's GraphConvolution counts them (ones in, no norm)."""
    n = int(np.asarray(graph.n_node).sum())
    out = _apply_gcn_jit(
        _as_jax(graph), jnp.ones((n, 1)), normalise=False, self_edges=add_self_edges
    )
    return np.asarray(out)[:, 0].astype(int)


# ---------------------------------------------------------------------------------------------
# id maps
# ---------------------------------------------------------------------------------------------


def test_id_maps_layout():
    df = make_ratings()
    maps = build_id_maps(df)
    assert maps.num_users == df["user_id"].nunique()
    assert maps.num_movies == df["movie_id"].nunique()
    assert maps.num_nodes == maps.num_users + maps.num_movies
    users = maps.user_nodes(df["user_id"])
    movies = maps.movie_nodes(df["movie_id"])
    assert users.dtype == np.int32 and movies.dtype == np.int32
    assert users.min() == 0 and users.max() == maps.num_users - 1
    assert movies.min() == maps.num_users and movies.max() == maps.num_nodes - 1
    # node order follows raw id order
    assert maps.user_node(int(maps.user_ids[0])) == 0
    assert maps.movie_node(int(maps.movie_ids[-1])) == maps.num_nodes - 1


@settings(max_examples=60, deadline=None)
@given(
    users=st.sets(st.integers(-(10**12), 10**12), min_size=1, max_size=40),
    movies=st.sets(st.integers(0, 10**9), min_size=1, max_size=40),
)
def test_id_maps_round_trip(users, movies):
    maps = IdMaps(np.array(sorted(users)), np.array(sorted(movies)))
    raw_u = np.array(list(users), dtype=np.int64)
    raw_m = np.array(list(movies), dtype=np.int64)
    nodes_u = maps.user_nodes(raw_u)
    nodes_m = maps.movie_nodes(raw_m)
    np.testing.assert_array_equal(maps.user_ids_of(nodes_u), raw_u)
    np.testing.assert_array_equal(maps.movie_ids_of(nodes_m), raw_m)
    assert sorted(nodes_u.tolist()) == list(range(len(users)))
    assert sorted(nodes_m.tolist()) == list(range(len(users), len(users) + len(movies)))
    for raw in list(users)[:5]:
        assert maps.user_of(maps.user_node(raw)) == raw
    for raw in list(movies)[:5]:
        assert maps.movie_of(maps.movie_node(raw)) == raw


@settings(max_examples=40, deadline=None)
@given(
    known=st.sets(st.integers(0, 1000), min_size=1, max_size=30),
    probe=st.integers(-5, 1005),
)
def test_unknown_ids_are_detected(known, probe):
    maps = IdMaps(np.array(sorted(known)), np.array(sorted(known)))
    if probe in known:
        assert maps.user_of(maps.user_node(probe)) == probe
        assert maps.has_user(probe) and maps.has_movie(probe)
    else:
        assert not maps.has_user(probe)
        with pytest.raises(UnknownUserError):
            maps.user_nodes(np.array(sorted(known) + [probe]))
        with pytest.raises(UnknownMovieError):
            maps.movie_node(probe)


def test_unknown_user_message_is_one_line_naming_the_id():
    df = pd.DataFrame({"user_id": [1, 2, 943], "movie_id": [1, 5, 1682], "rating": [3.0] * 3})
    maps = build_id_maps(df, name="ml-100k")
    with pytest.raises(UnknownUserError) as info:
        maps.user_node(99999)
    msg = str(info.value)
    assert "\n" not in msg
    assert "99999" in msg and "ml-100k" in msg
    assert "1" in msg and "943" in msg
    assert isinstance(info.value, CourseError)
    # vectorised: names the unknown id, not the first id of the batch
    with pytest.raises(UnknownUserError, match="User 555 "):
        maps.user_nodes(np.array([1, 2, 555, 943]))
    with pytest.raises(UnknownMovieError) as info:
        maps.movie_node(np.int64(7))
    assert str(info.value).startswith("Movie 7 is not in ml-100k")
    assert "\n" not in str(info.value)


def test_node_to_raw_rejects_wrong_kind():
    maps = build_id_maps(make_ratings())
    with pytest.raises(ValueError):
        maps.user_of(maps.num_users)  # the first movie node
    with pytest.raises(ValueError):
        maps.movie_of(0)  # a user node


def test_id_maps_reject_unsorted_ids():
    with pytest.raises(ValueError):
        IdMaps(np.array([3, 1]), np.array([1]))


# ---------------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), seed=st.integers(0, 2**32 - 1))
def test_split_is_a_partition_of_the_right_size(n, seed):
    df = make_ratings(n_users=20, n_movies=20, n=n, seed=1)
    split = split_ratings(df, seed=seed)
    assert isinstance(split, RatingSplit) and split.seed == seed and split.name == "random"
    parts = [pairs(split.train), pairs(split.val), pairs(split.test)]
    assert sum(len(p) for p in parts) == len(df)  # nothing duplicated
    assert parts[0].isdisjoint(parts[1]) and parts[0].isdisjoint(parts[2])
    assert parts[1].isdisjoint(parts[2])
    assert set.union(*parts) == pairs(df)  # nothing lost
    assert abs(len(split.val) - 0.1 * n) <= 1
    assert abs(len(split.test) - 0.1 * n) <= 1
    assert abs(len(split.train) - 0.8 * n) <= 1
    assert list(split.train.columns) == list(df.columns)
    assert split.train.dtypes.equals(df.dtypes)


def test_split_is_deterministic_for_a_seed():
    df = make_ratings(n_users=30, n_movies=30, n=400)
    a, b = split_ratings(df, seed=7), split_ratings(df, seed=7)
    for part in ("train", "val", "test"):
        pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part))
    c = split_ratings(df, seed=8)
    assert pairs(c.test) != pairs(a.test)


def test_split_rejects_bad_fractions():
    df = make_ratings()
    with pytest.raises(ValueError):
        split_ratings(df, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError):
        split_ratings(df, val_fraction=-0.1)


def _fake_dataset(name: str, ratings: pd.DataFrame, path: Path | None = None):
    return types.SimpleNamespace(name=name, ratings=ratings, path=path)


def test_load_split_random_matches_split_ratings():
    df = make_ratings(n=80)
    split = load_split(_fake_dataset("ml-100k", df), "random", seed=3)
    pd.testing.assert_frame_equal(split.test, split_ratings(df, seed=3).test)
    assert split.name == "random"


@pytest.mark.parametrize(
    ("dataset", "split"),
    [("ml-100k", "u6"), ("ml-100k", "temporal"), ("ml-latest-small", "u1"), ("ml-1m", "bogus")],
)
def test_unknown_split_lists_valid_ones(dataset, split):
    with pytest.raises(UnknownSplitError) as info:
        load_split(_fake_dataset(dataset, make_ratings()), split)
    msg = str(info.value)
    assert "\n" not in msg and repr(split) in msg and "random" in msg
    if dataset == "ml-100k":
        assert all(name in msg for name in SPLITS)


def test_load_split_fold_uses_base_and_test(monkeypatch, tmp_path):
    """u1..u5: test = uN.test, val = a seeded 10 % of uN.base (load_fold faked here)."""
    base = make_ratings(n_users=20, n_movies=20, n=200, seed=1)
    test = make_ratings(n_users=20, n_movies=20, n=50, seed=2)
    calls = []

    def load_fold(fold, root=None):
        calls.append((fold, root))
        return base.copy(), test.copy()

    fake = types.ModuleType("gnnrec_course.data")
    fake.load_fold = load_fold
    monkeypatch.setitem(sys.modules, "gnnrec_course.data", fake)

    dataset = _fake_dataset("ml-100k", base, path=tmp_path / "ml-100k")
    split = load_split(dataset, "u2", seed=5)
    assert calls == [("u2", tmp_path)]  # folds come from where the dataset was loaded
    assert split.name == "u2" and split.seed == 5
    pd.testing.assert_frame_equal(split.test, test)
    assert len(split.val) == 20 and len(split.train) == 180
    assert pairs(split.train) | pairs(split.val) == pairs(base)
    assert pairs(split.train).isdisjoint(pairs(split.val))
    again = load_split(dataset, "u2", seed=5, root=tmp_path / "elsewhere")
    assert calls[-1] == ("u2", tmp_path / "elsewhere")
    pd.testing.assert_frame_equal(again.val, split.val)


def _real_root() -> Path | None:
    root = os.environ.get("GNNREC_DATA_DIR")
    if root and (Path(root) / "ml-100k" / "u1.base").is_file():
        return Path(root)
    return None


@pytest.mark.realdata
@pytest.mark.skipif(_real_root() is None, reason="GNNREC_DATA_DIR has no ml-100k")
def test_load_split_u1_on_real_data():
    from gnnrec_course.data import load_dataset

    root = _real_root()
    dataset = load_dataset("ml-100k", root)
    split = load_split(dataset, "u1", seed=0)
    assert len(split.train) + len(split.val) == 80_000
    assert len(split.val) == 8_000
    assert len(split.test) == 20_000
    assert pairs(split.test).isdisjoint(pairs(split.train) | pairs(split.val))
    maps = build_id_maps(dataset.ratings, name=dataset.name)
    assert (maps.num_users, maps.num_movies) == (943, 1682)
    graph = build_graph(split.train, maps)
    assert graph.senders.shape == (2 * 72_000,)
    assert not graph_pairs(graph) & {
        (maps.user_node(u), maps.movie_node(m)) for u, m in pairs(split.test)
    }


# ---------------------------------------------------------------------------------------------
# edges and graph
# ---------------------------------------------------------------------------------------------


def test_rating_edges():
    df = make_ratings()
    maps = build_id_maps(df)
    e = rating_edges(df, maps)
    assert isinstance(e, RatingEdges) and len(e) == len(df)
    assert e.users.dtype == np.int32 and e.movies.dtype == np.int32
    assert e.ratings.dtype == np.float32
    np.testing.assert_array_equal(maps.user_ids_of(e.users), df["user_id"].to_numpy())
    np.testing.assert_array_equal(maps.movie_ids_of(e.movies), df["movie_id"].to_numpy())
    np.testing.assert_array_equal(e.ratings, df["rating"].to_numpy())


def test_graph_shapes_and_dtypes():
    df = make_ratings()
    maps = build_id_maps(df)
    g = build_graph(df, maps)
    n, e = maps.num_nodes, len(df)
    assert g.nodes.shape == (n, 1) and g.nodes.dtype == np.int32
    np.testing.assert_array_equal(g.nodes[:, 0], np.arange(n))
    assert g.edges.shape == (2 * e, 1) and g.edges.dtype == np.float32
    assert g.senders.shape == g.receivers.shape == (2 * e,)
    assert g.senders.dtype == np.int32 and g.receivers.dtype == np.int32
    np.testing.assert_array_equal(g.n_node, [n])
    np.testing.assert_array_equal(g.n_edge, [2 * e])
    assert g.globals is None
    assert not np.any(g.senders == g.receivers)  # no self-loops
    x = one_hot_features(g)
    assert x.shape == (n, n) and x.dtype == np.float32
    np.testing.assert_array_equal(x, np.eye(n))


def test_edges_go_both_ways_and_carry_the_rating():
    df = make_ratings()
    maps = build_id_maps(df)
    g = build_graph(df, maps)
    rating_of = {
        (maps.user_node(u), maps.movie_node(m)): r
        for u, m, r in zip(df["user_id"], df["movie_id"], df["rating"], strict=True)
    }
    for s, r, w in zip(g.senders, g.receivers, g.edges[:, 0], strict=True):
        key = (s, r) if s < maps.num_users else (r, s)
        assert rating_of[(int(key[0]), int(key[1]))] == w
    forward = graph_pairs(g)
    assert forward == {(r, s) for s, r in forward}  # symmetric
    assert len(forward) == 2 * len(df)


def test_degrees_match_rating_counts():
    df = make_ratings(n_users=15, n_movies=11, n=90)
    maps = build_id_maps(df)
    g = build_graph(df, maps)
    n = maps.num_nodes
    expected = np.zeros(n, dtype=int)
    counts = df["user_id"].value_counts()
    expected[maps.user_nodes(counts.index)] = counts.to_numpy()
    counts = df["movie_id"].value_counts()
    expected[maps.movie_nodes(counts.index)] = counts.to_numpy()
    np.testing.assert_array_equal(np.bincount(g.receivers, minlength=n), expected)
    np.testing.assert_array_equal(np.bincount(g.senders, minlength=n), expected)
    # as jraph's GCN counts them: the rating count, plus one self edge
    np.testing.assert_array_equal(in_degrees(g, add_self_edges=True), expected + 1)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(10, 200), seed=st.integers(0, 10_000))
def test_graph_holds_no_validation_or_test_rating(n, seed):
    df = make_ratings(n_users=20, n_movies=15, n=n, seed=seed)
    maps = build_id_maps(df)  # all ratings: node identity is not leakage
    split = split_ratings(df, seed=seed)
    g = build_graph(split.train, maps)
    edges = graph_pairs(g)
    for held_out in (split.val, split.test):
        for u, m in pairs(held_out):
            un, mn = maps.user_node(u), maps.movie_node(m)
            assert (un, mn) not in edges and (mn, un) not in edges
    assert len(edges) == 2 * len(split.train)
    # every node still exists, even one whose ratings are all held out
    assert g.nodes.shape[0] == maps.num_nodes


# ---------------------------------------------------------------------------------------------
# jraph's GraphConvolution on our graph, and its traps
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jraph_gcn_equals_dense_formula(seed):
    df = make_ratings(n_users=8, n_movies=6, n=25, seed=seed)
    maps = build_id_maps(df)
    g = build_graph(df, maps)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(maps.num_nodes, 5)).astype(np.float32)
    w = rng.normal(size=(5, 3)).astype(np.float32)
    expected = dense_gcn(g.senders, g.receivers, maps.num_nodes, x, w)
    np.testing.assert_allclose(jraph_gcn(g, x, w), expected, rtol=1e-4, atol=1e-5)


def test_one_hot_features_times_w_is_an_embedding_lookup():
    df = make_ratings(n_users=5, n_movies=4, n=12)
    g = build_graph(df, build_id_maps(df))
    n = int(g.n_node[0])
    w = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    np.testing.assert_allclose(one_hot_features(g) @ w, w[g.nodes[:, 0]])
    np.testing.assert_allclose(
        jraph_gcn(g, one_hot_features(g), w),
        dense_gcn(g.senders, g.receivers, n, np.eye(n), w),
        rtol=1e-4,
        atol=1e-5,
    )


def test_trap_one_direction_edges_give_wrong_normalisation():
    """With only user→movie edges, users receive nothing and the normalisation is lopsided."""
    df = make_ratings(n_users=8, n_movies=6, n=25)
    maps = build_id_maps(df)
    g = build_graph(df, maps)
    e = len(df)
    one_way = g._replace(
        senders=g.senders[:e], receivers=g.receivers[:e], edges=g.edges[:e], n_edge=np.array([e])
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(maps.num_nodes, 4)).astype(np.float32)
    w = np.eye(4, dtype=np.float32)
    right = dense_gcn(g.senders, g.receivers, maps.num_nodes, x, w)
    wrong = jraph_gcn(one_way, x, w)
    assert not np.allclose(wrong, right, atol=1e-3)
    # users see only themselves: changing every movie's features leaves user outputs unchanged
    x2 = x.copy()
    x2[maps.num_users :] += 10.0
    u = maps.num_users
    np.testing.assert_allclose(jraph_gcn(one_way, x2, w)[:u], wrong[:u], rtol=1e-5)
    assert not np.allclose(jraph_gcn(g, x2, w)[:u], jraph_gcn(g, x, w)[:u])


def test_trap_add_self_edges_adds_a_loop_even_where_one_exists():
    """A graph that already has a self-loop gets a second one: degree + 2, not + 1."""
    # path 0 - 1 - 2 (both directions) plus an existing self-loop on node 1
    senders = np.array([0, 1, 1, 2, 1], dtype=np.int32)
    receivers = np.array([1, 0, 2, 1, 1], dtype=np.int32)
    g = jraph.GraphsTuple(
        nodes=np.arange(3, dtype=np.int32)[:, None],
        edges=None,
        senders=senders,
        receivers=receivers,
        n_node=np.array([3]),
        n_edge=np.array([5]),
        globals=None,
    )
    degree_without_loop = np.array([1, 2, 1])
    np.testing.assert_array_equal(
        in_degrees(g, add_self_edges=False), degree_without_loop + [0, 1, 0]
    )
    np.testing.assert_array_equal(
        in_degrees(g, add_self_edges=True), degree_without_loop + [1, 2, 1]
    )
    # so the output is not the textbook D^-1/2 (A+I) D^-1/2 X of the loop-free graph
    x = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
    w = np.eye(2, dtype=np.float32)
    textbook = dense_gcn(senders[:4], receivers[:4], 3, x, w)
    assert not np.allclose(jraph_gcn(g, x, w), textbook, atol=1e-3)
    # ...it is that formula with the loop counted twice (diagonal weight 2 on node 1)
    np.testing.assert_allclose(
        jraph_gcn(g, x, w), dense_gcn(senders, receivers, 3, x, w), rtol=1e-4, atol=1e-5
    )
    # our graphs never contain self-loops, so add_self_edges=True is exactly right for them


def test_trap_1d_node_features_broadcast_silently():
    """Node features of shape [N] (not [N, 1]) give an [N, N] output instead of an error."""
    df = make_ratings(n_users=4, n_movies=3, n=8)
    g = build_graph(df, build_id_maps(df))
    n = int(g.n_node[0])
    out_1d = _apply_gcn_jit(_as_jax(g), jnp.ones(n))
    out_2d = _apply_gcn_jit(_as_jax(g), jnp.ones((n, 1)))
    assert out_1d.shape == (n, n)  # silently wrong
    assert out_2d.shape == (n, 1)
