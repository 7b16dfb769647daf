"""Made-up ratings and movies with planted structure, of any size, held in memory.

User ``u`` is in group ``(u - 1) % G`` and movie ``m`` in group ``(m - 1) % G``; users rate
movies of their own group high, others low, plus a per-user and per-movie bias and Gaussian
noise. Which pairs are rated is sampled sparsely: a skewed number of ratings per user
(log-normal activity) and skewed movie popularity (log-normal), drawn as distinct
(user, movie) pairs without ever building a users x movies matrix, so memory and time grow
with the number of ratings (ml-25m's 25 M ratings take a few GB and well under a minute).
:mod:`gnnrec_course.data.write` writes them in each dataset's real file format.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnnrec_course.data.movielens import MovieLens, make_dataset
from gnnrec_course.data.parse import movies_frame
from gnnrec_course.data.registry import GENRES_100K
from gnnrec_course.errors import SyntheticDataError

__all__ = ["rating_count", "synthetic_dataset", "synthetic_movies", "synthetic_ratings"]

_USER_ACTIVITY_SIGMA = 1.0  # log-normal spread of ratings per user
_MOVIE_POPULARITY_SIGMA = 1.5  # log-normal spread of ratings per movie
# The most active user of the real datasets rated 44-69 % of the catalogue (ml-100k 737 of
# 1,682, ml-10m 7,359 of 10,677); a user who rated every movie leaves BPR no negative.
_MAX_USER_SHARE = 0.7
_POPULAR_ROUNDS = 3  # top-up rounds drawn by popularity before drawing uniformly
_UNIFORM_ROUNDS = 8  # uniform top-up rounds before the exact per-user fallback

_SPECIAL_TITLES = (
    "Amélie (2001)",
    "Misérables, Les (1995)",
    "Good, the Bad and the Ugly, The (1966)",
    "Cinéma Paradiso (1988)",
    '"Great Performances" Cats (1998)',
    "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)",
    "Untitled Work in Progress",
    "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)",
    "Ça commence aujourd'hui (1999)",
    "Señorita Extraviada (2001)",
    "Jalla! Jalla! (2000)",
    "Fête des pères, La (1990)",
)
_PLAIN_GENRES = GENRES_100K[1:]  # every real genre but "unknown"


def rating_count(
    n_users: int, n_movies: int, density: float = 0.3, n_ratings: int | None = None
) -> int:
    """How many ratings a synthetic dataset of these sizes has.

    ``n_ratings`` when given, else ``round(density * n_users * n_movies)`` raised to
    ``max(n_users, n_movies)`` so that every user and every movie can have a rating.

    Raises:
        SyntheticDataError: a size below 1, a density outside (0, 1], or ``n_ratings``
            outside ``max(n_users, n_movies)`` .. ``n_users * n_movies``.
    """
    if n_users < 1 or n_movies < 1:
        raise SyntheticDataError(f"users and movies must be at least 1, got {n_users}, {n_movies}.")
    pairs, least = n_users * n_movies, max(n_users, n_movies)
    if n_ratings is None:
        if not 0.0 < density <= 1.0:
            raise SyntheticDataError(f"density must be in (0, 1], got {density}.")
        return min(pairs, max(least, round(density * pairs)))
    if not least <= n_ratings <= pairs:
        raise SyntheticDataError(
            f"{n_ratings:,} ratings cannot be made for {n_users:,} users and {n_movies:,} "
            f"movies: choose between {least:,} (one per user and per movie) and {pairs:,} "
            "(every pair)."
        )
    return int(n_ratings)


# ---------------------------------------------------------------------------------------------
# which pairs are rated
# ---------------------------------------------------------------------------------------------


def _user_degrees(rng: np.random.Generator, n_users: int, n_movies: int, total: int) -> np.ndarray:
    """``[U]`` ratings per user: at least 1, summing to ``total``, spread by log-normal activity
    weights; at most ``_MAX_USER_SHARE`` of the movies, or the fewest a user must have when
    ``total`` is denser than that (at most ``n_movies``)."""
    weights = rng.lognormal(0.0, _USER_ACTIVITY_SIGMA, n_users)
    cap = max(int(np.ceil(_MAX_USER_SHARE * n_movies)), -(-total // n_users))
    cap = min(cap, n_movies)
    degrees = np.ones(n_users, dtype=np.int64)
    while (extra := total - int(degrees.sum())) > 0:
        room = cap - degrees
        open_weights = np.where(room > 0, weights, 0.0)
        degrees += np.minimum(rng.multinomial(extra, open_weights / open_weights.sum()), room)
    return degrees


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``[n]`` bool: which of ``keys`` are in ``sorted_keys``."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting in place (numpy >= 2.3's hash-based unique is slower here)."""
    keys.sort()
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


def _draw(rng, missing: np.ndarray, n_movies: int, popularity: np.ndarray | None) -> np.ndarray:
    """Sorted distinct keys ``user * n_movies + movie``: ``missing[u]`` draws for user ``u``."""
    users = np.repeat(np.arange(len(missing), dtype=np.int64), missing)
    users *= n_movies
    users += rng.choice(n_movies, size=len(users), p=popularity)
    return _sorted_unique(users)


def _fill_exactly(rng, keys: np.ndarray, missing: np.ndarray, n_movies: int) -> np.ndarray:
    """The last few users still short: draw from the movies each has not rated yet."""
    extra = []
    for user in np.flatnonzero(missing):
        lo, hi = np.searchsorted(keys, [user * n_movies, (user + 1) * n_movies])
        free = np.setdiff1d(np.arange(n_movies), keys[lo:hi] - user * n_movies)
        extra.append(user * n_movies + rng.choice(free, size=missing[user], replace=False))
    return np.sort(np.concatenate([keys, *extra]))


def _distinct_pairs(
    rng: np.random.Generator, degrees: np.ndarray, n_movies: int, popularity: np.ndarray
) -> np.ndarray:
    """``[R]`` sorted distinct keys ``user * n_movies + movie`` (0-based), ``degrees[u]`` of
    them for user ``u``, movies drawn by ``popularity``.

    Draw every slot, drop duplicates, and top up the users who lost some: first by popularity,
    then uniformly (which converges fast even for a user who rates most movies), and finally
    exactly from the complement for any user still short.
    """
    keys = _draw(rng, degrees, n_movies, popularity)
    for round_ in range(_POPULAR_ROUNDS + _UNIFORM_ROUNDS):
        missing = degrees - np.bincount(keys // n_movies, minlength=len(degrees))
        if not missing.any():
            return keys
        new = _draw(rng, missing, n_movies, popularity if round_ < _POPULAR_ROUNDS else None)
        new = new[~_contains(keys, new)]
        keys = np.insert(keys, np.searchsorted(keys, new), new)
    missing = degrees - np.bincount(keys // n_movies, minlength=len(degrees))
    return _fill_exactly(rng, keys, missing, n_movies) if missing.any() else keys


def _cover_movies(rng: np.random.Generator, keys: np.ndarray, n_movies: int) -> np.ndarray:
    """Give every movie without a rating one, moved from a movie that has several (the user of
    the moved rating stays, so every user keeps their count). Needs ``R >= n_movies``."""
    movies = keys % n_movies
    unrated = np.flatnonzero(np.bincount(movies, minlength=n_movies) == 0)
    if len(unrated) == 0:
        return keys
    kept = np.full(n_movies, -1, dtype=np.int64)
    kept[movies] = np.arange(len(keys))  # one pair of each rated movie (whichever write wins)
    spare = np.ones(len(keys), dtype=bool)
    spare[kept[kept >= 0]] = False  # every other pair can be moved
    moved = rng.choice(np.flatnonzero(spare), size=len(unrated), replace=False)
    keys = keys.copy()
    keys[moved] = (keys[moved] // n_movies) * n_movies + rng.permutation(unrated)
    return np.sort(keys)


# ---------------------------------------------------------------------------------------------
# public generators
# ---------------------------------------------------------------------------------------------


def synthetic_ratings(
    n_users: int = 60,
    n_movies: int = 40,
    n_groups: int = 3,
    density: float = 0.3,
    seed: int = 0,
    noise: float = 0.3,
    *,
    n_ratings: int | None = None,
) -> pd.DataFrame:
    """Made-up ratings with planted structure, deterministic for a seed.

    User ``u`` (1..n_users) is in group ``(u - 1) % n_groups``, movie ``m`` (1..n_movies) in
    group ``(m - 1) % n_groups``. The rating of a pair is round(3 + 1.2 [same group] - 0.8
    [other group] + user bias + movie bias + noise * N(0, 1)), clipped to 1..5. There are
    :func:`rating_count` distinct rated pairs (``n_ratings``, or about ``density`` of all
    pairs), with skewed activity per user and popularity per movie; every user and every movie
    has at least one rating.

    Returns:
        ``[R]`` rows: user_id, movie_id (int64, from 1), rating (float32, integers 1..5),
        timestamp (int64), sorted by user then movie.

    Raises:
        SyntheticDataError: (a ValueError) for sizes that cannot be made.
    """
    if n_groups < 1:
        raise SyntheticDataError(f"n_groups must be at least 1, got {n_groups}.")
    total = rating_count(n_users, n_movies, density, n_ratings)
    rng = np.random.default_rng(seed)
    user_bias = rng.normal(0.0, 0.4, n_users).astype(np.float32)
    movie_bias = rng.normal(0.0, 0.4, n_movies).astype(np.float32)
    popularity = rng.lognormal(0.0, _MOVIE_POPULARITY_SIGMA, n_movies)
    degrees = _user_degrees(rng, n_users, n_movies, total)
    keys = _distinct_pairs(rng, degrees, n_movies, popularity / popularity.sum())
    keys = _cover_movies(rng, keys, n_movies)
    users, movies = np.divmod(keys, n_movies)
    del keys
    score = np.where(users % n_groups == movies % n_groups, np.float32(4.2), np.float32(2.2))
    score += user_bias[users] + movie_bias[movies]
    score += np.float32(noise) * rng.standard_normal(total, dtype=np.float32)
    timestamps = 874_724_710 + rng.integers(0, 20_000_000, size=total)
    return pd.DataFrame(
        {
            "user_id": users + 1,
            "movie_id": movies + 1,
            "rating": np.clip(np.rint(score), 1, 5).astype(np.float32),
            "timestamp": timestamps.astype(np.int64),
        }
    )


def synthetic_movies(n_movies: int = 40, n_groups: int = 3, seed: int = 0) -> pd.DataFrame:
    """Made-up movies: ``[n_movies]`` rows of movie_id, title, genres, year.

    The first titles are awkward on purpose (accents, commas, quotes, a colon, two pairs of
    brackets, no year); all are ISO-8859-1 encodable. Movie ``m``'s first genre is set by its
    group ``(m - 1) % n_groups``; about half have a second genre. Genres are in u.genre order.
    """
    rng = np.random.default_rng([seed, 7])
    index = np.arange(n_movies)
    first = (index % n_groups) * 5 % len(_PLAIN_GENRES)
    second = np.where(
        rng.random(n_movies) < 0.5, rng.integers(len(_PLAIN_GENRES), size=n_movies), -1
    )
    order = {g: i for i, g in enumerate(GENRES_100K)}
    titles, genres = [], []
    for i, a, b in zip(index.tolist(), first.tolist(), second.tolist(), strict=True):
        special = i < len(_SPECIAL_TITLES)
        titles.append(
            _SPECIAL_TITLES[i] if special else f"Synthetic Movie {i + 1} ({1950 + i * 7 % 50})"
        )
        chosen = {_PLAIN_GENRES[a]} | ({_PLAIN_GENRES[b]} if b >= 0 else set())
        genres.append("|".join(sorted(chosen, key=order.__getitem__)))
    return movies_frame(list(range(1, n_movies + 1)), titles, genres)


def synthetic_dataset(
    n_users: int = 60,
    n_movies: int = 40,
    n_groups: int = 3,
    density: float = 0.3,
    seed: int = 0,
    noise: float = 0.3,
    *,
    n_ratings: int | None = None,
) -> MovieLens:
    """A :class:`MovieLens` named ``"synthetic"`` held in memory (``path`` None); see
    :func:`synthetic_ratings` for the planted structure."""
    ratings = synthetic_ratings(
        n_users, n_movies, n_groups, density, seed, noise, n_ratings=n_ratings
    )
    movies = synthetic_movies(n_movies, n_groups, seed)
    return make_dataset("synthetic", ratings, movies, None)
