"""Reference implementations for notebook 05 (inference: top-N, ranking metrics, similar movies).

These are the functions a learner writes in the notebook's exercises. The self-checks in
:mod:`gnnrec_course.checks.nb05` compare the learner's versions against these, and hand these
back when an exercise is skipped so that the rest of the notebook still runs. The package's
full implementations live in :mod:`gnnrec_course.recommend` and :mod:`gnnrec_course.metrics`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["cosine_similar", "ndcg_at_k", "top_n_unseen"]


def top_n_unseen(scores: ArrayLike, seen_mask: ArrayLike, n: int) -> np.ndarray:
    """Exercise 5.1: the ``n`` best-scored movies a user has not seen.

    Args:
      scores: the model's score of every movie for one user, float ``[M]`` (higher = better).
      seen_mask: bool ``[M]``, True for the movies the user has already rated.
      n: how many movies to return.

    Returns:
      int ``[min(n, number of unseen movies)]``: indices into ``scores`` of the best unseen
      movies, best first. Equal scores are ordered by the smaller index.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    seen = np.asarray(seen_mask, dtype=bool).reshape(-1)
    masked = np.where(seen, -np.inf, scores)
    order = np.argsort(-masked, kind="stable")  # stable: ties keep the smaller index first
    return order[: min(int(n), int((~seen).sum()))]


def ndcg_at_k(recommended: Sequence[int] | ArrayLike, relevant: Collection[int], k: int) -> float:
    """Exercise 5.2: NDCG@k of one user's ranked list (binary relevance, log2 discount).

    ``DCG@k = sum over ranks r = 1..k of rel_r / log2(r + 1)`` where ``rel_r`` is 1 if the movie
    at rank r is relevant, else 0; ``IDCG@k`` is the DCG of a perfect list, which puts
    ``min(k, len(relevant))`` relevant movies first. NDCG@k = DCG@k / IDCG@k, in [0, 1].

    Args:
      recommended: movie ids, best first, ``[L]`` (only the first ``k`` count; a list shorter
        than k counts the missing places as misses).
      relevant: the ids of the movies that are relevant to the user (not empty).
      k: the cut-off, >= 1.

    Returns:
      NDCG@k as a float.
    """
    relevant = set(np.asarray(list(relevant)).reshape(-1).tolist())
    top = np.asarray(recommended).reshape(-1)[:k].tolist()
    dcg = sum(1.0 / np.log2(rank + 2) for rank, item in enumerate(top) if item in relevant)
    idcg = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return float(dcg / idcg) if idcg > 0 else 0.0


def cosine_similar(embeddings: ArrayLike, index: int, n: int) -> np.ndarray:
    """Exercise 5.3: the ``n`` rows of ``embeddings`` most cosine-similar to row ``index``.

    ``cos(a, b) = a . b / (|a| |b|)``: the angle between two embeddings, whatever their
    lengths. A row of zeros has similarity 0 to everything.

    Args:
      embeddings: float ``[M, D]``, one row per movie.
      index: the row to compare with, in ``0..M-1``.
      n: how many similar rows to return.

    Returns:
      int ``[min(n, M - 1)]``: row indices, most similar first, never ``index`` itself.
      Equal similarities are ordered by the smaller index.
    """
    z = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(z, axis=1)
    unit = z / np.where(norms > 0, norms, 1.0)[:, None]
    sim = unit @ unit[index]
    sim[index] = -np.inf
    order = np.argsort(-sim, kind="stable")
    return order[: min(int(n), len(sim) - 1)]
