"""LightGCN: propagation against the dense formula, no self-loops, the shared model interface."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pandas as pd
import pytest

from gnnrec_course.graph import build_graph, build_id_maps
from gnnrec_course.models import LightGCN, gcn_propagate, lightgcn_propagate

# 3 users, 4 movies; user 3 and movie 40 share one edge; movie 50 has no interaction here.
PAIRS = [(1, 10), (1, 20), (2, 10), (2, 30), (3, 40), (1, 30)]


def _setup():
    frame = pd.DataFrame(PAIRS, columns=["user_id", "movie_id"]).assign(rating=4.0)
    catalogue = pd.concat([frame, pd.DataFrame({"user_id": [1], "movie_id": [50]})])
    maps = build_id_maps(catalogue)
    return frame, maps, build_graph(frame, maps)


def _dense_reference(frame, maps, e0, layers, self_loops=False):
    """mean_k Â^k E_0 with Â = D^-1/2 A D^-1/2 from the bipartite adjacency (numpy)."""
    n = maps.num_nodes
    a = np.zeros((n, n))
    users, movies = maps.user_nodes(frame.user_id), maps.movie_nodes(frame.movie_id)
    for u, m in zip(users, movies, strict=True):
        a[u, m] = a[m, u] = 1.0
    if self_loops:
        a = a + np.eye(n)
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    a_hat = inv[:, None] * a * inv[None, :]
    out, e = e0.copy(), e0.copy()
    for _ in range(layers):
        e = a_hat @ e
        out += e
    return out / (layers + 1)


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_propagation_matches_dense_formula(layers):
    frame, maps, graph = _setup()
    e0 = np.random.default_rng(0).normal(size=(maps.num_nodes, 5))
    got = lightgcn_propagate(graph, jnp.asarray(e0, jnp.float32), layers)
    np.testing.assert_allclose(got, _dense_reference(frame, maps, e0, layers), atol=1e-5)


@pytest.mark.parametrize("chunk_elems", [5, 7, 12])  # 1, 1 and 2 edges of width 5 a chunk
def test_chunked_propagation_matches_dense_formula_and_its_gradient(chunk_elems):
    frame, maps, graph = _setup()
    e0 = jnp.asarray(np.random.default_rng(2).normal(size=(maps.num_nodes, 5)), jnp.float32)
    got = lightgcn_propagate(graph, e0, 2, chunk_elems=chunk_elems)
    np.testing.assert_allclose(got, _dense_reference(frame, maps, np.asarray(e0), 2), atol=1e-5)

    def loss(x, chunk):
        return jnp.sum(jnp.sin(lightgcn_propagate(graph, x, 2, chunk_elems=chunk)))

    np.testing.assert_allclose(
        jax.grad(loss)(e0, chunk_elems), jax.grad(loss)(e0, 10**9), atol=1e-5
    )


def test_no_self_loops_differs_from_a_plus_i():
    frame, maps, graph = _setup()
    e0 = np.random.default_rng(1).normal(size=(maps.num_nodes, 4))
    got = np.asarray(lightgcn_propagate(graph, jnp.asarray(e0, jnp.float32), 1))
    with_loops = _dense_reference(frame, maps, e0, 1, self_loops=True)
    assert not np.allclose(got, with_loops, atol=1e-3)
    # ... and one step differs from the rating model's A + I propagation.
    x = jnp.asarray(e0, jnp.float32)
    assert not np.allclose(2 * got - e0, gcn_propagate(graph._replace(nodes=x), x), atol=1e-3)


def test_one_step_equals_jraph_graph_convolution_without_self_edges():
    _, maps, graph = _setup()
    x = jnp.asarray(np.random.default_rng(2).normal(size=(maps.num_nodes, 3)), jnp.float32)
    conv = jraph.GraphConvolution(
        update_node_fn=lambda h: h, add_self_edges=False, symmetric_normalization=True
    )
    one_step_mean = lightgcn_propagate(graph, x, 1)  # (x + Âx) / 2
    np.testing.assert_allclose(
        2 * one_step_mean - x, conv(graph._replace(nodes=x)).nodes, atol=1e-5
    )


def test_isolated_nodes_keep_their_share_of_e0():
    _, maps, graph = _setup()
    e0 = jnp.ones((maps.num_nodes, 2))
    z = lightgcn_propagate(graph, e0, 3)
    isolated = maps.movie_node(50)
    np.testing.assert_allclose(z[isolated], e0[isolated] / 4)


def test_model_interface_encode_decode_call():
    _, maps, graph = _setup()
    model = LightGCN(maps.num_nodes, embed_dim=8, num_layers=2)
    users, movies = jnp.array([0, 2]), jnp.array([3, 6])
    params = model.init(jax.random.key(0), graph, users, movies)
    e0 = params["params"]["embedding"]["embedding"]
    assert e0.shape == (maps.num_nodes, 8)
    z = model.apply(params, graph, method=model.encode)
    np.testing.assert_allclose(z, lightgcn_propagate(graph, e0, 2), atol=1e-6)
    expected = [z[0] @ z[3], z[2] @ z[6]]
    decoded = model.apply(params, z, users, movies, method=model.decode)
    np.testing.assert_allclose(decoded, expected, rtol=1e-5)
    for train in (False, True):
        np.testing.assert_allclose(
            model.apply(params, graph, users, movies, train=train), expected, rtol=1e-5
        )
