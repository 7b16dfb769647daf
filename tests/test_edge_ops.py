"""The edge-list default model and its chunked ops against small dense jnp formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from gnnrec_course.models import GCNRecommender, gcn_propagate
from gnnrec_course.models.edge_ops import gather_scatter, pair_dot, sort_by_receiver

U, M = 23, 17
N = U + M


def _graph(seed: int = 0, num_ratings: int = 120) -> tuple:
    """A random bipartite graph in ``build_graph``'s layout, and its ratings."""
    rng = np.random.default_rng(seed)
    pairs = rng.choice(U * M, size=num_ratings, replace=False)
    users = (pairs // M).astype(np.int32)
    movies = (U + pairs % M).astype(np.int32)
    ratings = rng.integers(1, 6, size=num_ratings).astype(np.float32)
    graph = jraph.GraphsTuple(
        nodes=jnp.arange(N, dtype=jnp.int32)[:, None],
        edges=jnp.asarray(np.concatenate([ratings, ratings])[:, None]),
        senders=jnp.asarray(np.concatenate([users, movies])),
        receivers=jnp.asarray(np.concatenate([movies, users])),
        n_node=jnp.asarray([N]),
        n_edge=jnp.asarray([2 * num_ratings]),
        globals=None,
    )
    return graph, users, movies, ratings


def _dense_prediction(model, params, graph, users, movies, ratings):
    """The model's formula written densely: jraph propagation, ``R @ V``, full dot products."""
    x = params["embed"]["embedding"]
    total = x
    for _ in range(model.num_layers):
        x = gcn_propagate(graph, x)
        total = total + x
    z = total / (model.num_layers + 1)
    bias = params["bias"]["embedding"][:, 0]
    pred_a = params["mu"] + bias[users] + bias[movies] + jnp.sum(z[users] * z[movies], axis=1)
    r = jnp.zeros((M, U)).at[movies - U, users].set(ratings)
    h = jax.nn.sigmoid(r @ params["user_in"] + params["hidden_bias"])
    pred_b = params["user_out_bias"][users] + jnp.sum(
        params["user_out"][users] * h[movies - U], axis=1
    )
    w = model.rating_weight
    return (1 - w) * pred_a + w * pred_b


@pytest.fixture(scope="module")
def setup():
    graph, users, movies, ratings = _graph()
    model = GCNRecommender(num_nodes=N, num_users=U, rating_hidden=8, embed_dim=4)
    params = model.init(jax.random.PRNGKey(0), graph, users[:2], movies[:2])["params"]
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    leaves = [x + 0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    params = jax.tree_util.tree_unflatten(tree, leaves)  # away from init: every term matters
    return model, params, graph, users, movies, ratings


@pytest.mark.parametrize("chunk_elems", [16, 2**20])  # many chunks / one chunk
def test_model_matches_dense_formula(setup, chunk_elems):
    model, params, graph, users, movies, ratings = setup
    model = model.clone(chunk_elems=chunk_elems)
    want = _dense_prediction(model, params, graph, users, movies, ratings)
    v = {"params": params}
    raw = model.apply(v, model.apply(v, graph, method=model.encode), users, movies,
                      method=model.decode, clip=False)  # fmt: skip
    np.testing.assert_allclose(raw, want, atol=1e-4, rtol=1e-4)
    assert float(jnp.std(want)) > 0.3
    clipped = model.apply(v, graph, users, movies)
    np.testing.assert_allclose(clipped, jnp.clip(want, 1.0, 5.0), atol=1e-4, rtol=1e-4)
    assert float(jnp.max(raw)) > 5.0 or float(jnp.min(raw)) < 1.0  # clipping did something


def test_gradients_match_dense_formula(setup):
    model, params, graph, users, movies, ratings = setup
    model = model.clone(chunk_elems=16)  # the chunked scan and pair_dot's custom VJP

    def edge_loss(p):
        pred = model.apply({"params": p}, graph, users, movies, train=True, mutable=["losses"])[0]
        return jnp.sum(jnp.sin(pred))

    def dense_loss(p):
        return jnp.sum(jnp.sin(_dense_prediction(model, p, graph, users, movies, ratings)))

    got, want = jax.grad(edge_loss)(params), jax.grad(dense_loss)(params)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)


def test_mask_removes_padding_from_penalties(setup):
    model, params, graph, users, movies, ratings = setup
    pad = 9
    pu, pm = np.concatenate([users, users[:pad]]), np.concatenate([movies, movies[:pad]])
    mask = np.concatenate([np.ones(len(users)), np.zeros(pad)]).astype(np.float32)
    v = {"params": params}
    plain = model.apply(v, graph, users, movies, train=True, mutable=["losses"])[1]
    masked = model.apply(v, graph, pu, pm, train=True, mask=mask, mutable=["losses"])[1]
    unmasked = model.apply(v, graph, pu, pm, train=True, mutable=["losses"])[1]
    for name in ("embedding_l2", "bias_l2", "branch_agreement", "rating_l2"):
        np.testing.assert_allclose(masked["losses"][name], plain["losses"][name], rtol=1e-5)
    assert not np.allclose(unmasked["losses"]["embedding_l2"], plain["losses"]["embedding_l2"])


@pytest.mark.parametrize("chunk_elems", [6, 2**20])
def test_gather_scatter_and_pair_dot(chunk_elems):
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(7, 3)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
    src, dst = rng.integers(0, 7, 11).astype(np.int32), rng.integers(0, 5, 11).astype(np.int32)
    weight = jnp.asarray(rng.normal(size=11), jnp.float32)
    dense = jnp.zeros((5, 7)).at[dst, src].add(weight) @ x
    got = gather_scatter(x, src, dst, 5, weight, chunk_elems=chunk_elems)
    np.testing.assert_allclose(got, dense, atol=1e-5)

    def f(x, y):
        return jnp.sum(pair_dot(x, y, src, dst, chunk_elems) * weight)

    def g(x, y):
        return jnp.sum(jnp.sum(x[src] * y[dst], axis=1) * weight)

    np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-5)
    for a, b in zip(jax.grad(f, (0, 1))(x, y), jax.grad(g, (0, 1))(x, y), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_sort_by_receiver_keeps_edges_halves_and_predictions(setup):
    model, params, graph, users, movies, ratings = setup
    ordered = sort_by_receiver(graph)
    e = len(users)
    for half in (slice(None, e), slice(e, None)):
        r = np.asarray(ordered.receivers[half])
        assert np.all(np.diff(r) >= 0)  # each half sorted by receiver
    assert np.all(np.asarray(ordered.senders[:e]) < U)  # the first half is still user->movie

    def triples(g):
        return sorted(zip(*(np.asarray(a).ravel().tolist() for a in
                            (g.senders, g.receivers, g.edges)), strict=True))  # fmt: skip

    assert triples(ordered) == triples(graph)  # same edges, each with its rating
    assert not np.array_equal(np.asarray(ordered.senders), np.asarray(graph.senders))
    v = {"params": params}
    np.testing.assert_allclose(
        model.apply(v, ordered, users, movies), model.apply(v, graph, users, movies), atol=1e-5
    )
