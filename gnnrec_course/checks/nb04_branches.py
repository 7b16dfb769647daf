"""Self-checks for notebook 04's Exercises 4.3 and 4.4: the default model's two branches.

Each exercise is a flax Module; the check initialises it, runs it with the parameters of
:class:`gnnrec_course.models.GCNRecommender` on a small hand-made graph, and compares the
outputs (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import errors as flax_errors

from gnnrec_course.checks.common import as_array, expect, run_check

__all__ = ["check_lightgcn_branch", "check_rating_branch"]


# --- Exercises 4.3 and 4.4: the two branches of the default model -------------------------

# Users 0-4 and movies 5-8; user 4 and movie 8 have no rating. Every rating is stored in both
# directions, the user -> movie edges first, as build_graph does.
_U, _M = 5, 4
_N = _U + _M
_PAIRS = [(0, 5, 5.0), (0, 6, 1.0), (1, 5, 4.0), (1, 7, 2.0), (2, 6, 1.0), (3, 6, 2.0),
          (3, 7, 5.0), (2, 5, 3.0)]  # fmt: skip
# Every (user, movie) pair is scored: [20] each.
_ALL_USERS = np.repeat(np.arange(_U, dtype=np.int32), _M)
_ALL_MOVIES = np.tile(np.arange(_U, _N, dtype=np.int32), _U)


@functools.cache
def _branch_graph() -> jraph.GraphsTuple:
    """The test graph for exercises 4.3 and 4.4 (edges: the rating of each directed edge)."""
    users = np.array([u for u, _, _ in _PAIRS], dtype=np.int32)
    movies = np.array([m for _, m, _ in _PAIRS], dtype=np.int32)
    ratings = np.array([r for _, _, r in _PAIRS], dtype=np.float32)
    return jraph.GraphsTuple(
        nodes=np.arange(_N, dtype=np.int32)[:, None],
        edges=np.concatenate([ratings, ratings])[:, None],
        senders=np.concatenate([users, movies]),
        receivers=np.concatenate([movies, users]),
        n_node=np.array([_N], dtype=np.int32),
        n_edge=np.array([2 * len(users)], dtype=np.int32),
        globals=None,
    )


def _package_params(num_layers: int) -> dict:
    """``GCNRecommender``'s parameters on the test graph, set to seeded random values.

    (The package initialises the biases at zero and the embeddings small; random values make
    every mistake visible.)
    """
    model = _package_model(num_layers)
    graph = _branch_graph()
    params = model.init(jax.random.key(0), graph, _ALL_USERS[:2], _ALL_MOVIES[:2])["params"]
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(num_layers + 1), len(leaves))
    values = [0.6 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves, strict=True)]
    params = jax.tree_util.tree_unflatten(tree, values)
    return {**params, "mu": jnp.asarray(3.5, jnp.float32)}


_DIM, _HIDDEN = 3, 6


def _package_model(num_layers: int):
    from gnnrec_course.models import GCNRecommender

    return GCNRecommender(
        num_nodes=_N, num_users=_U, embed_dim=_DIM, num_layers=num_layers, rating_hidden=_HIDDEN,
        rating_weight=0.5, rating_mean=3.5,
    )  # fmt: skip


def _package_encode(num_layers: int, params: dict) -> np.ndarray:
    """The package model's ``encode`` output ``[N, D + k]`` with ``params``."""
    model = _package_model(num_layers)
    z = model.apply({"params": params}, _branch_graph(), method=model.encode)
    return np.asarray(z, np.float64)


def _shapes(tree) -> dict[str, tuple]:
    """``{"embed/embedding": (9, 3), ...}`` for a nested parameter dict."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        "/".join(str(getattr(k, "key", k)) for k in path): tuple(np.shape(leaf))
        for path, leaf in flat
    }


def _init_module(module: nn.Module, what: str, expected: dict) -> None:
    """Initialise the learner's module on the test graph; its parameters must be ``expected``."""
    graph = _branch_graph()
    try:
        variables = module.init(jax.random.key(0), graph, _ALL_USERS, _ALL_MOVIES)
    except (NotImplementedError, AssertionError):
        raise
    except flax_errors.FlaxError as error:
        raise AssertionError(
            f"flax could not initialise {what} ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:160]})."
        ) from None
    got = _shapes(variables.get("params", {}))
    want = _shapes(expected)
    if got != want:
        raise AssertionError(
            f"{what} has the parameters {got}; it should have exactly {want} (the names and "
            f"shapes of GCNRecommender's, so that its parameters can be loaded into yours)."
        )


def _apply_module(module: nn.Module, params: dict, what: str) -> np.ndarray:
    out = module.apply({"params": params}, _branch_graph(), _ALL_USERS, _ALL_MOVIES)
    arr = as_array(out, what)
    if arr.shape != _ALL_USERS.shape:
        extra = " Take [:, 0] of the [B, 1] bias lookups." if arr.shape == (20, 1) else ""
        raise AssertionError(
            f"{what} returned shape {arr.shape} for 20 pairs; it should return one score per "
            f"pair, shape (20,).{extra}"
        )
    return arr


def _adjacency() -> np.ndarray:
    """``A`` ``[N, N]`` of the test graph (symmetric, float64)."""
    graph = _branch_graph()
    a = np.zeros((_N, _N))
    np.add.at(a, (graph.receivers, graph.senders), 1.0)
    return a


def _normalised(a: np.ndarray, loops: int) -> np.ndarray:
    """``D^-1/2 (A + loops I) D^-1/2`` with the degrees of ``A + loops I`` (at least 1)."""
    a = a + loops * np.eye(len(a))
    scale = 1.0 / np.sqrt(np.maximum(a.sum(axis=1), 1.0))
    return scale[:, None] * a * scale[None, :]


def _lightgcn_mistakes(num_layers: int, params: dict) -> dict:
    """Hint -> the scores [20] that mistake gives (numpy, from the same parameters)."""
    k = num_layers
    e0 = np.asarray(params["embed"]["embedding"], np.float64)
    bias = np.asarray(params["bias"]["embedding"], np.float64)[:, 0]
    mu = float(params["mu"])
    u, m = _ALL_USERS, _ALL_MOVIES

    def layers(a_hat: np.ndarray, count: int) -> list[np.ndarray]:
        out = [e0]
        for _ in range(count):
            out.append(a_hat @ out[-1])
        return out

    def scores(z: np.ndarray, with_mu: bool = True, with_bias: bool = True) -> np.ndarray:
        dots = np.sum(z[u] * z[m], axis=-1)
        return (mu if with_mu else 0.0) + (bias[u] + bias[m] if with_bias else 0.0) + dots

    good = layers(_normalised(_adjacency(), 1), k)
    z = np.mean(good, axis=0)
    mistakes = {
        "there is no layer mean: you decoded E_K, the output of the last propagation. "
        "Keep every layer, E_0 (the embeddings) included, and average them: "
        "jnp.mean(jnp.stack(layers), axis=0).": scores(good[-1]),
        "you summed the layers; LightGCN averages them (divide by K + 1).": scores(
            np.sum(good, axis=0)
        ),
        "the mean leaves out E_0: average the K + 1 layers E_0, E_1, ..., E_K, the "
        "embeddings before any propagation included.": scores(np.mean(good[1:], axis=0)),
        "the scores use the embeddings E_0 without any propagation; propagate them K times "
        "with gcn_propagate(graph, x) and average the layers.": scores(e0),
        "the self-loops are missing: this propagates with D^-1/2 A D^-1/2. Use "
        "gnnrec_course.models.gcn_propagate, which adds one self-loop per node.": scores(
            np.mean(layers(_normalised(_adjacency(), 0), k), axis=0)
        ),
        "the self-loops are counted twice: gcn_propagate adds one per node itself, so do not "
        "add self-loops to the graph.": scores(
            np.mean(layers(_normalised(_adjacency(), 2), k), axis=0)
        ),
        "one propagation too many: K = num_layers propagations give K + 1 layers in all.": (
            scores(np.mean(layers(_normalised(_adjacency(), 1), k + 1), axis=0))
        ),
        "the biases b_u + b_m are missing: self.bias(users)[:, 0] + self.bias(movies)[:, 0].": (
            scores(z, with_bias=False)
        ),
        "the global bias mu is missing: the score is mu + b_u + b_m + Z_u . Z_m.": scores(
            z, with_mu=False
        ),
        "the scores are clipped to 1..5; return the unclipped score (the package clips "
        "only at inference).": np.clip(scores(z), 1.0, 5.0),
    }
    if k > 1:
        mistakes[
            "one propagation too few: K = num_layers propagations after E_0, so K + 1 layers."
        ] = scores(np.mean(good[:-1], axis=0))
        mistakes["you divided the sum of the K + 1 layers by K; divide by K + 1."] = scores(
            np.sum(good, axis=0) / k
        )
    return mistakes


def _test_lightgcn_branch(cls: Callable) -> None:
    num_layers = 2  # every mistake in _lightgcn_mistakes gives other scores with K = 2
    params = _package_params(num_layers)
    branch_a = {key: params[key] for key in ("embed", "bias", "mu")}
    what = f"{getattr(cls, '__name__', 'LightGCNBranch')}(num_layers={num_layers})"
    module = cls(num_nodes=_N, embed_dim=_DIM, num_layers=num_layers, rating_mean=3.5)
    _init_module(module, what, branch_a)
    out = _apply_module(module, branch_a, what)
    z = _package_encode(num_layers, params)[:, :_DIM]
    bias = np.asarray(params["bias"]["embedding"], np.float64)[:, 0]
    u, m = _ALL_USERS, _ALL_MOVIES
    expected = 3.5 + bias[u] + bias[m] + np.sum(z[u] * z[m], axis=-1)
    expect(
        out,
        expected,
        atol=1e-4,
        mistakes=_lightgcn_mistakes(num_layers, params),
        context=f"with num_layers={num_layers}: ",
        otherwise=(
            f"the scores differ from GCNRecommender's branch A with the same parameters "
            f"(largest difference {np.max(np.abs(out - expected)):.4f}). Z is the mean of "
            f"E_0 and the K propagations gcn_propagate(graph, x); the score is "
            f"mu + b_u + b_m + Z_u . Z_m."
        ),
    )


def check_lightgcn_branch(cls: Callable) -> Callable:
    """Check Exercise 4.3 ``LightGCNBranch``: branch A of ``GCNRecommender``."""
    from gnnrec_course.reference import rating_model

    return run_check(
        "4.3",
        cls,
        rating_model.LightGCNBranch,
        _test_lightgcn_branch,
        "with GCNRecommender's parameters your module gives the package's branch A scores "
        "(K = 2, every user-movie pair of a 9-node graph).",
    )


def _rating_mistakes(params: dict) -> dict:
    """Hint -> the scores [20] that mistake gives (numpy, from the same parameters)."""
    v = np.asarray(params["user_in"], np.float64)
    h = np.asarray(params["hidden_bias"], np.float64)
    w = np.asarray(params["user_out"], np.float64)
    c = np.asarray(params["user_out_bias"], np.float64)
    r = np.zeros((_U, _M))
    for user, movie, rating in _PAIRS:
        r[user, movie - _U] = rating
    rated = (r > 0).astype(np.float64)
    counts = np.maximum(rated.sum(axis=0), 1.0)[:, None]  # raters per movie [M, 1]
    u, m = _ALL_USERS, _ALL_MOVIES - _U

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    def scores(codes, out=w, offset=True):
        return (c[u] if offset else 0.0) + np.sum(out[u] * codes[m], axis=-1)

    good = sigmoid(r.T @ v + h)  # [M, k]
    return {
        "the ratings are not used: every rater adds V_u with the same weight. Multiply each "
        "message by its edge's rating, graph.edges[:, 0] (r_um V_u).": scores(
            sigmoid(rated.T @ v + h)
        ),
        "you averaged the messages over the movie's raters; branch B sums them "
        "(jax.ops.segment_sum, no division).": scores(sigmoid(r.T @ v / counts + h)),
        "the sigmoid is missing: H_m = sigmoid(sum_u r_um V_u + h).": scores(r.T @ v + h),
        "the hidden bias h is missing inside the sigmoid: H_m = sigmoid(sum_u r_um V_u + h).": (
            scores(sigmoid(r.T @ v))
        ),
        "the user offset c_u (user_out_bias) is missing: B(u, m) = c_u + W_u . H_m.": scores(
            good, offset=False
        ),
        "the output uses user_in (V); the score reads the user's output vector W_u "
        "(user_out): c_u + W_u . H_m.": scores(good, out=v),
        "the messages use user_out (W); a movie's code sums the raters' input vectors V_u "
        "(user_in).": scores(sigmoid(r.T @ w + h)),
        "the movie codes are indexed by node id: movies are nodes U..U+M-1, so movie node m "
        "is row m - num_users of H.": (
            c[u] + np.sum(w[u] * good[np.minimum(_ALL_MOVIES, _M - 1)], axis=-1)
        ),
    }


def _test_rating_branch(cls: Callable) -> None:
    params = _package_params(1)
    branch_b = {key: params[key] for key in ("user_in", "hidden_bias", "user_out", "user_out_bias")}
    what = getattr(cls, "__name__", "RatingBranch")
    module = cls(num_users=_U, num_movies=_M, hidden=_HIDDEN)
    _init_module(module, what, branch_b)
    out = _apply_module(module, branch_b, what)
    z = _package_encode(1, params)[:, _DIM:]  # W_u for users, H_m for movies
    u, m = _ALL_USERS, _ALL_MOVIES
    expected = np.asarray(params["user_out_bias"], np.float64)[u] + np.sum(z[u] * z[m], axis=-1)
    expect(
        out,
        expected,
        atol=1e-4,
        mistakes=_rating_mistakes(params),
        otherwise=(
            f"the scores differ from GCNRecommender's branch B with the same parameters "
            f"(largest difference {np.max(np.abs(out - expected)):.4f}). Sum r_um V_u over "
            f"the user -> movie edges (senders < num_users) with jax.ops.segment_sum into "
            f"num_movies rows, add h, apply the sigmoid; the score is c_u + W_u . H_m."
        ),
    )


def check_rating_branch(cls: Callable) -> Callable:
    """Check Exercise 4.4 ``RatingBranch``: branch B of ``GCNRecommender``."""
    from gnnrec_course.reference import rating_model

    return run_check(
        "4.4",
        cls,
        rating_model.RatingBranch,
        _test_rating_branch,
        "with GCNRecommender's parameters your module gives the package's branch B scores "
        "(every user-movie pair of a 9-node graph, a movie without ratings included).",
    )
