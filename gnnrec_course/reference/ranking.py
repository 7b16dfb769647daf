"""Reference implementations for notebook 06 (ranking with LightGCN and BPR).

These are the functions a learner writes in the notebook's exercises. The self-checks in
:mod:`gnnrec_course.checks.nb06` compare the learner's versions against these, and hand these
back when an exercise is skipped or wrong, so that the rest of the notebook still runs. The
package's own implementations, which the notebook trains with, live in
:mod:`gnnrec_course.training` (negative sampling with memory linear in the interactions, the
BPR loss) and :mod:`gnnrec_course.models` (LightGCN); these versions are the short ones a
learner can write in a few lines.

Conventions: users are nodes ``0..U-1``; a movie is addressed by its *index* ``j`` in
``0..M-1`` (its node id is ``U + j``); edge ``e`` carries a message from ``senders[e]`` to
``receivers[e]`` and the user–movie graph stores every edge in both directions, without
self-loops.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["bpr_loss", "lightgcn_embeddings", "sample_negatives"]


def sample_negatives(
    rng: np.random.Generator, users: np.ndarray, train_mask: np.ndarray
) -> np.ndarray:
    """Exercise 6.1: one uniform negative movie per user, never a training positive.

    Rejection sampling: draw a movie uniformly for every user, then redraw only the draws that
    hit one of that user's training movies, until none does. Every movie the user has not
    interacted with is equally likely.

    Args:
      rng: a seeded ``np.random.Generator`` (the only source of randomness).
      users: int ``[B]`` user nodes ``0..U-1`` (a user may appear several times).
      train_mask: bool ``[U, M]``, True where the user interacted with movie ``j`` in training;
        every user has at least one movie without an interaction.

    Returns:
      int ``[B]``: movie indices ``0..M-1`` with ``train_mask[users[i], out[i]]`` False.
    """
    users = np.asarray(users)
    train_mask = np.asarray(train_mask, dtype=bool)
    num_movies = train_mask.shape[1]
    negatives = rng.integers(0, num_movies, size=len(users))
    bad = np.flatnonzero(train_mask[users, negatives])
    while len(bad):
        negatives[bad] = rng.integers(0, num_movies, size=len(bad))
        bad = bad[train_mask[users[bad], negatives[bad]]]
    return negatives


def bpr_loss(pos_scores: jax.Array, neg_scores: jax.Array) -> jax.Array:
    """Exercise 6.2: the BPR loss ``mean(-log sigmoid(pos - neg))`` over ``[B]`` pairs.

    ``-log sigmoid(x) = softplus(-x)``; softplus never overflows, whereas
    ``-log(sigmoid(x))`` becomes ``inf`` once ``sigmoid(x)`` rounds to 0 (x below about -100
    in float32).

    Args:
      pos_scores: float ``[B]``, the score of each user's positive movie.
      neg_scores: float ``[B]``, the score of the negative movie paired with it.

    Returns:
      a scalar (shape ``()``), differentiable with ``jax.grad``.
    """
    return jnp.mean(jax.nn.softplus(jnp.asarray(neg_scores) - jnp.asarray(pos_scores)))


def lightgcn_embeddings(
    e0: jax.Array, senders: jax.Array, receivers: jax.Array, num_layers: int
) -> jax.Array:
    """Exercise 6.3: LightGCN's ``Z = mean(E_0, Â E_0, ..., Â^K E_0)``, ``Â = D^-1/2 A D^-1/2``.

    No self-loops, no weight matrix, no non-linearity: each layer only averages the
    neighbours' vectors with the weight ``1 / sqrt(deg[s] deg[r])`` per edge ``s -> r``, and
    the result is the mean of the ``K + 1`` layers. A node without edges (degree 0) gets no
    messages, so its ``Z`` is ``E_0 / (K + 1)``.

    Args:
      e0: float ``[N, D]``, the layer-0 embeddings.
      senders, receivers: int ``[E]``, every edge in both directions, no self-loops.
      num_layers: ``K >= 0`` (0 gives back ``E_0``: plain matrix factorisation).

    Returns:
      float ``[N, D]``.
    """
    e0 = jnp.asarray(e0, dtype=jnp.float32)
    senders, receivers = jnp.asarray(senders), jnp.asarray(receivers)
    num_nodes = e0.shape[0]
    ones = jnp.ones(receivers.shape[0], dtype=jnp.float32)
    deg = jax.ops.segment_sum(ones, receivers, num_segments=num_nodes)  # [N]
    weights = jax.lax.rsqrt(deg[senders] * deg[receivers])  # only nodes with edges appear
    e, total = e0, e0
    for _ in range(num_layers):
        e = jax.ops.segment_sum(e[senders] * weights[:, None], receivers, num_segments=num_nodes)
        total = total + e
    return total / (num_layers + 1)
