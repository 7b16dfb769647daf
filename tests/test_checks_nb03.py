"""The self-checks of notebook 03 reject wrong answers, skip stubs and pass the reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from gnnrec_course.checks import nb03
from gnnrec_course.reference import gcn as ref

# --- deliberately wrong implementations -------------------------------------------------


def _deg(receivers, num_nodes):
    ones = jnp.ones(receivers.shape[0], dtype=jnp.float32)
    return jax.ops.segment_sum(ones, receivers, num_segments=num_nodes)


def norm_no_sqrt(senders, receivers, num_nodes):
    deg = _deg(receivers, num_nodes)
    return 1.0 / (deg[senders] * deg[receivers])


def norm_mean(senders, receivers, num_nodes):
    return 1.0 / _deg(receivers, num_nodes)[receivers]


def norm_extra_loop(senders, receivers, num_nodes):
    deg = _deg(receivers, num_nodes) + 1.0
    return 1.0 / jnp.sqrt(deg[senders] * deg[receivers])


def norm_per_node(senders, receivers, num_nodes):
    return 1.0 / jnp.sqrt(_deg(receivers, num_nodes))


def norm_without_loops(senders, receivers, num_nodes):
    """Removes the self-loops before counting: node 5 gets degree 0."""
    deg = _deg(receivers, num_nodes) - 1.0
    return 1.0 / jnp.sqrt(deg[senders] * deg[receivers])


def norm_no_return(senders, receivers, num_nodes):
    _deg(receivers, num_nodes)


def gcn_no_loops(x, senders, receivers, num_nodes, w):
    deg = jnp.maximum(_deg(receivers, num_nodes), 1.0)
    norm = jax.lax.rsqrt(deg[senders] * deg[receivers])
    return jax.ops.segment_sum((x @ w)[senders] * norm[:, None], receivers, num_nodes)


def gcn_unnormalised(x, senders, receivers, num_nodes, w):
    s, r = ref.add_self_loops(senders, receivers, num_nodes)
    return jax.ops.segment_sum((x @ w)[s], r, num_segments=num_nodes)


def gcn_mean(x, senders, receivers, num_nodes, w):
    s, r = ref.add_self_loops(senders, receivers, num_nodes)
    summed = jax.ops.segment_sum((x @ w)[s], r, num_segments=num_nodes)
    return summed / _deg(r, num_nodes)[:, None]


def gcn_no_weights(x, senders, receivers, num_nodes, w):
    return ref.gcn_layer(x, senders, receivers, num_nodes, jnp.eye(x.shape[1]))


def gcn_no_num_segments(x, senders, receivers, num_nodes, w):
    """No self-loops and no num_segments: the rating-less last node disappears."""
    deg = jax.ops.segment_sum(jnp.ones_like(receivers, dtype=jnp.float32), receivers)
    norm = jax.lax.rsqrt(deg[senders] * deg[receivers])
    return jax.ops.segment_sum((x @ w)[senders] * norm[:, None], receivers)


def decoder_matrix(h, users, movies, rating_min, rating_max):
    return rating_min + (rating_max - rating_min) * jax.nn.sigmoid(h[users] @ h[movies].T)


def decoder_one_to_five(h, users, movies, rating_min, rating_max):
    return 1.0 + 4.0 * jax.nn.sigmoid(jnp.sum(h[users] * h[movies], axis=-1))


def decoder_unscaled(h, users, movies, rating_min, rating_max):
    return jax.nn.sigmoid(jnp.sum(h[users] * h[movies], axis=-1))


def decoder_no_sigmoid(h, users, movies, rating_min, rating_max):
    return rating_min + (rating_max - rating_min) * jnp.sum(h[users] * h[movies], axis=-1)


def decoder_times_max(h, users, movies, rating_min, rating_max):
    return rating_min + rating_max * jax.nn.sigmoid(jnp.sum(h[users] * h[movies], axis=-1))


def decoder_keepdims(h, users, movies, rating_min, rating_max):
    return ref.dot_product_decoder(h, users, movies, rating_min, rating_max)[:, None]


CHECKS = [
    ("3.1", nb03.check_symmetric_norm_weights, ref.symmetric_norm_weights),
    ("3.2", nb03.check_gcn_layer, ref.gcn_layer),
    ("3.3", nb03.check_dot_product_decoder, ref.dot_product_decoder),
]

WRONG = [
    ("3.1", nb03.check_symmetric_norm_weights, norm_no_sqrt, "square root"),
    ("3.1", nb03.check_symmetric_norm_weights, norm_mean, "random-walk"),
    ("3.1", nb03.check_symmetric_norm_weights, norm_extra_loop, "do not add 1"),
    ("3.1", nb03.check_symmetric_norm_weights, norm_per_node, "one weight per edge"),
    ("3.1", nb03.check_symmetric_norm_weights, norm_without_loops, "inf or NaN"),
    ("3.1", nb03.check_symmetric_norm_weights, norm_no_return, "return"),
    ("3.2", nb03.check_gcn_layer, gcn_no_loops, "no self-loops"),
    ("3.2", nb03.check_gcn_layer, gcn_unnormalised, "without normalisation"),
    ("3.2", nb03.check_gcn_layer, gcn_mean, "mean normalisation"),
    ("3.2", nb03.check_gcn_layer, gcn_no_weights, "multiply by w"),
    ("3.2", nb03.check_gcn_layer, gcn_no_num_segments, "num_segments"),
    ("3.3", nb03.check_dot_product_decoder, decoder_matrix, "row-wise dot product"),
    ("3.3", nb03.check_dot_product_decoder, decoder_one_to_five, "rating_min and rating_max"),
    ("3.3", nb03.check_dot_product_decoder, decoder_unscaled, "(0, 1)"),
    ("3.3", nb03.check_dot_product_decoder, decoder_no_sigmoid, "sigmoid"),
    ("3.3", nb03.check_dot_product_decoder, decoder_times_max, "width of the range"),
    ("3.3", nb03.check_dot_product_decoder, decoder_keepdims, "axis=-1"),
]


def _random_bipartite(seed: int = 0, users: int = 7, movies: int = 5, ratings: int = 15):
    """A random undirected user–movie graph (both directions, no self-loops, no duplicates)."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(users * movies, size=ratings, replace=False)
    u, m = (cells // movies).astype(np.int32), (cells % movies + users).astype(np.int32)
    return np.concatenate([u, m]), np.concatenate([m, u]), users + movies


def test_reference_gcn_layer_matches_jraph():
    senders, receivers, n = _random_bipartite()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    graph = jraph.GraphsTuple(
        nodes=jnp.asarray(x),
        edges=None,
        senders=jnp.asarray(senders),
        receivers=jnp.asarray(receivers),
        n_node=jnp.array([n]),
        n_edge=jnp.array([len(senders)]),
        globals=None,
    )
    conv = jraph.GraphConvolution(
        update_node_fn=lambda h: h @ w, add_self_edges=True, symmetric_normalization=True
    )
    np.testing.assert_allclose(
        ref.gcn_layer(jnp.asarray(x), senders, receivers, n, w), conv(graph).nodes, atol=1e-5
    )


def test_reference_gcn_layer_matches_dense_formula():
    senders, receivers, n = _random_bipartite(seed=3)
    a = np.zeros((n, n))
    a[receivers, senders] = 1.0
    a_hat = a + np.eye(n)
    d = np.diag(a_hat.sum(axis=1) ** -0.5)
    x = np.random.default_rng(2).normal(size=(n, 2)).astype(np.float32)
    w = np.eye(2, dtype=np.float32)
    np.testing.assert_allclose(
        ref.gcn_layer(jnp.asarray(x), senders, receivers, n, w), d @ a_hat @ d @ x, atol=1e-5
    )


def test_reference_decoder_stays_in_range():
    h = jnp.asarray(np.random.default_rng(0).normal(size=(6, 8)) * 10)
    out = np.asarray(ref.dot_product_decoder(h, jnp.arange(3), jnp.arange(3, 6), 0.5, 5.0))
    assert out.shape == (3,)
    assert np.all((out >= 0.5) & (out <= 5.0))
