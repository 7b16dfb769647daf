"""The self-checks of notebook 06: tables for the shared contract test, and specific tests.

The promise every check keeps (wrong answers fall back with a hint, stubs fall back, the
reference passes) is tested once for all notebooks in ``tests/test_checks_contract.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnrec_course.checks import nb06
from gnnrec_course.reference import ranking as ref

# --- deliberately wrong implementations: Exercise 6.1 -------------------------------------


def neg_no_rejection(rng, users, train_mask):
    return rng.integers(0, train_mask.shape[1], size=len(users))


def neg_redraw_once(rng, users, train_mask):
    out = rng.integers(0, train_mask.shape[1], size=len(users))
    bad = train_mask[users, out]
    out[bad] = rng.integers(0, train_mask.shape[1], size=int(bad.sum()))
    return out


def neg_next_free(rng, users, train_mask):
    num_movies = train_mask.shape[1]
    out = rng.integers(0, num_movies, size=len(users))
    for i, user in enumerate(users):
        while train_mask[user, out[i]]:
            out[i] = (out[i] + 1) % num_movies
    return out


def neg_first_free(rng, users, train_mask):
    out = rng.integers(0, train_mask.shape[1], size=len(users))
    bad = np.flatnonzero(train_mask[users, out])
    out[bad] = np.argmin(train_mask[users[bad]], axis=1)  # the first free movie
    return out


def neg_short_range(rng, users, train_mask):
    """rng.integers(0, M - 1): the last movie is never drawn."""
    num_movies = train_mask.shape[1]
    out = rng.integers(0, num_movies - 1, size=len(users))
    bad = np.flatnonzero(train_mask[users, out])
    while len(bad):
        out[bad] = rng.integers(0, num_movies - 1, size=len(bad))
        bad = bad[train_mask[users[bad], out[bad]]]
    return out


def neg_node_ids(rng, users, train_mask):
    return ref.sample_negatives(rng, users, train_mask) + train_mask.shape[0]


def neg_global_random(rng, users, train_mask):
    return ref.sample_negatives(np.random.default_rng(), users, train_mask)


def neg_fixed_seed(rng, users, train_mask):
    return ref.sample_negatives(np.random.default_rng(0), users, train_mask)


def neg_one_per_user(rng, users, train_mask):
    return ref.sample_negatives(rng, np.unique(users), train_mask)


def neg_marks_mask(rng, users, train_mask):
    out = ref.sample_negatives(rng, users, train_mask)
    train_mask[users, out] = True
    return out


# --- Exercise 6.2 ---------------------------------------------------------------------------


def bpr_flipped(pos, neg):
    return jnp.mean(jax.nn.softplus(pos - neg))


def bpr_sum(pos, neg):
    return jnp.sum(jax.nn.softplus(neg - pos))


def bpr_no_minus(pos, neg):
    return jnp.mean(jax.nn.log_sigmoid(pos - neg))


def bpr_no_log(pos, neg):
    return jnp.mean(1.0 - jax.nn.sigmoid(pos - neg))


def bpr_pointwise(pos, neg):
    return jnp.mean(jax.nn.softplus(-pos) + jax.nn.softplus(neg))


def bpr_hinge(pos, neg):
    return jnp.mean(jnp.maximum(0.0, 1.0 - (pos - neg)))


def bpr_per_pair(pos, neg):
    return jax.nn.softplus(neg - pos)


def bpr_naive(pos, neg):
    return jnp.mean(-jnp.log(jax.nn.sigmoid(pos - neg)))


def bpr_numpy(pos, neg):
    return np.mean(np.logaddexp(0.0, np.asarray(neg) - np.asarray(pos)))


def bpr_stable_log_sigmoid(pos, neg):
    """Correct: -log_sigmoid(pos - neg) is softplus(neg - pos)."""
    return -jnp.mean(jax.nn.log_sigmoid(pos - neg))


# --- Exercise 6.3 ---------------------------------------------------------------------------


def _degrees(receivers, num_nodes):
    return jax.ops.segment_sum(jnp.ones(receivers.shape[0]), receivers, num_segments=num_nodes)


def _propagate(e0, senders, receivers, num_layers, weights, *, mean=True, keep_e0=True):
    layers, e = [e0], e0
    for _ in range(num_layers):
        e = jax.ops.segment_sum(e[senders] * weights[:, None], receivers, num_segments=len(e0))
        layers.append(e)
    if not mean:
        return layers[-1]
    return jnp.mean(jnp.stack(layers if keep_e0 else layers[1:]), axis=0)


def _sym(senders, receivers, n):
    deg = _degrees(receivers, n)
    return jax.lax.rsqrt(deg[senders] * deg[receivers])


def lgc_self_loops(e0, senders, receivers, num_layers):
    n = e0.shape[0]
    loops = jnp.arange(n)
    s, r = jnp.concatenate([senders, loops]), jnp.concatenate([receivers, loops])
    return _propagate(e0, s, r, num_layers, _sym(s, r, n))


def lgc_row_norm(e0, senders, receivers, num_layers):
    deg = _degrees(receivers, e0.shape[0])
    return _propagate(e0, senders, receivers, num_layers, 1.0 / deg[receivers])


def lgc_no_norm(e0, senders, receivers, num_layers):
    return _propagate(e0, senders, receivers, num_layers, jnp.ones(senders.shape[0]))


def lgc_last_layer(e0, senders, receivers, num_layers):
    weights = _sym(senders, receivers, e0.shape[0])
    return _propagate(e0, senders, receivers, num_layers, weights, mean=False)


def lgc_without_e0(e0, senders, receivers, num_layers):
    weights = _sym(senders, receivers, e0.shape[0])
    return _propagate(e0, senders, receivers, num_layers, weights, keep_e0=False)


def lgc_sum(e0, senders, receivers, num_layers):
    return (num_layers + 1) * ref.lightgcn_embeddings(e0, senders, receivers, num_layers)


def lgc_dense_nan(e0, senders, receivers, num_layers):
    n = e0.shape[0]
    a = jnp.zeros((n, n)).at[receivers, senders].set(1.0)
    d = 1.0 / jnp.sqrt(a.sum(axis=1))  # inf for the isolated node
    a_hat = d[:, None] * a * d[None, :]
    layers, e = [e0], e0
    for _ in range(num_layers):
        e = a_hat @ e
        layers.append(e)
    return jnp.mean(jnp.stack(layers), axis=0)


def lgc_fixed_layers(e0, senders, receivers, num_layers):
    return ref.lightgcn_embeddings(e0, senders, receivers, 2)


def lgc_dense_correct(e0, senders, receivers, num_layers):
    """Correct: the dense formula with a safe 1 / sqrt(degree)."""
    n = e0.shape[0]
    a = jnp.zeros((n, n)).at[receivers, senders].set(1.0)
    deg = a.sum(axis=1)
    d = jnp.where(deg > 0, 1.0 / jnp.sqrt(jnp.maximum(deg, 1.0)), 0.0)
    a_hat = d[:, None] * a * d[None, :]
    layers = [e0]
    for _ in range(num_layers):
        layers.append(a_hat @ layers[-1])
    return sum(layers) / len(layers)


CHECKS = [
    ("6.1", nb06.check_sample_negatives, ref.sample_negatives),
    ("6.2", nb06.check_bpr_loss, ref.bpr_loss),
    ("6.3", nb06.check_lightgcn_embeddings, ref.lightgcn_embeddings),
]

WRONG = [
    ("6.1", nb06.check_sample_negatives, neg_no_rejection, "returned training positives"),
    ("6.1", nb06.check_sample_negatives, neg_redraw_once, "keep redrawing until none does"),
    ("6.1", nb06.check_sample_negatives, neg_next_free, "not uniform over the negatives"),
    ("6.1", nb06.check_sample_negatives, neg_first_free, "replace it with a fixed one"),
    ("6.1", nb06.check_sample_negatives, neg_short_range, "rng.integers(0, M)"),
    ("6.1", nb06.check_sample_negatives, neg_node_ids, "movie *node ids*"),
    ("6.1", nb06.check_sample_negatives, neg_global_random, "only from the `rng`"),
    ("6.1", nb06.check_sample_negatives, neg_fixed_seed, "other seeds other negatives"),
    ("6.1", nb06.check_sample_negatives, neg_one_per_user, "one negative per entry"),
    ("6.1", nb06.check_sample_negatives, neg_marks_mask, "changed the `train_mask`"),
    ("6.2", nb06.check_bpr_loss, bpr_flipped, "the sign is flipped"),
    ("6.2", nb06.check_bpr_loss, bpr_sum, "take the mean"),
    ("6.2", nb06.check_bpr_loss, bpr_no_minus, "the value is negative"),
    ("6.2", nb06.check_bpr_loss, bpr_no_log, "without the log"),
    ("6.2", nb06.check_bpr_loss, bpr_pointwise, "pointwise loss"),
    ("6.2", nb06.check_bpr_loss, bpr_hinge, "hinge loss"),
    ("6.2", nb06.check_bpr_loss, bpr_per_pair, "Take the mean over the pairs."),
    ("6.2", nb06.check_bpr_loss, bpr_naive, "overflows"),
    ("6.2", nb06.check_bpr_loss, bpr_numpy, "jax.grad could not differentiate"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_self_loops, "you added self-loops"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_row_norm, "row-normalised D^-1 A"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_no_norm, "not normalised"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_last_layer, "the last layer E_K"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_without_e0, "E_0 is missing"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_sum, "the sum of the layers"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_dense_nan, "degree 0"),
    ("6.3", nb06.check_lightgcn_embeddings, lgc_fixed_layers, "use num_layers propagation"),
]


def test_equivalent_correct_answers_pass(capsys):
    """Other correct solutions pass: -log_sigmoid, a per-user choice loop, the dense formula."""

    def neg_per_user_choice(rng, users, train_mask):
        return np.array([rng.choice(np.flatnonzero(~train_mask[u])) for u in users])

    assert nb06.check_bpr_loss(bpr_stable_log_sigmoid) is bpr_stable_log_sigmoid
    assert nb06.check_sample_negatives(neg_per_user_choice) is neg_per_user_choice
    assert nb06.check_lightgcn_embeddings(lgc_dense_correct) is lgc_dense_correct
    capsys.readouterr()


def test_reference_sampler_never_returns_a_positive_and_covers_every_negative():
    rng = np.random.default_rng(1)
    mask = rng.random((40, 30)) < 0.7
    mask[:, 0] = False  # every user keeps a negative
    users = np.repeat(np.arange(40), 200)
    out = ref.sample_negatives(np.random.default_rng(2), users, mask)
    assert not mask[users, out].any()
    for user in range(40):
        assert set(out[users == user]) == set(np.flatnonzero(~mask[user]))
    again = ref.sample_negatives(np.random.default_rng(2), users, mask)
    assert np.array_equal(out, again)


def test_reference_bpr_is_the_log_sigmoid_of_the_difference():
    pos = np.array([3.0, -1.0, 0.0])
    neg = np.array([1.0, 2.0, 0.0])
    expected = np.mean(-np.log(1.0 / (1.0 + np.exp(-(pos - neg)))))
    assert np.isclose(float(ref.bpr_loss(pos, neg)), expected, atol=1e-6)


def test_reference_propagation_matches_the_dense_formula_and_differs_from_a_plus_i():
    rng = np.random.default_rng(3)
    users, movies = rng.integers(0, 5, 12), rng.integers(5, 11, 12)
    pairs = np.unique(np.stack([users, movies], 1), axis=0)
    senders = np.r_[pairs[:, 0], pairs[:, 1]]
    receivers = np.r_[pairs[:, 1], pairs[:, 0]]
    e0 = rng.normal(size=(12, 4)).astype(np.float32)  # node 11 has no edges
    a = np.zeros((12, 12))
    a[receivers, senders] = 1.0
    deg = a.sum(1)
    d = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1.0)), 0.0)
    a_hat = d[:, None] * a * d[None, :]
    layers = [e0.astype(np.float64)]
    for _ in range(3):
        layers.append(a_hat @ layers[-1])
    z = np.asarray(ref.lightgcn_embeddings(e0, senders, receivers, 3))
    assert np.allclose(z, np.mean(layers, 0), atol=1e-5)
    assert np.allclose(z[11], e0[11] / 4, atol=1e-6)
    assert not np.allclose(z, np.asarray(lgc_self_loops(e0, senders, receivers, 3)), atol=1e-3)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_every_known_mistake_differs_from_the_answer(num_layers):
    """A mistake that equals the right answer would reject correct code."""
    right = nb06._dense_z(num_layers)
    for hint, wrong in nb06._propagation_mistakes(num_layers).items():
        assert not np.allclose(wrong, right, atol=1e-4), hint
    value = float(ref.bpr_loss(nb06._POS, nb06._NEG))
    for hint, wrong in nb06._bpr_mistakes().items():
        assert not np.isclose(wrong, value, atol=1e-4), hint
