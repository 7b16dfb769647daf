"""Rating and ranking metrics: RMSE, MAE, precision@k, recall@k, NDCG@k, MAP@k, hit rate@k.

Rating metrics compare predicted ratings with true ratings, element by element.
Ranking metrics compare, for each user, a ranked list of recommended movie ids with the set
of movies that are relevant to that user (for example the test movies they rated 4 or 5):

- precision@k = (relevant movies among the first k recommended) / k
- recall@k    = (relevant movies among the first k recommended) / (number of relevant movies)
- NDCG@k      = DCG@k / IDCG@k with binary relevance and a log2 discount:
  DCG@k = sum over ranks r = 1..k of rel_r / log2(r + 1), and IDCG@k is the DCG of a perfect
  list, that is sum over r = 1..min(k, |relevant|) of 1 / log2(r + 1).
- MAP@k       = sum over hits at rank r of (hits within the first r) / r, divided by
  min(k, |relevant|) (Microsoft Recommenders' ``map_at_k``).
- hit rate@k  = share of users with at least one relevant movie in the first k.

:func:`metrics_from_hits` computes them all from a hit matrix; every other ranking function
(here and in :mod:`gnnrec_course.recommend`) goes through it.

Each ranking metric is the mean over users. Users with no relevant movie are skipped (their
recall and NDCG are undefined); if no user has a relevant movie the result is ``nan``.
A list shorter than k counts its missing places as misses.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from .errors import InvalidArgumentError

__all__ = [
    "rmse",
    "mae",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "hits_at_k",
    "metrics_from_hits",
    "ranking_from_hits",
]

RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "hit_rate")


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise InvalidArgumentError(
            f"pred has {p.size} values but target has {t.size}; they must match."
        )
    if p.size == 0:
        raise InvalidArgumentError("rmse/mae need at least one prediction; got empty arrays.")
    return p, t


def rmse(pred, target) -> float:
    """Root mean squared error between ``pred`` [E] and ``target`` [E] (any array-likes)."""
    p, t = _pair(pred, target)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mae(pred, target) -> float:
    """Mean absolute error between ``pred`` [E] and ``target`` [E] (any array-likes)."""
    p, t = _pair(pred, target)
    return float(np.mean(np.abs(p - t)))


def _check_k(k: int) -> int:
    k = int(k)
    if k <= 0:
        raise InvalidArgumentError(f"k must be a positive number of recommendations; got {k}.")
    return k


def hits_at_k(
    recommended: Sequence[Sequence[int]] | np.ndarray,
    relevant: Sequence[Collection[int]],
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary hit matrix of the first ``k`` recommendations of each user.

    Args:
      recommended: one ranked list of item ids per user (ragged lists or a 2-D array [U, >=k]).
      relevant: one collection of relevant item ids per user, same length as ``recommended``.
      k: cut-off.

    Returns:
      ``(hits, n_relevant)``: bool [U, k] (``hits[u, r]`` is True when the item at rank r+1
      is relevant; missing places are False) and int [U], the number of relevant items.
    """
    k = _check_k(k)
    if len(recommended) != len(relevant):
        raise InvalidArgumentError(
            f"recommended has {len(recommended)} users but relevant has {len(relevant)};"
            " give one list and one set per user."
        )
    hits = np.zeros((len(recommended), k), dtype=bool)
    n_relevant = np.zeros(len(recommended), dtype=np.int64)
    for u, (recs, rel) in enumerate(zip(recommended, relevant, strict=True)):
        rel = set(rel)
        n_relevant[u] = len(rel)
        seen: set = set()
        for r, item in enumerate(np.asarray(recs).reshape(-1)[:k].tolist()):
            # An item repeated in the list counts once.
            hits[u, r] = item in rel and item not in seen
            seen.add(item)
    return hits, n_relevant


def _discounts(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k, shape [k]."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def metrics_from_hits(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, float]:
    """Precision, recall, NDCG, MAP and hit rate at k = ``hits.shape[1]``, mean over users.

    Args:
      hits: bool [U, k], True where the item at that rank is relevant.
      n_relevant: int [U], number of relevant items of each user; users with 0 are skipped.

    Returns:
      ``{"precision", "recall", "ndcg", "map", "hit_rate"}`` (all ``nan`` if no user has a
      relevant item).
    """
    hits = np.asarray(hits, dtype=bool)
    n_relevant = np.asarray(n_relevant, dtype=np.int64).reshape(-1)
    if hits.ndim != 2 or hits.shape[0] != n_relevant.shape[0]:
        raise InvalidArgumentError(
            f"hits must be [users, k] and n_relevant [users]; got {hits.shape} and "
            f"{n_relevant.shape}."
        )
    k = hits.shape[1]
    keep = n_relevant > 0
    if not keep.any() or k == 0:
        return dict.fromkeys(RANKING_METRICS, float("nan"))
    hits, n_rel = hits[keep].astype(np.float64), n_relevant[keep]
    n_hits = hits.sum(axis=1)
    disc = _discounts(k)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, k)]
    ranks = np.arange(1, k + 1, dtype=np.float64)
    precision_at_hits = np.cumsum(hits, axis=1) / ranks * hits
    return {
        "precision": float(np.mean(n_hits / k)),
        "recall": float(np.mean(n_hits / n_rel)),
        "ndcg": float(np.mean(hits @ disc / ideal)),
        "map": float(np.mean(precision_at_hits.sum(axis=1) / np.minimum(n_rel, k))),
        "hit_rate": float(np.mean(n_hits > 0)),
    }


def ranking_from_hits(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, float]:
    """Precision, recall and NDCG at k = ``hits.shape[1]``, averaged over users.

    The same numbers as :func:`metrics_from_hits`, under the keys of notebooks 04-05.

    Args:
      hits: bool [U, k], True where the item at that rank is relevant.
      n_relevant: int [U], number of relevant items of each user; users with 0 are skipped.

    Returns:
      ``{"precision@k", "recall@k", "ndcg@k"}`` with k the actual number, e.g. "ndcg@10".
    """
    out = metrics_from_hits(hits, n_relevant)
    k = np.shape(hits)[1]
    return {f"{name}@{k}": out[name] for name in ("precision", "recall", "ndcg")}


def precision_at_k(recommended, relevant, k: int) -> float:
    """Mean over users of (relevant items in the top ``k``) / ``k``.

    ``recommended``: ranked item ids per user (lists or 2-D array); ``relevant``: a set of
    relevant item ids per user. Users with no relevant item are skipped.
    """
    hits, n_rel = hits_at_k(recommended, relevant, k)
    return ranking_from_hits(hits, n_rel)[f"precision@{int(k)}"]


def recall_at_k(recommended, relevant, k: int) -> float:
    """Mean over users of (relevant items in the top ``k``) / (number of relevant items).

    Users with no relevant item are skipped.
    """
    hits, n_rel = hits_at_k(recommended, relevant, k)
    return ranking_from_hits(hits, n_rel)[f"recall@{int(k)}"]


def ndcg_at_k(recommended, relevant, k: int) -> float:
    """Mean over users of NDCG@k (binary relevance, log2 discount, ideal over min(k, |rel|)).

    Users with no relevant item are skipped.
    """
    hits, n_rel = hits_at_k(recommended, relevant, k)
    return ranking_from_hits(hits, n_rel)[f"ndcg@{int(k)}"]
