"""Reference implementations for notebook 02 (recommendation as link prediction).

These are the functions a learner writes in the notebook's exercises. The self-checks in
:mod:`gnnrec_course.checks.nb02` compare the learner's versions against these, and hand these
back when an exercise is skipped so that the rest of the notebook still runs.

Conventions: a ratings table is a DataFrame with columns ``user_id``, ``movie_id``, ``rating``
(raw MovieLens ids). In the graph, users are nodes ``0..U-1`` and movies ``U..U+M-1``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["bias_baseline_predict", "bipartite_edges", "node_ids"]


def node_ids(
    user_ids: ArrayLike, movie_ids: ArrayLike, all_users: ArrayLike, all_movies: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Exercise 2.1: from raw ids to node ids.

    Users are nodes ``0..U-1`` in the order of their raw ids, movies ``U..U+M-1`` in the
    order of theirs (as :func:`gnnrec_course.graph.build_id_maps`). Raw ids may have gaps.

    Args:
      user_ids: raw user ids of E ratings, int ``[E]``.
      movie_ids: raw movie ids of the same ratings, int ``[E]``.
      all_users: every raw user id of the dataset, sorted and unique, int ``[U]``.
      all_movies: every raw movie id of the dataset, sorted and unique, int ``[M]``.

    Returns:
      ``(user_nodes, movie_nodes)``, int32 ``[E]`` each.
    """
    all_users = np.asarray(all_users)
    users = np.searchsorted(all_users, np.asarray(user_ids))
    movies = len(all_users) + np.searchsorted(np.asarray(all_movies), np.asarray(movie_ids))
    return users.astype(np.int32), movies.astype(np.int32)


def bipartite_edges(users: ArrayLike, movies: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Exercise 2.2: the bipartite edges, in both directions.

    Return the senders and receivers of the user-movie graph.

    Args:
      users: user node ids of the E ratings, int ``[E]``.
      movies: movie node ids of the same ratings, int ``[E]``.

    Returns:
      ``(senders, receivers)``, each int32 ``[2E]``: first the E user→movie edges, then the
      E movie→user edges in the same order (as :func:`gnnrec_course.graph.build_graph`).
    """
    users = np.asarray(users, dtype=np.int32)
    movies = np.asarray(movies, dtype=np.int32)
    senders = np.concatenate([users, movies])
    receivers = np.concatenate([movies, users])
    return senders, receivers


def bias_baseline_predict(train: pd.DataFrame, test: pd.DataFrame, reg: float = 10.0) -> np.ndarray:
    """Exercise 2.3: the bias baseline.

    Predict ratings as global mean + movie bias + user bias (Koren 2010, section 2.1; one
    round of :class:`gnnrec_course.baselines.BiasBaseline` without its clipping).

    With ``mu`` the mean training rating, computed on ``train`` only:

    - movie bias ``b_m = sum over m's ratings of (r - mu) / (reg + n_m)``;
    - user bias ``b_u = sum over u's ratings of (r - mu - b_m) / (reg + n_u)``;
    - prediction ``mu + b_u + b_m``; a user or movie absent from ``train`` has bias 0.

    ``reg`` shrinks the biases of users and movies with few ratings towards 0.

    Args:
      train: training ratings (``user_id``, ``movie_id``, ``rating``).
      test: the pairs to predict (``user_id``, ``movie_id``), ``[T]`` rows.
      reg: shrinkage, >= 0.

    Returns:
      float32 ``[T]`` predictions, in the order of ``test``'s rows.
    """
    mu = float(train["rating"].mean())
    dev = train["rating"].astype(np.float64) - mu
    by_movie = dev.groupby(train["movie_id"])
    movie_bias = by_movie.sum() / (by_movie.count() + reg)
    resid = dev - train["movie_id"].map(movie_bias)
    by_user = resid.groupby(train["user_id"])
    user_bias = by_user.sum() / (by_user.count() + reg)
    b_u = test["user_id"].map(user_bias).fillna(0.0).to_numpy(dtype=np.float64)
    b_m = test["movie_id"].map(movie_bias).fillna(0.0).to_numpy(dtype=np.float64)
    return (mu + b_u + b_m).astype(np.float32)
