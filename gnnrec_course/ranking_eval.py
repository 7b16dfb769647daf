"""Ranking evaluation over every movie a user has not interacted with, for any score matrix.

For the ranking protocols (:func:`gnnrec_course.graph.ranking_split`, binary relevance: every
test interaction is relevant), :func:`evaluate_ranking` scores a *matrix* score function
``scores_fn(user nodes [B]) -> [B, M]`` one batch of users at a time over every movie not in
the user's training set, with precision, recall, NDCG, MAP, hit rate and catalogue coverage
(:func:`gnnrec_course.metrics.metrics_from_hits`); :func:`popularity_scores` and
:func:`random_scores` are its baselines. :class:`UserItems` holds each user's movies (CSR) and
:func:`top_k_unseen` the deterministic top-k that :class:`gnnrec_course.recommend.Recommender`
uses too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import RecommendError
from .metrics import metrics_from_hits

if TYPE_CHECKING:
    from .graph import IdMaps

__all__ = [
    "RANKING_METRIC_NAMES",
    "MatrixScoreFn",
    "UserItems",
    "evaluate_ranking",
    "popularity_scores",
    "random_scores",
    "top_k_unseen",
]

MatrixScoreFn = Callable[[np.ndarray], Any]
"""``scores_fn(users int32 [B] user nodes) -> scores [B, M]`` over movie indices ``0..M-1``."""

RANKING_METRIC_NAMES: tuple[str, ...] = (
    "precision", "recall", "ndcg", "map", "hit_rate", "coverage",
)  # fmt: skip


def check_count(n: int, what: str = "recommendations", name: str = "n") -> int:
    """``n`` as an int when it is a whole number >= 1, else a one-line :class:`RecommendError`."""
    try:
        value = int(n)
    except (TypeError, ValueError):
        value = None
    if value is None or value <= 0 or value != n:
        raise RecommendError(f"{name} must be a positive whole number of {what}; got {n!r}.")
    return value


def concat_ratings(ratings: pd.DataFrame | Sequence[pd.DataFrame] | None) -> pd.DataFrame:
    """One DataFrame with user_id and movie_id from a DataFrame, a list of them, or None."""
    if ratings is None:
        return pd.DataFrame({"user_id": np.zeros(0, np.int64), "movie_id": np.zeros(0, np.int64)})
    if isinstance(ratings, pd.DataFrame):
        ratings = [ratings]
    frames = [df[["user_id", "movie_id"]] for df in ratings]
    return pd.concat(frames, ignore_index=True) if frames else concat_ratings(None)


def known_pairs(ratings: pd.DataFrame, maps: IdMaps) -> tuple[np.ndarray, np.ndarray]:
    """User index [K] (0..U-1) and movie index [K] (0..M-1) of the rows with known ids."""
    users = ratings["user_id"].to_numpy(dtype=np.int64)
    movies = ratings["movie_id"].to_numpy(dtype=np.int64)
    ok = np.isin(users, maps.user_ids) & np.isin(movies, maps.movie_ids)
    u = np.searchsorted(maps.user_ids, users[ok])
    m = np.searchsorted(maps.movie_ids, movies[ok])
    return u.astype(np.int64), m.astype(np.int64)


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first: int [rows, min(k, cols)].

    Ties are broken by the smaller column index, so the result is deterministic.
    """
    scores = np.where(np.isnan(scores), -np.inf, scores)  # a NaN score ranks last
    k = min(k, scores.shape[1])
    if k == scores.shape[1]:
        part = np.broadcast_to(np.arange(k), scores.shape).copy()
    else:
        # argpartition picks arbitrarily among scores tied with the k-th best: keep every
        # score above it and the first (lowest-index) ties up to k.
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]  # [rows, 1]
        above, tied = scores > kth, scores == kth
        need = k - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
        part = np.nonzero(chosen)[1].reshape(len(scores), k)
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


class UserItems:
    """Each user's movies as a CSR structure over user nodes ``0..U-1``.

    Attributes:
        indptr: int64 [U + 1]; user u's movies are ``indices[indptr[u]:indptr[u + 1]]``.
        indices: int64 [P], movie indices ``0..M-1`` (node id minus U), sorted per user.
        num_movies: M.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, num_movies: int) -> None:
        self.indptr, self.indices, self.num_movies = indptr, indices, int(num_movies)

    @classmethod
    def from_frame(
        cls, interactions: pd.DataFrame | Sequence[pd.DataFrame] | None, maps: IdMaps
    ) -> UserItems:
        """The (deduplicated) movies of each user in ``interactions`` (user_id, movie_id; a
        DataFrame or a list of them); rows with ids unknown to ``maps`` are skipped."""
        u, m = known_pairs(concat_ratings(interactions), maps)
        keys = np.unique(u * maps.num_movies + m)
        users, movies = keys // maps.num_movies, keys % maps.num_movies
        counts = np.bincount(users, minlength=maps.num_users)
        return cls(np.r_[0, np.cumsum(counts)], movies, maps.num_movies)

    @property
    def counts(self) -> np.ndarray:
        """Number of movies of each user, int64 [U]."""
        return np.diff(self.indptr)

    def users_and_movies(self) -> tuple[np.ndarray, np.ndarray]:
        """The pairs as user nodes [P] and movie indices [P], grouped by user."""
        return np.repeat(np.arange(len(self.counts)), self.counts), self.indices

    def mask(self, users: np.ndarray) -> np.ndarray:
        """bool [B, M]: True at the movies of each user in ``users`` [B]."""
        users = np.asarray(users, dtype=np.int64)
        out = np.zeros((len(users), self.num_movies), dtype=bool)
        starts, ends = self.indptr[users], self.indptr[users + 1]
        lengths = ends - starts
        rows = np.repeat(np.arange(len(users)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        cols = self.indices[np.repeat(starts, lengths) + offsets]
        out[rows, cols] = True
        return out


def top_k_unseen(scores: np.ndarray, seen: np.ndarray, k: int) -> np.ndarray:
    """Indices [B, min(k, M)] of the best-scored movies per row, skipping ``seen`` [B, M].

    Best first; ties go to the lower movie index. A row with fewer than ``k`` unseen movies
    ends with seen ones (score ``-inf``).
    """
    masked = np.where(seen, -np.inf, np.asarray(scores, dtype=np.float64))
    return top_k_indices(masked, k)


def evaluate_ranking(
    scores_fn: MatrixScoreFn,
    train: UserItems,
    test: UserItems,
    k: int = 10,
    batch_size: int = 512,
) -> dict[str, float]:
    """Ranking metrics at ``k`` of ``scores_fn`` over every movie not in a user's training set.

    For each user with at least one test movie (all test movies are relevant), every movie
    except the user's training movies is ranked; the top ``k`` are compared with the test
    movies. Users are scored ``batch_size`` at a time (memory ``batch_size x M``).

    Args:
      scores_fn: user nodes int32 [B] -> scores [B, M] (higher is better).
      train: each user's training movies (never recommended).
      test: each user's relevant movies; users without any are not evaluated.
      k: cut-off.
      batch_size: users scored at a time.

    Returns:
      ``{"precision", "recall", "ndcg", "map", "hit_rate", "coverage"}``: means over the
      evaluated users; coverage is the share of the catalogue in anybody's top ``k``.
    """
    k = check_count(k, "recommendations", name="k")
    users = np.flatnonzero(test.counts > 0).astype(np.int32)
    hits = np.zeros((len(users), k), dtype=bool)
    recommended = np.zeros(train.num_movies, dtype=bool)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        seen = train.mask(batch)
        top = top_k_unseen(np.asarray(scores_fn(batch)), seen, k)
        # A user with fewer than k unseen movies gets seen ones at the end: not recommended.
        fresh = ~np.take_along_axis(seen, top, axis=1)
        recommended[top[fresh]] = True
        found = np.take_along_axis(test.mask(batch), top, axis=1) & fresh
        hits[start : start + len(batch), : top.shape[1]] = found
    out = metrics_from_hits(hits, test.counts[users])
    out["coverage"] = float(recommended.mean())
    return out


def popularity_scores(train: UserItems) -> MatrixScoreFn:
    """Every user gets the movies' training interaction counts as scores ([B, M])."""
    counts = np.bincount(train.indices, minlength=train.num_movies).astype(np.float32)
    return lambda users: np.broadcast_to(counts, (len(users), len(counts)))


def random_scores(num_movies: int, seed: int = 0) -> MatrixScoreFn:
    """Uniform random scores [B, M], fixed per (seed, user) whatever the batches."""

    def scores(users: np.ndarray) -> np.ndarray:
        rows = [
            np.random.default_rng([seed, int(u)]).random(num_movies, dtype=np.float32)
            for u in np.asarray(users).reshape(-1)
        ]
        return np.stack(rows) if rows else np.zeros((0, num_movies), np.float32)

    return scores
