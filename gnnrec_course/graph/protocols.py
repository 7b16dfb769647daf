"""Ranking protocols: implicit feedback and per-user train/test splits of the interactions.

Recommendation as ranking treats every rating as an *interaction* (implicit feedback: the user
chose to watch the movie), optionally only the ratings at or above a threshold. Each user's
interactions are then split into a training and a test part:

- ``stratified``: a seeded random 75/25 split of each user's interactions, exactly as
  Microsoft Recommenders' ``python_stratified_split`` (one uniform number per row from
  ``np.random.seed(seed); np.random.rand(n)``, rows ranked by it within each user, the rows
  whose rank / count is at most ``ratio`` are training). A user with ``n`` interactions keeps
  ``floor(ratio * n)`` of them for training (up to float rounding of ``rank / n``).
- ``temporal``: the same per user, ranked by timestamp: the last 25% of each user's
  interactions are the test part (Microsoft Recommenders' ``python_chrono_split``).

Settings and the epoch count are chosen on a validation part carved from the training part
with the same function (another seed), never on the test part: :func:`ranking_split`.

Note: Microsoft Recommenders' MovieLens benchmark notebook calls the splitter with
``filter_by="item"`` (stratified per *movie*); its LightGCN and BPR notebooks use the default
``filter_by="user"``. ``by="user"`` is the default here; ``by="item"`` gives the other one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gnnrec_course.errors import InvalidArgumentError, UnknownSplitError

__all__ = [
    "PROTOCOLS",
    "VAL_SEED_OFFSET",
    "RankingSplit",
    "implicit_feedback",
    "ranking_split",
    "stratified_split",
    "temporal_split",
]

PROTOCOLS: tuple[str, ...] = ("stratified", "temporal")
VAL_SEED_OFFSET = 10_000  # the validation split of seed s uses seed s + VAL_SEED_OFFSET


def implicit_feedback(ratings: pd.DataFrame, min_rating: float | None = None) -> pd.DataFrame:
    """The interactions of ``ratings``: every row, or only those with ``rating >= min_rating``.

    Args:
      ratings: ``[R]`` rows with columns user_id, movie_id, rating, timestamp.
      min_rating: keep only ratings at or above this value (``None``: keep every rating).

    Returns:
      The kept rows (original index and columns), ``[R']``.
    """
    if min_rating is None:
        return ratings
    return ratings[ratings["rating"].to_numpy() >= min_rating]


def _check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not 0.0 < ratio < 1.0:
        raise InvalidArgumentError(
            f"ratio must be between 0 and 1 (the training share); got {ratio}."
        )
    return ratio


def _group_column(by: str) -> str:
    if by not in ("user", "item"):
        raise InvalidArgumentError(f"by must be 'user' or 'item'; got {by!r}.")
    return "user_id" if by == "user" else "movie_id"


def _split_by_order(
    data: pd.DataFrame, order_key: np.ndarray, ratio: float, group: str, min_interactions: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank the rows of each group by ``order_key``; the first ``ratio`` share is training."""
    if min_interactions > 1:
        counts = data.groupby(group)[group].transform("count").to_numpy()
        keep = counts >= min_interactions
        data, order_key = data[keep], order_key[keep]
    groups = data[group].to_numpy()
    # Stable sort by (group, key), as pandas' sort_values([group, key]) does.
    order = np.lexsort((order_key, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_groups)])
    rank = np.arange(len(sorted_groups)) - np.repeat(starts, sizes) + 1  # 1-based within group
    # Same float expression as Microsoft Recommenders: rank / count <= ratio.
    in_train_sorted = rank / np.repeat(sizes, sizes) <= ratio
    in_train = np.empty(len(order), dtype=bool)
    in_train[order] = in_train_sorted
    return data[in_train], data[~in_train]


def stratified_split(
    ratings: pd.DataFrame,
    ratio: float = 0.75,
    seed: int = 42,
    *,
    by: str = "user",
    min_interactions: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, a seeded random ``ratio`` / ``1 - ratio`` split of the interactions.

    The same rows as ``recommenders.datasets.python_splitters.python_stratified_split(
    ratings, ratio, min_rating=min_interactions, filter_by=by, seed=seed)`` (whose
    ``min_rating`` is a minimum number of interactions, not a rating threshold). The global
    NumPy random state is left untouched.

    Args:
      ratings: ``[R]`` interactions (user_id, movie_id, ...).
      ratio: training share of each user's interactions.
      seed: seeds the split.
      by: ``"user"`` (stratify per user) or ``"item"`` (per movie).
      min_interactions: drop users (items) with fewer interactions first.

    Returns:
      ``(train, test)``: disjoint row subsets of ``ratings`` in their original order.
    """
    ratio, group = _check_ratio(ratio), _group_column(by)
    # Filter first, then one draw per kept row: the stream of np.random.seed(seed);
    # np.random.rand(n), in the same order as Microsoft Recommenders.
    if min_interactions > 1:
        counts = ratings.groupby(group)[group].transform("count").to_numpy()
        ratings = ratings[counts >= min_interactions]
    key = np.random.RandomState(seed).rand(len(ratings))
    return _split_by_order(ratings, key, ratio, group, 1)


def temporal_split(
    ratings: pd.DataFrame,
    ratio: float = 0.75,
    *,
    by: str = "user",
    min_interactions: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the first ``ratio`` of the interactions by timestamp are training, the rest
    (the latest) test; ties keep the order of the rows (as ``python_chrono_split``).

    Returns:
      ``(train, test)``: disjoint row subsets of ``ratings`` in their original order.
    """
    ratio, group = _check_ratio(ratio), _group_column(by)
    key = ratings["timestamp"].to_numpy()
    return _split_by_order(ratings, key, ratio, group, min_interactions)


@dataclass
class RankingSplit:
    """Interactions split for ranking; every frame is a row subset of the interactions.

    Attributes:
        train: the whole training part (the reported model is trained on it).
        test: the held-out part (used only for the final scores).
        fit: ``train`` minus ``val``: used while choosing settings and the epoch count.
        val: validation part carved from ``train`` by the same protocol (another seed).
        protocol: ``"stratified"`` or ``"temporal"``.
        seed: the seed of the outer split.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    fit: pd.DataFrame
    val: pd.DataFrame
    protocol: str
    seed: int


def ranking_split(
    ratings: pd.DataFrame,
    protocol: str = "stratified",
    seed: int = 0,
    *,
    ratio: float = 0.75,
    val_ratio: float = 0.75,
    min_rating: float | None = None,
) -> RankingSplit:
    """Implicit feedback, split into train/test and, inside train, into fit/val.

    Args:
      ratings: ``[R]`` rating rows (user_id, movie_id, rating, timestamp).
      protocol: ``"stratified"`` (seeded random per user) or ``"temporal"`` (latest per user).
      seed: seeds the outer split; the validation split uses ``seed + VAL_SEED_OFFSET``.
      ratio: training share of each user's interactions (outer split).
      val_ratio: share of each user's training interactions kept in ``fit``.
      min_rating: interactions are the ratings ``>= min_rating`` (``None``: every rating).

    Raises:
      UnknownSplitError: for a protocol not in :data:`PROTOCOLS`.
      InvalidArgumentError: for a ratio outside (0, 1).
    """
    if protocol not in PROTOCOLS:
        raise UnknownSplitError(
            f"Unknown ranking protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}."
        )
    data = implicit_feedback(ratings, min_rating)
    if protocol == "stratified":
        train, test = stratified_split(data, ratio, seed)
        fit, val = stratified_split(train, val_ratio, seed + VAL_SEED_OFFSET)
    else:
        train, test = temporal_split(data, ratio)
        fit, val = temporal_split(train, val_ratio)
    return RankingSplit(train=train, test=test, fit=fit, val=val, protocol=protocol, seed=seed)
