"""Appendix A1: the NNX models equal the Linen ones, and the self-check tells right from wrong."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gnnrec_course.checks import a1
from gnnrec_course.data import synthetic_dataset
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges
from gnnrec_course.models import TutorialGCN as LinenTutorialGCN
from gnnrec_course.models import default_model, gcn_propagate
from gnnrec_course.reference import nnx_models as ref

# --- deliberately wrong answers: the reference with one mistake in __call__ ---------------


def _layers(model, graph):
    x = model.embed(ref.node_ids(graph))
    layers = [x]
    for _ in range(model.num_layers):
        layers.append(gcn_propagate(graph, layers[-1]))
    return layers


def _decode(model, z, users, movies, train, with_bias=True):
    pred = model.mu[...] + jnp.sum(z[users] * z[movies], axis=-1)
    if with_bias:
        pred = pred + model.bias(users)[:, 0] + model.bias(movies)[:, 0]
    return pred if train else jnp.clip(pred, model.rating_min, model.rating_max)


class LastLayerOnly(ref.BranchA):
    def __call__(self, graph, users, movies, train=False):
        return _decode(self, _layers(self, graph)[-1], users, movies, train)


class SumOfLayers(ref.BranchA):
    def __call__(self, graph, users, movies, train=False):
        return _decode(self, sum(_layers(self, graph)), users, movies, train)


class NoBiases(ref.BranchA):
    def __call__(self, graph, users, movies, train=False):
        z = sum(_layers(self, graph)) / (self.num_layers + 1)
        return _decode(self, z, users, movies, train, with_bias=False)


class NeverClipped(ref.BranchA):
    def __call__(self, graph, users, movies, train=False):
        return super().__call__(graph, users, movies, train=True)


class AlwaysClipped(ref.BranchA):
    def __call__(self, graph, users, movies, train=False):
        return super().__call__(graph, users, movies, train=False)


class BiasNotSqueezed(ref.BranchA):
    def __call__(self, graph, users, movies, train=False):
        z = sum(_layers(self, graph)) / (self.num_layers + 1)
        return self.mu[...] + self.bias(users) + jnp.sum(z[users] * z[movies], axis=-1)


class RenamedBias(nnx.Module):
    def __init__(
        self, num_nodes, rating_min, rating_max, *, embed_dim, num_layers, rating_mean, rngs
    ):
        self.embed = nnx.Embed(num_nodes, embed_dim, rngs=rngs)
        self.user_bias = nnx.Embed(num_nodes, 1, rngs=rngs)
        self.mu = nnx.Param(jnp.asarray(rating_mean))

    def __call__(self, graph, users, movies, train=False):
        raise AssertionError("never reached: the weights do not fit")


CHECKS = [("A1.1", a1.check_branch_a, ref.BranchA)]
WRONG = [
    ("A1.1", a1.check_branch_a, LastLayerOnly, "only the last layer"),
    ("A1.1", a1.check_branch_a, SumOfLayers, "you summed the layers"),
    ("A1.1", a1.check_branch_a, NoBiases, "the biases are missing"),
    ("A1.1", a1.check_branch_a, NeverClipped, "clip the prediction"),
    ("A1.1", a1.check_branch_a, AlwaysClipped, "return the raw prediction"),
    ("A1.1", a1.check_branch_a, BiasNotSqueezed, "take [:, 0]"),
    ("A1.1", a1.check_branch_a, RenamedBias, "keep the attributes"),
]


# The promise every check keeps (fallback with a hint, strict mode, stubs, the reference
# passes) is tested with the tables above in tests/test_checks_contract.py.


# --- the reference NNX models equal the Linen models ------------------------------------


@pytest.fixture(scope="module")
def small_graph():
    data = synthetic_dataset(n_users=15, n_movies=11, density=0.4, seed=5)
    maps = build_id_maps(data.ratings, name="synthetic")
    pairs = rating_edges(data.ratings, maps)
    return data, maps, build_graph(data.ratings, maps), pairs


def test_tutorial_gcn_matches_linen(small_graph):
    data, maps, graph, pairs = small_graph
    linen = LinenTutorialGCN(
        num_nodes=maps.num_nodes,
        rating_min=data.rating_min,
        rating_max=data.rating_max,
        embed_dim=8,
        hidden=(6, 5),
    )
    params = linen.init(jax.random.key(1), graph, pairs.users, pairs.movies)
    nnx_model = ref.TutorialGCN(
        maps.num_nodes,
        data.rating_min,
        data.rating_max,
        embed_dim=8,
        hidden=(6, 5),
        rngs=nnx.Rngs(2),
    )
    before = np.asarray(nnx_model(graph, pairs.users, pairs.movies))
    expected = np.asarray(linen.apply(params, graph, pairs.users, pairs.movies))
    assert not np.allclose(before, expected)  # different initial weights ...
    ref.copy_linen_params(params, nnx_model)
    out = np.asarray(nnx_model(graph, pairs.users, pairs.movies))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)  # ... same after the copy


@pytest.mark.parametrize("train", [False, True])
def test_lightgcn_matches_branch_a(small_graph, train):
    data, maps, graph, pairs = small_graph
    linen = default_model(maps.num_nodes, data.rating_min, data.rating_max, rating_mean=3.0)
    params = linen.init(jax.random.key(3), graph, pairs.users, pairs.movies)
    noise = jax.random.normal(jax.random.key(4), params["params"]["bias"]["embedding"].shape)
    params["params"]["bias"]["embedding"] = 2.0 * noise  # non-zero biases, some clipping
    nnx_model = ref.copy_linen_params(
        params, ref.BranchA(maps.num_nodes, data.rating_min, data.rating_max, rngs=nnx.Rngs(0))
    )
    out = np.asarray(nnx_model(graph, pairs.users, pairs.movies, train=train))
    expected = np.asarray(linen.apply(params, graph, pairs.users, pairs.movies, train=train))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_copy_rejects_a_tree_that_does_not_fit(small_graph):
    data, maps, graph, pairs = small_graph
    model = ref.BranchA(maps.num_nodes, embed_dim=4, rngs=nnx.Rngs(0))
    wrong_shape = {"embed": {"embedding": np.zeros((maps.num_nodes, 5))}}
    with pytest.raises(ValueError, match="shape"):
        ref.copy_linen_params(wrong_shape, model)
    partial = {"mu": np.asarray(3.0)}
    with pytest.raises(ValueError, match="no Linen value"):
        ref.copy_linen_params(partial, model)
