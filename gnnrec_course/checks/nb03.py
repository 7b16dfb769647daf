"""Self-checks for notebook 03: the GCN layer by hand and the dot-product rating decoder.

Each check runs the learner's function on a small hand-made case and returns the function the
rest of the notebook should use (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from gnnrec_course.checks.common import as_array, expect, run_check
from gnnrec_course.reference import gcn as ref

__all__ = ["check_dot_product_decoder", "check_gcn_layer", "check_symmetric_norm_weights"]

# A small user–movie graph: users 0, 1, 2 and movies 3, 4; node 5 has no rating at all.
# Ratings 0-3, 1-3, 1-4, 2-4, each stored in both directions (8 directed edges).
_NUM_NODES = 6
_PAIRS = [(0, 3), (1, 3), (1, 4), (2, 4)]
_SENDERS = np.array([u for u, m in _PAIRS] + [m for u, m in _PAIRS], dtype=np.int32)
_RECEIVERS = np.array([m for u, m in _PAIRS] + [u for u, m in _PAIRS], dtype=np.int32)


def _dense_adjacency() -> np.ndarray:
    """``A`` of the test graph, float64 ``[6, 6]`` (symmetric, zero diagonal)."""
    a = np.zeros((_NUM_NODES, _NUM_NODES))
    a[_RECEIVERS, _SENDERS] = 1.0
    return a


def _with_loops() -> tuple[np.ndarray, np.ndarray]:
    """Senders and receivers of the test graph with one self-loop per node appended."""
    loops = np.arange(_NUM_NODES, dtype=np.int32)
    return np.concatenate([_SENDERS, loops]), np.concatenate([_RECEIVERS, loops])


# --- Exercise 3.1 -------------------------------------------------------------------------


def _norm_mistakes(deg: np.ndarray, s: np.ndarray, r: np.ndarray) -> dict:
    """Hint -> the edge weights that mistake gives (``deg`` [N] with loops; ``s``, ``r`` [E])."""
    return {
        "you divided by deg[s] * deg[r]; the symmetric normalisation divides by its square "
        "root, 1 / sqrt(deg[s] * deg[r]) (jax.lax.rsqrt or 1 / jnp.sqrt).": 1.0 / (deg[s] * deg[r]),
        "this is 1 / deg[receiver], the mean (random-walk) normalisation D^-1 (A + I). The "
        "symmetric one uses both ends of the edge: 1 / sqrt(deg[s] * deg[r]).": 1.0 / deg[r],
        "this is 1 / deg[sender]. The symmetric normalisation uses both ends of the edge: "
        "1 / sqrt(deg[s] * deg[r]).": 1.0 / deg[s],
        "the edge lists already contain one self-loop per node, so they are already counted "
        "in the degrees: do not add 1.": 1.0 / np.sqrt((deg[s] + 1) * (deg[r] + 1)),
        "you multiplied by sqrt(deg[s] * deg[r]); the weight is its inverse.": np.sqrt(
            deg[s] * deg[r]
        ),
    }


def _test_symmetric_norm_weights(fn: Callable) -> None:
    senders, receivers = _with_loops()
    expected = np.asarray(ref.symmetric_norm_weights(senders, receivers, _NUM_NODES))
    out = as_array(
        fn(jnp.asarray(senders), jnp.asarray(receivers), _NUM_NODES),
        "symmetric_norm_weights(...)",
    )
    num_edges = len(senders)
    if out.shape != expected.shape:
        raise AssertionError(
            f"with {num_edges} edges (self-loops included) the result has shape {out.shape}, "
            f"expected ({num_edges},): one weight per edge. Compute the degrees [N] first, then "
            f"look them up at both ends of every edge: deg[senders], deg[receivers]."
        )
    if not np.all(np.isfinite(out)):
        raise AssertionError(
            "the result contains inf or NaN: a degree of 0 ended up in a denominator. Count "
            "the degrees over the edge lists you were given (they include the self-loops), "
            "with num_segments=num_nodes."
        )
    deg = np.bincount(receivers, minlength=_NUM_NODES).astype(np.float64)
    expect(
        out,
        expected,
        mistakes=_norm_mistakes(deg, senders, receivers),
        otherwise=(
            f"on the test graph (degrees with self-loops {deg.astype(int).tolist()}) expected\n"
            f"{np.round(expected, 4).tolist()}\ngot\n{np.round(out, 4).tolist()}.\nHint: "
            f"deg = jax.ops.segment_sum(jnp.ones(E), receivers, num_segments=num_nodes), then "
            f"1 / jnp.sqrt(deg[senders] * deg[receivers])."
        ),
    )


def check_symmetric_norm_weights(fn: Callable) -> Callable:
    """Check Exercise 3.1 ``symmetric_norm_weights(senders, receivers, num_nodes) -> [E]``."""
    return run_check(
        "3.1",
        fn,
        ref.symmetric_norm_weights,
        _test_symmetric_norm_weights,
        "every edge s -> r carries the weight 1 / sqrt(deg[s] * deg[r]) of D^-1/2 (A + I) D^-1/2.",
    )


# --- Exercise 3.2 -------------------------------------------------------------------------


def _gcn_inputs() -> tuple[np.ndarray, np.ndarray]:
    """Features ``x [6, 3]`` and weights ``w [3, 2]`` for the GCN test (fixed numbers)."""
    x = np.arange(1, 19, dtype=np.float32).reshape(_NUM_NODES, 3) / 10.0
    x[1] *= -1.0
    w = np.array([[1.0, -0.5], [0.5, 2.0], [-1.0, 0.25]], dtype=np.float32)
    return x, w


def _gcn_mistakes(x: np.ndarray, w: np.ndarray) -> dict:
    """Hint -> the output ``[6, 2]`` that mistake gives on the test graph."""
    a = _dense_adjacency()
    a_hat = a + np.eye(_NUM_NODES)
    d_inv_sqrt = np.diag(1.0 / np.sqrt(a_hat.sum(axis=1)))
    d_no = np.diag(1.0 / np.sqrt(np.maximum(a.sum(axis=1), 1.0)))
    return {
        "no self-loops: every node forgot its own features (node 5, with no rating, came out "
        "all zeros). Append the loops 0->0, ..., N-1->N-1 to senders and receivers before "
        "computing degrees and messages.": d_no @ a @ d_no @ x @ w,
        "this is (A + I) x w without normalisation: a movie with many ratings would get a huge "
        "sum. Multiply each message by 1 / sqrt(deg[s] * deg[r]) (Exercise 3.1).": a_hat @ x @ w,
        "this is the mean normalisation D^-1 (A + I) x w. Use the symmetric one: weight each "
        "message by 1 / sqrt(deg[s] * deg[r]).": np.diag(1.0 / a_hat.sum(axis=1)) @ a_hat @ x @ w,
        "you forgot the weight matrix w: return D^-1/2 (A + I) D^-1/2 x w.": (
            d_inv_sqrt @ a_hat @ d_inv_sqrt @ x
        ),
    }


def _test_gcn_layer(fn: Callable) -> None:
    x, w = _gcn_inputs()
    a_hat = _dense_adjacency() + np.eye(_NUM_NODES)
    d_inv_sqrt = np.diag(1.0 / np.sqrt(a_hat.sum(axis=1)))
    expected = d_inv_sqrt @ a_hat @ d_inv_sqrt @ x @ w  # [6, 2], the dense formula
    out = as_array(
        fn(jnp.asarray(x), jnp.asarray(_SENDERS), jnp.asarray(_RECEIVERS), _NUM_NODES, w),
        "gcn_layer(...)",
    )
    if out.shape != expected.shape:
        hint = (
            f"with x of shape {x.shape} and w of shape {w.shape} on {_NUM_NODES} nodes the "
            f"result has shape {out.shape}, expected {expected.shape}: one row per node "
            f"(num_segments=num_nodes), one column per output feature"
        )
        if out.shape == x.shape:
            hint += " (did you forget to multiply by w?)"
        raise AssertionError(hint + ".")
    if not np.all(np.isfinite(out)):
        raise AssertionError(
            "the result contains inf or NaN: node 5 has no rating, so without its self-loop "
            "its degree is 0. Add one self-loop per node before counting degrees."
        )
    expect(
        out,
        expected,
        mistakes=_gcn_mistakes(x, w),
        otherwise=(
            f"on the 6-node test graph expected\n{np.round(expected, 4).tolist()}\ngot\n"
            f"{np.round(out, 4).tolist()}.\nHint: add self-loops, weights = "
            f"symmetric_norm_weights(s, r, num_nodes), messages = (x @ w)[s] * weights[:, None], "
            f"then jax.ops.segment_sum(messages, r, num_segments=num_nodes)."
        ),
    )


def check_gcn_layer(fn: Callable) -> Callable:
    """Check Exercise 3.2 ``gcn_layer(x, senders, receivers, num_nodes, w) -> [N, D]``."""
    return run_check(
        "3.2",
        fn,
        ref.gcn_layer,
        _test_gcn_layer,
        "gcn_layer matches the dense formula D^-1/2 (A + I) D^-1/2 x w on a small graph.",
    )


# --- Exercise 3.3 -------------------------------------------------------------------------


def _decoder_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings ``h [6, 3]`` and pairs ``users [4]``, ``movies [4]`` (small scores)."""
    h = np.array(
        [
            [0.5, -0.2, 0.1],
            [-0.4, 0.3, 0.6],
            [0.2, 0.2, -0.5],
            [0.6, 0.1, 0.3],
            [-0.3, 0.5, 0.4],
            [0.0, 0.0, 0.0],
        ],
        dtype=np.float32,
    )
    return h, np.array([0, 1, 2, 1], dtype=np.int32), np.array([3, 3, 4, 4], dtype=np.int32)


def _decoder_shape_hint(shape: tuple[int, ...], pairs: int) -> str:
    """The hint for a decoder output of the wrong ``shape`` (``pairs`` scores expected)."""
    hint = (
        f"for {pairs} (user, movie) pairs the result has shape {shape}, expected ({pairs},): "
        f"one score per pair."
    )
    if shape == (pairs, pairs):
        hint += (
            " h[users] @ h[movies].T compares every user with every movie; take the row-wise "
            "dot product jnp.sum(h[users] * h[movies], axis=-1)."
        )
    elif len(shape) == 2 and shape[0] == pairs:
        hint += " Sum over the embedding axis (axis=-1)."
    return hint


def _decoder_mistakes(scores: np.ndarray, lo: float, hi: float) -> dict:
    """Hint -> the predictions that mistake gives for dot products ``scores`` [B]."""
    sig = 1.0 / (1.0 + np.exp(-scores))
    return {
        f"with ratings from {lo} to {hi} the predictions must lie between {lo} and {hi}, but "
        f"these are scaled to 1..5. Use the rating_min and rating_max arguments: datasets "
        f"differ (ml-latest-small has half stars from 0.5).": 1.0 + 4.0 * sig,
        "these are sigmoid outputs in (0, 1); scale them to the rating range: "
        "rating_min + (rating_max - rating_min) * sigmoid(score).": sig,
        "scale by the width of the range, (rating_max - rating_min), not by rating_max.": (
            lo + hi * sig
        ),
        "squash the dot product with a sigmoid before scaling, so that every prediction stays "
        "inside the rating range.": lo + (hi - lo) * scores,
        "this is the raw dot product; squash it with a sigmoid and scale it to the rating "
        "range: rating_min + (rating_max - rating_min) * sigmoid(score).": scores,
    }


def _test_dot_product_decoder(fn: Callable) -> None:
    h, users, movies = _decoder_inputs()
    scores = np.sum(h[users].astype(np.float64) * h[movies], axis=-1)  # [4]
    for lo, hi in ((1.0, 5.0), (0.5, 5.0)):
        expected = lo + (hi - lo) / (1.0 + np.exp(-scores))
        out = as_array(
            fn(jnp.asarray(h), jnp.asarray(users), jnp.asarray(movies), lo, hi),
            "dot_product_decoder(...)",
        )
        if out.shape != expected.shape:
            raise AssertionError(_decoder_shape_hint(out.shape, len(users)))
        expect(
            out,
            expected,
            mistakes=_decoder_mistakes(scores, lo, hi),
            otherwise=(
                f"with ratings from {lo} to {hi}, expected {np.round(expected, 4).tolist()}, "
                f"got {np.round(out, 4).tolist()}. Hint: score = jnp.sum(h[users] * h[movies], "
                f"axis=-1), then rating_min + (rating_max - rating_min) * jax.nn.sigmoid(score)."
            ),
        )


def check_dot_product_decoder(fn: Callable) -> Callable:
    """Check Exercise 3.3 ``dot_product_decoder(h, users, movies, rating_min, rating_max)``."""
    return run_check(
        "3.3",
        fn,
        ref.dot_product_decoder,
        _test_dot_product_decoder,
        "one predicted rating per (user, movie) pair, always inside the data's rating range.",
    )
