"""Mini-batches of training ratings with one fixed shape ``[B]`` (padding + mask).

Every batch is ``[B]``; the last one is padded with copies of rating 0 and ``mask = 0``, so a
jitted step compiles once. The message graph stays the full training graph: each step still
encodes the whole graph (the rating model needs every rating of a batch's movies, and
LightGCN three hops of neighbours), so a step costs one full encode plus a ``[B]`` decode.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["epoch_batches", "num_batches"]


def num_batches(num_ratings: int, batch_size: int) -> int:
    """How many ``[batch_size]`` batches hold ``num_ratings`` ratings (at least one)."""
    return max(1, -(-int(num_ratings) // int(batch_size)))


def epoch_batches(
    users: np.ndarray,
    movies: np.ndarray,
    ratings: np.ndarray,
    batch_size: int,
    *,
    seed: int | None = 0,
    epoch: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Fixed-size batches ``(users int32, movies int32, ratings float32, mask float32)``.

    Each array is ``[batch_size]``; ``mask`` is 1 for a real rating and 0 for padding. The
    order is a permutation that depends on ``(seed, epoch)`` only; ``seed=None`` keeps the
    given order (evaluation).
    """
    users = np.asarray(users, np.int32)
    movies = np.asarray(movies, np.int32)
    ratings = np.asarray(ratings, np.float32)
    n = len(ratings)
    order = np.arange(n) if seed is None else np.random.default_rng((seed, epoch)).permutation(n)
    total = num_batches(n, batch_size) * batch_size
    idx = np.zeros(total, dtype=np.int64)
    idx[:n] = order
    mask = np.zeros(total, dtype=np.float32)
    mask[:n] = 1.0
    for start in range(0, total, batch_size):
        sl = idx[start : start + batch_size]
        yield users[sl], movies[sl], ratings[sl], mask[start : start + batch_size]
