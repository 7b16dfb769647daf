"""Self-checks for notebook 06: the negative sampler, the BPR loss and LightGCN's propagation.

Each check runs the learner's function on a small hand-made case and returns the function the
rest of the notebook should use (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gnnrec_course.checks.common import as_array, as_indices, as_number, expect, run_check
from gnnrec_course.reference import ranking as ref

__all__ = ["check_bpr_loss", "check_lightgcn_embeddings", "check_sample_negatives"]


# --- Exercise 6.1 -------------------------------------------------------------------------

# 3 users, 6 movies. Every user has at least two negatives, and none is only movie 5, so a
# sampler that draws from the wrong range is biased rather than stuck in an endless loop.
_MASK = np.array(
    [
        [True, True, True, True, False, False],  # user 0: negatives 4, 5
        [False, True, False, False, False, False],  # user 1: negatives 0, 2, 3, 4, 5
        [True, True, False, True, True, False],  # user 2: negatives 2, 5
    ]
)
_DRAWS = 3000  # per user: a share's standard deviation is below 0.01
_TOLERANCE = 0.05


def _users() -> np.ndarray:
    return np.tile(np.arange(len(_MASK)), _DRAWS)


def _draw(fn: Callable, seed: int, what: str) -> list[int]:
    mask, users = _MASK.copy(), _users()
    out = as_indices(fn(np.random.default_rng(seed), users, mask), what)
    if not np.array_equal(mask, _MASK):
        raise AssertionError(
            f"{what} changed the `train_mask` it was given. Read it only: later cells reuse it."
        )
    return out


def _check_range(out: np.ndarray, what: str) -> None:
    num_users, num_movies = _MASK.shape
    if len(out) != len(_users()):
        raise AssertionError(
            f"{what} returned {len(out)} movies for {len(_users())} users: return exactly one "
            "negative per entry of `users`, in the same order."
        )
    if out.min() >= num_users and out.max() < num_users + num_movies:
        raise AssertionError(
            f"{what} returned values {out.min()}..{out.max()}: those look like movie *node ids* "
            f"(U + j). Return movie indices 0..M-1 (here 0..{num_movies - 1})."
        )
    if out.min() < 0 or out.max() >= num_movies:
        raise AssertionError(
            f"{what} returned values {out.min()}..{out.max()}; movie indices run from 0 to "
            f"M - 1 = {num_movies - 1} (M = train_mask.shape[1])."
        )


def _check_never_positive(out: np.ndarray, users: np.ndarray, what: str) -> None:
    hits = _MASK[users, out]
    if hits.any():
        first = int(np.flatnonzero(hits)[0])
        raise AssertionError(
            f"{what} returned training positives in {hits.mean():.0%} of the draws (e.g. user "
            f"{users[first]} got movie {out[first]}, which they interacted with). Redraw every "
            "draw that hits a positive, and keep redrawing until none does (a while loop over "
            "the rejected ones)."
        )


def _shares(out: np.ndarray, users: np.ndarray, user: int) -> dict[int, float]:
    picks = out[users == user]
    return {int(m): float(np.mean(picks == m)) for m in np.flatnonzero(~_MASK[user])}


def _check_uniform(out: np.ndarray, users: np.ndarray, what: str) -> None:
    for user in range(len(_MASK)):
        shares = _shares(out, users, user)
        expected = 1.0 / len(shares)
        if max(abs(s - expected) for s in shares.values()) > _TOLERANCE:
            shown = ", ".join(f"{m}: {s:.2f}" for m, s in shares.items())
            raise AssertionError(
                f"{what} is not uniform over the negatives: user {user} should get each of "
                f"movies {sorted(shares)} about {expected:.2f} of the time, but got {{{shown}}}. "
                "Draw every movie 0..M-1 with equal chance (rng.integers(0, M)) and redraw the "
                "rejected ones the same way; do not move a rejected draw to the next free "
                "movie or replace it with a fixed one."
            )


def _test_sample_negatives(fn: Callable) -> None:
    what = "sample_negatives(rng, users, train_mask)"
    users = _users()
    out = np.asarray(_draw(fn, 7, what))
    _check_range(out, what)
    _check_never_positive(out, users, what)
    _check_uniform(out, users, what)
    again = np.asarray(_draw(fn, 7, what))
    other = np.asarray(_draw(fn, 8, what))
    if not np.array_equal(out, again) or np.array_equal(out, other):
        raise AssertionError(
            f"{what} should draw only from the `rng` it is given: two generators with the same "
            "seed must give the same negatives, and other seeds other negatives. Use "
            "rng.integers, not np.random or a generator of your own."
        )


def check_sample_negatives(fn: Callable) -> Callable:
    """Check Exercise 6.1 ``sample_negatives(rng, users [B], train_mask [U, M]) -> int [B]``."""
    return run_check(
        "6.1",
        fn,
        ref.sample_negatives,
        _test_sample_negatives,
        "every negative is a movie the user has not interacted with in training, drawn "
        "uniformly and reproducibly from the generator you pass in.",
    )


# --- Exercise 6.2 -------------------------------------------------------------------------

_POS = np.array([2.0, 0.5, -1.0, 3.0], dtype=np.float32)
_NEG = np.array([1.0, 1.5, -1.0, -2.0], dtype=np.float32)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _bpr_mistakes() -> dict:
    """Hint -> the value that mistake gives for ``_POS``, ``_NEG``."""
    diff = _POS.astype(np.float64) - _NEG
    return {
        "the sign is flipped: you reward the negative for beating the positive. BPR's loss is "
        "-log sigmoid(pos - neg), small when pos is well above neg.": _softplus(diff).mean(),
        "that is the sum over the pairs; take the mean, so that the loss and its gradient do "
        "not grow with the batch size.": _softplus(-diff).sum(),
        "the value is negative: that is log sigmoid(pos - neg), the log-likelihood to "
        "maximise. The loss to minimise is its negative, -log sigmoid(pos - neg).": -_softplus(
            -diff
        ).mean(),
        "that is mean(sigmoid(neg - pos)) (or 1 - sigmoid(pos - neg)), without the log. BPR "
        "maximises the log-likelihood: -log sigmoid(pos - neg).": _sigmoid(-diff).mean(),
        "that is -mean(sigmoid(pos - neg)), without the log. BPR maximises the log-likelihood: "
        "-log sigmoid(pos - neg).": -_sigmoid(diff).mean(),
        "that is a pointwise loss (positives towards 1, negatives towards 0, each on its own). "
        "BPR compares the two scores of each pair: -log sigmoid(pos - neg).": (
            _softplus(-_POS) + _softplus(_NEG)
        ).mean(),
        "that is a hinge loss, max(0, 1 - (pos - neg)). BPR's loss is smooth: "
        "-log sigmoid(pos - neg).": np.maximum(0.0, 1.0 - diff).mean(),
    }


def _test_bpr_value(fn: Callable) -> None:
    what = "bpr_loss(pos_scores, neg_scores)"
    value = as_number(
        fn(jnp.asarray(_POS), jnp.asarray(_NEG)),
        what,
        scalar=True,
        hint="Take the mean over the pairs.",
    )
    expected = float(ref.bpr_loss(_POS, _NEG))
    expect(
        value,
        expected,
        atol=1e-5,
        context=(
            f"{what} with pos {_POS.tolist()} and neg {_NEG.tolist()} returned {value:.4f}, "
            f"expected {expected:.4f}: "
        ),
        mistakes=_bpr_mistakes(),
        otherwise="the loss is the mean over the pairs of -log sigmoid(pos - neg).",
    )


def _test_bpr_overflow(fn: Callable) -> None:
    pos, neg = np.array([-500.0, 500.0], np.float32), np.array([500.0, -500.0], np.float32)
    what = "bpr_loss([-500, 500], [500, -500])"
    value = as_number(fn(jnp.asarray(pos), jnp.asarray(neg)), what, scalar=True)
    expected = float(ref.bpr_loss(pos, neg))  # (1000 + 0) / 2
    if not np.isfinite(value):
        raise AssertionError(
            f"{what} returned {value}, expected {expected:.0f}: -log(sigmoid(x)) overflows when "
            "sigmoid(x) rounds to 0 for a very negative x. Use the stable form "
            "jax.nn.softplus(neg - pos) (or -jax.nn.log_sigmoid(pos - neg))."
        )
    if not np.isclose(value, expected, rtol=1e-4):
        raise AssertionError(f"{what} returned {value:.2f}, expected {expected:.2f}.")


def _test_bpr_gradient(fn: Callable) -> None:
    pos, neg = jnp.asarray(_POS), jnp.asarray(_NEG)
    try:
        grad = jax.grad(lambda p: jnp.reshape(fn(p, neg), ()))(pos)
    except Exception as error:  # noqa: BLE001 - any failure means jax cannot differentiate it
        raise AssertionError(
            f"jax.grad could not differentiate your loss ({type(error).__name__}): write it "
            "with jax.numpy and jax.nn (jnp.mean, jax.nn.softplus), not NumPy, so training can "
            "take its gradient."
        ) from None
    expected = -_sigmoid(_NEG.astype(np.float64) - _POS) / len(_POS)
    got = as_array(grad, "jax.grad(bpr_loss)")
    if not np.allclose(got, expected, atol=1e-5):
        raise AssertionError(
            f"the gradient with respect to pos_scores is {np.round(got, 4).tolist()}, expected "
            f"{np.round(expected, 4).tolist()} (-sigmoid(neg - pos) / B)."
        )


def _test_bpr_loss(fn: Callable) -> None:
    _test_bpr_value(fn)
    _test_bpr_overflow(fn)
    _test_bpr_gradient(fn)


def check_bpr_loss(fn: Callable) -> Callable:
    """Check Exercise 6.2 ``bpr_loss(pos_scores [B], neg_scores [B]) -> scalar``."""
    return run_check(
        "6.2",
        fn,
        ref.bpr_loss,
        _test_bpr_loss,
        "the loss is small when each positive outscores its negative, stays finite for any "
        "scores, and jax.grad can differentiate it.",
    )


# --- Exercise 6.3 -------------------------------------------------------------------------

# Users 0, 1; movies 2, 3, 4; node 5 is a movie nobody interacted with in training.
_PAIRS = [(0, 2), (0, 3), (1, 3), (1, 4)]
_NUM_NODES = 6
_E0 = np.round(np.random.default_rng(0).normal(size=(_NUM_NODES, 2)), 2).astype(np.float32)


def _edges() -> tuple[np.ndarray, np.ndarray]:
    users, movies = np.array(_PAIRS).T
    return np.r_[users, movies].astype(np.int32), np.r_[movies, users].astype(np.int32)


def _adjacency(self_loops: bool = False) -> np.ndarray:
    senders, receivers = _edges()
    a = np.zeros((_NUM_NODES, _NUM_NODES))
    a[receivers, senders] = 1.0
    return a + np.eye(_NUM_NODES) if self_loops else a


def _inv(deg: np.ndarray, power: float) -> np.ndarray:
    out = np.zeros_like(deg)
    out[deg > 0] = deg[deg > 0] ** -power
    return out


def _symmetric(a: np.ndarray) -> np.ndarray:
    d = _inv(a.sum(axis=1), 0.5)
    return d[:, None] * a * d[None, :]


def _layers(a_hat: np.ndarray, num_layers: int) -> list[np.ndarray]:
    out = [_E0.astype(np.float64)]
    for _ in range(num_layers):
        out.append(a_hat @ out[-1])
    return out


def _dense_z(num_layers: int) -> np.ndarray:
    """The dense formula: mean_k (D^-1/2 A D^-1/2)^k E_0."""
    return np.mean(_layers(_symmetric(_adjacency()), num_layers), axis=0)


def _propagation_mistakes(num_layers: int) -> dict:
    """Hint -> the answer that mistake gives on the test graph."""
    a = _adjacency()
    sym = _layers(_symmetric(a), num_layers)
    row = _inv(a.sum(axis=1), 1.0)[:, None] * a
    return {
        "you added self-loops (A + I), as in notebook 03's GCN. LightGCN propagates over A "
        "alone: the layer mean already keeps each node's own E_0.": np.mean(
            _layers(_symmetric(_adjacency(self_loops=True)), num_layers), axis=0
        ),
        "that is the row-normalised D^-1 A (the plain mean of the neighbours). LightGCN "
        "weights the edge s -> r by 1 / sqrt(deg[s] * deg[r]).": np.mean(
            _layers(row, num_layers), axis=0
        ),
        "that is the column-normalised A D^-1. LightGCN weights the edge s -> r by "
        "1 / sqrt(deg[s] * deg[r]).": np.mean(_layers(row.T, num_layers), axis=0),
        "the edges are not normalised (plain A). Weight the edge s -> r by "
        "1 / sqrt(deg[s] * deg[r]).": np.mean(_layers(a, num_layers), axis=0),
        "that is the last layer E_K. LightGCN's Z is the mean of all the layers, "
        "E_0 included: (E_0 + E_1 + ... + E_K) / (K + 1).": sym[-1],
        "that is the sum of the layers; divide by the number of layers, K + 1.": np.sum(
            sym, axis=0
        ),
        "E_0 is missing from the mean: Z = (E_0 + E_1 + ... + E_K) / (K + 1).": np.mean(
            sym[1:], axis=0
        ),
        "divide the sum of E_0 .. E_K by K + 1 (there are K + 1 layers), not by K.": np.sum(
            sym, axis=0
        )
        / max(num_layers, 1),
    }


def _call(fn: Callable, num_layers: int, what: str) -> np.ndarray:
    senders, receivers = _edges()
    out = as_array(
        fn(jnp.asarray(_E0), jnp.asarray(senders), jnp.asarray(receivers), num_layers), what
    )
    if out.shape != _E0.shape:
        raise AssertionError(
            f"{what} returned shape {out.shape}, expected {_E0.shape} (one row per node, as e0)."
        )
    if not np.all(np.isfinite(out)):
        rows = sorted({int(i) for i in np.argwhere(~np.isfinite(out))[:, 0]})
        raise AssertionError(
            f"{what} has nan or inf in rows {rows}. Node 5 has no edges, so degree 0: compute "
            "the weights per edge, 1 / sqrt(deg[senders] * deg[receivers]), where every degree "
            "is at least 1, not as a dense D^-1/2 with 1 / sqrt(0)."
        )
    return out


def _test_lightgcn_embeddings(fn: Callable) -> None:
    what = "lightgcn_embeddings(e0, senders, receivers, 2)"
    out = _call(fn, 2, what)
    expect(
        out,
        _dense_z(2),
        atol=1e-4,
        context=f"{what}: ",
        mistakes=_propagation_mistakes(2),
        otherwise=(
            "expected mean(E_0, Â E_0, Â² E_0) with Â = D^-1/2 A D^-1/2, A the edges without "
            "self-loops."
        ),
    )
    for num_layers in (0, 1, 3):
        what = f"lightgcn_embeddings(e0, senders, receivers, {num_layers})"
        out = _call(fn, num_layers, what)
        if not np.allclose(out, _dense_z(num_layers), atol=1e-4):
            extra = " With K = 0 there is no propagation: Z = E_0." if num_layers == 0 else ""
            raise AssertionError(
                f"{what} is wrong: use num_layers propagation steps, then the mean of the "
                f"num_layers + 1 layers.{extra}"
            )


def check_lightgcn_embeddings(fn: Callable) -> Callable:
    """Check Exercise 6.3 ``lightgcn_embeddings(e0 [N, D], senders [E], receivers [E], K)``."""
    return run_check(
        "6.3",
        fn,
        ref.lightgcn_embeddings,
        _test_lightgcn_embeddings,
        "Z is the mean of E_0 .. E_K under D^-1/2 A D^-1/2, without self-loops: LightGCN's "
        "propagation, as published.",
    )
