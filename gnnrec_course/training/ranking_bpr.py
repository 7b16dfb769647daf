"""BPR's loss and its training triples: positives, uniform negatives, fixed-shape batches.

BPR (Rendle et al., 2009) asks that a user's score for a movie they interacted with (a
*positive*) beat their score for a movie they did not (a *negative*):
``loss = mean(-log sigmoid(s(u, pos) - s(u, neg)))``. Negatives are drawn uniformly from the
movies that are not the user's training positives. Each epoch pairs every training positive
with ``num_negatives`` fresh negatives, shuffles the triples and cuts them into batches of one
fixed shape (the last one padded, padding weighted 0), so a jitted epoch compiles once.

Users are user nodes ``0..U-1``; movies here are movie *indices* ``0..M-1`` (node ``U + j``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InvalidArgumentError

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from ..ranking_eval import UserItems

__all__ = ["PositiveIndex", "bpr_loss", "bpr_epoch_batches", "sample_negatives"]

Array = jax.Array


def bpr_loss(pos_scores: Array, neg_scores: Array, weights: Array | None = None) -> Array:
    """Mean of ``-log sigmoid(pos - neg)`` over [B] pairs (weighted mean when ``weights``)."""
    per_pair = jax.nn.softplus(neg_scores - pos_scores)  # == -log_sigmoid(pos - neg), stable
    if weights is None:
        return jnp.mean(per_pair)
    return jnp.sum(weights * per_pair) / jnp.maximum(jnp.sum(weights), 1.0)


class PositiveIndex:
    """Membership test for (user, movie) training pairs; memory linear in the pairs.

    Args:
      users: int [P] user nodes ``0..U-1``; movies: int [P] movie indices ``0..M-1``.
      num_users: U; num_movies: M.

    Raises:
      InvalidArgumentError: when some user has interacted with every movie (no negative).
    """

    def __init__(self, users: np.ndarray, movies: np.ndarray, num_users: int, num_movies: int):
        self.num_users, self.num_movies = int(num_users), int(num_movies)
        self.keys = np.unique(np.asarray(users, np.int64) * self.num_movies + movies)
        per_user = np.bincount(self.keys // self.num_movies, minlength=self.num_users)
        if np.any(per_user >= self.num_movies):
            user = int(np.flatnonzero(per_user >= self.num_movies)[0])
            raise InvalidArgumentError(
                f"User node {user} has interacted with every movie, so BPR has no negative "
                "to sample: drop that user from the training interactions."
            )

    @classmethod
    def from_items(cls, items: UserItems) -> PositiveIndex:
        """The pairs of :class:`gnnrec_course.ranking_eval.UserItems`."""
        users, movies = items.users_and_movies()
        return cls(users, movies, len(items.counts), items.num_movies)

    def contains(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """bool [B]: is (users[i], movies[i]) a training pair?"""
        keys = np.asarray(users, np.int64) * self.num_movies + movies
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[pos] == keys


def sample_negatives(
    rng: np.random.Generator, users: np.ndarray, positives: PositiveIndex
) -> np.ndarray:
    """One uniform negative movie index (``0..M-1``) per user in ``users`` [B]: never one of
    that user's training positives (rejection sampling, redrawing only the rejected)."""
    negatives = rng.integers(0, positives.num_movies, size=len(users))
    bad = np.flatnonzero(positives.contains(users, negatives))
    while len(bad):
        negatives[bad] = rng.integers(0, positives.num_movies, size=len(bad))
        bad = bad[positives.contains(users[bad], negatives[bad])]
    return negatives


def bpr_epoch_batches(
    rng: np.random.Generator,
    users: np.ndarray,
    movies: np.ndarray,
    positives: PositiveIndex,
    batch_size: int,
    num_negatives: int = 1,
    multiple_of: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One epoch of shuffled (user, positive, negative) triples in fixed-shape batches.

    Every positive pair (users [P], movies [P]) appears ``num_negatives`` times, each with its
    own negative. Returns ``(u, pos, neg, weight)``, each [S, B] with
    ``B = min(batch_size, T)`` rounded up to a multiple of ``multiple_of`` (the number of
    devices a batch is split over) and ``S = ceil(T / B)`` for ``T = P * num_negatives``; u holds
    user nodes, pos/neg movie indices ``0..M-1``; padding triples repeat real ones with
    weight 0.
    """
    u = np.tile(np.asarray(users), num_negatives)
    p = np.tile(np.asarray(movies), num_negatives)
    n = sample_negatives(rng, u, positives)
    order = rng.permutation(len(u))
    batch_size = max(1, min(batch_size, len(u)))  # no batch larger than the epoch
    batch_size = -(-batch_size // multiple_of) * multiple_of
    steps = -(-len(u) // batch_size)
    pad = steps * batch_size - len(u)
    order = np.resize(order, steps * batch_size)  # padding repeats real triples
    weight = np.r_[np.ones(len(u), np.float32), np.zeros(pad, np.float32)]
    shape = (steps, batch_size)
    return (
        u[order].reshape(shape).astype(np.int32),
        p[order].reshape(shape).astype(np.int32),
        n[order].reshape(shape).astype(np.int32),
        weight.reshape(shape),
    )
