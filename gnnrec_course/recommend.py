"""Top-N recommendation, similar movies and ranking evaluation, for any scoring model.

A :class:`Recommender` needs only a *score function*

    score_fn(users: int32 [B] node ids, movies: int32 [B] node ids) -> float [B]

(higher = better; a predicted rating works), the :class:`~gnnrec_course.graph.IdMaps` that
turn raw MovieLens ids into node ids, the movies table (for titles) and the ratings the users
have already made (those movies are never recommended). An optional *embedding function*
``embedding_fn() -> [N, D]`` (one row per node) enables :meth:`Recommender.similar_movies`.
:meth:`Recommender.from_model` builds both functions from a trained flax model.

Unlike the original tutorial, which only re-ranked the test edges, ``top_n`` scores *every*
movie the user has not rated, so it can recommend something new.

:func:`ranking_metrics` measures precision/recall/NDCG@k of top-k lists over all unseen movies
against each user's held-out movies rated at least ``relevant_threshold``;
:func:`popularity_score_fn` and :func:`popularity_top_n` give the most-popular baseline and
:func:`baseline_score_fn` wraps the rating baselines of :mod:`gnnrec_course.baselines`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import CourseError
from .metrics import ranking_from_hits

if TYPE_CHECKING:
    from .graph import IdMaps

__all__ = [
    "RecommendError",
    "Recommender",
    "ScoreFn",
    "baseline_score_fn",
    "popularity_score_fn",
    "popularity_top_n",
    "ranking_metrics",
]

ScoreFn = Callable[[np.ndarray, np.ndarray], Any]
"""``score_fn(users int32 [B], movies int32 [B]) -> scores [B]`` (node ids in, higher = better)."""

_BATCH = 1 << 18  # (user, movie) pairs scored per call


class RecommendError(CourseError, ValueError):
    """A bad request to the recommender, such as asking for ``n <= 0`` movies."""


def _check_n(n: int, what: str = "recommendations", name: str = "n") -> int:
    try:
        value = int(n)
    except (TypeError, ValueError):
        value = None
    if value is None or value <= 0 or value != n:
        raise RecommendError(f"{name} must be a positive whole number of {what}; got {n!r}.")
    return value


def _concat_ratings(ratings: pd.DataFrame | Sequence[pd.DataFrame] | None) -> pd.DataFrame:
    """One DataFrame with user_id and movie_id from a DataFrame, a list of them, or None."""
    if ratings is None:
        return pd.DataFrame({"user_id": np.zeros(0, np.int64), "movie_id": np.zeros(0, np.int64)})
    if isinstance(ratings, pd.DataFrame):
        ratings = [ratings]
    frames = [df[["user_id", "movie_id"]] for df in ratings]
    return pd.concat(frames, ignore_index=True) if frames else _concat_ratings(None)


def _known_pairs(ratings: pd.DataFrame, maps: IdMaps) -> tuple[np.ndarray, np.ndarray]:
    """User index [K] (0..U-1) and movie index [K] (0..M-1) of the rows with known ids."""
    users = ratings["user_id"].to_numpy(dtype=np.int64)
    movies = ratings["movie_id"].to_numpy(dtype=np.int64)
    ok = np.isin(users, maps.user_ids) & np.isin(movies, maps.movie_ids)
    u = np.searchsorted(maps.user_ids, users[ok])
    m = np.searchsorted(maps.movie_ids, movies[ok])
    return u.astype(np.int64), m.astype(np.int64)


def score_matrix(
    score_fn: ScoreFn, user_nodes: np.ndarray, maps: IdMaps, batch: int = _BATCH
) -> np.ndarray:
    """Scores of every movie for each user: float32 [len(user_nodes), M].

    Calls ``score_fn`` on chunks of at most ``batch`` (user, movie) pairs.
    """
    user_nodes = np.asarray(user_nodes, dtype=np.int32).reshape(-1)
    n_movies = maps.num_movies
    movie_nodes = np.arange(maps.num_users, maps.num_nodes, dtype=np.int32)
    out = np.empty((len(user_nodes), n_movies), dtype=np.float32)
    rows = max(1, batch // max(n_movies, 1))
    for start in range(0, len(user_nodes), rows):
        chunk = user_nodes[start : start + rows]
        users = np.repeat(chunk, n_movies)
        movies = np.tile(movie_nodes, len(chunk))
        scores = np.asarray(score_fn(users, movies), dtype=np.float32).reshape(-1)
        if scores.shape[0] != users.shape[0]:
            raise RecommendError(
                f"score_fn returned {scores.shape[0]} scores for {users.shape[0]} pairs; "
                "it must return one score per (user, movie) pair."
            )
        out[start : start + len(chunk)] = scores.reshape(len(chunk), n_movies)
    return out


def _top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first: int [rows, min(k, cols)].

    Ties are broken by the smaller column index, so the result is deterministic.
    """
    k = min(k, scores.shape[1])
    if k == scores.shape[1]:
        part = np.broadcast_to(np.arange(k), scores.shape).copy()
    else:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


class Recommender:
    """Top-N unseen movies for a user and similar movies, for any scoring model.

    Args:
      score_fn: ``score_fn(users int32 [B], movies int32 [B]) -> [B]`` on node ids; higher
        scores rank first (predicted ratings are fine).
      maps: id maps between raw ids and node ids (``gnnrec_course.graph.IdMaps``).
      movies_df: movies table with ``movie_id`` and ``title`` (titles shown in results);
        movies missing from it are shown as "movie <id>".
      seen_ratings_df: ratings the users already made (a DataFrame with ``user_id`` and
        ``movie_id``, or a list of them, e.g. ``[split.train, split.val, split.test]``);
        a movie a user has rated in any of them is never recommended to that user.
      embedding_fn: optional ``embedding_fn() -> [N, D]`` node embeddings (rows in node order;
        ``[M, D]`` movie-only embeddings are accepted too); needed by ``similar_movies``.

    Example::

        rec = Recommender.from_model(model, params, graph, maps, movies, ratings)
        rec.top_n(1, n=5)            # DataFrame[movie_id, title, score]
        rec.similar_movies(50, n=5)  # DataFrame[movie_id, title, similarity]
    """

    def __init__(
        self,
        score_fn: ScoreFn,
        maps: IdMaps,
        movies_df: pd.DataFrame | None = None,
        seen_ratings_df: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
        *,
        embedding_fn: Callable[[], Any] | None = None,
    ) -> None:
        if not (callable(score_fn) and hasattr(maps, "user_node")):
            raise TypeError(
                "Recommender(score_fn, maps, movies_df, seen_ratings_df) takes a score function "
                "and IdMaps; for a flax model use Recommender.from_model(model, params, graph, "
                "maps, movies_df, seen_ratings_df)."
            )
        self.score_fn = score_fn
        self.maps = maps
        self.embedding_fn = embedding_fn
        self._embeddings: np.ndarray | None = None
        titles = np.array([f"movie {m}" for m in maps.movie_ids], dtype=object)
        if movies_df is not None:
            table = movies_df.drop_duplicates("movie_id").set_index("movie_id")["title"]
            table = table.reindex(maps.movie_ids)
            have = table.notna().to_numpy()
            titles[have] = table[have].astype(str).to_numpy(dtype=object)
        self._titles = titles  # [M] object, in movie node order
        u, m = _known_pairs(_concat_ratings(seen_ratings_df), maps)
        order = np.lexsort((m, u))
        self._seen_movies = m[order]
        self._seen_bounds = np.searchsorted(u[order], np.arange(maps.num_users + 1))

    # -- construction from a flax model ----------------------------------------------------

    @classmethod
    def from_model(
        cls,
        model: Any,
        params: Any,
        graph: Any,
        maps: IdMaps,
        movies_df: pd.DataFrame | None = None,
        seen_ratings_df: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    ) -> Recommender:
        """A recommender for a trained flax model from :mod:`gnnrec_course.models`.

        Every model there predicts through one path, ``model(graph, users, movies) ==
        model.decode(model.encode(graph), users, movies)``, so the node embeddings are
        computed once (``model.apply(params, graph, method=model.encode)``, also the
        embeddings of :meth:`similar_movies`) and only decoded per chunk of pairs (jitted, in
        padded chunks). A model without ``decode`` is scored by its forward pass
        ``model.apply(params, graph, users, movies)``. ``params`` may be the variables dict
        (``{"params": ...}``) or the bare parameters (``state.params``).
        """
        import jax

        variables = (
            params if isinstance(params, Mapping) and "params" in params else {"params": params}
        )

        @jax.jit
        def _encode(v, g):
            return model.apply(v, g, method=model.encode)

        cache: dict[str, np.ndarray] = {}

        def embedding_fn() -> np.ndarray:
            if "z" not in cache:
                cache["z"] = np.asarray(_encode(variables, graph))
            return cache["z"]

        if hasattr(model, "decode"):

            @jax.jit
            def _decode(v, z, users, movies):
                return model.apply(v, z, users, movies, method=model.decode)

            def score(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
                return np.asarray(_decode(variables, embedding_fn(), users, movies))

        else:

            @jax.jit
            def _forward(v, g, users, movies):
                return model.apply(v, g, users, movies)

            def score(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
                return np.asarray(_forward(variables, graph, users, movies))

        return cls(_padded(score), maps, movies_df, seen_ratings_df, embedding_fn=embedding_fn)

    # -- queries ---------------------------------------------------------------------------

    def seen_movie_nodes(self, user_id: int) -> np.ndarray:
        """Node ids (int32 [K]) of the movies raw user ``user_id`` has rated."""
        u = self.maps.user_node(user_id)
        idx = self._seen_movies[self._seen_bounds[u] : self._seen_bounds[u + 1]]
        return (idx + self.maps.num_users).astype(np.int32)

    def scores(self, user_id: int) -> np.ndarray:
        """Scores of every movie for raw user ``user_id``: float32 [M] in movie node order."""
        u = self.maps.user_node(user_id)
        return score_matrix(self.score_fn, np.array([u], dtype=np.int32), self.maps)[0]

    def top_n(self, user_id: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` best-scored movies raw user ``user_id`` has not rated.

        Returns:
          DataFrame[movie_id (raw id), title, score], best first, ``n`` distinct movies (fewer
          only if the user has rated nearly everything).

        Raises:
          UnknownUserError: ``user_id`` is not in the data.
          RecommendError: ``n <= 0``.
        """
        n = _check_n(n)
        u = self.maps.user_node(user_id)
        scores = self.scores(user_id).astype(np.float64)
        seen = self._seen_movies[self._seen_bounds[u] : self._seen_bounds[u + 1]]
        scores[seen] = -np.inf
        n_unseen = self.maps.num_movies - len(seen)
        best = _top_k_indices(scores[None, :], min(n, n_unseen))[0]
        return pd.DataFrame(
            {
                "movie_id": self.maps.movie_ids[best].astype(np.int64),
                "title": self._titles[best],
                "score": scores[best],
            }
        )

    def embeddings(self) -> np.ndarray:
        """Node embeddings from ``embedding_fn``: float32 [N, D] (or [M, D]); cached."""
        if self.embedding_fn is None:
            raise RecommendError(
                "This recommender has no embeddings: pass embedding_fn= or use "
                "Recommender.from_model(...)."
            )
        if self._embeddings is None:
            z = np.asarray(self.embedding_fn(), dtype=np.float32)
            if z.ndim != 2 or z.shape[0] not in (self.maps.num_nodes, self.maps.num_movies):
                raise RecommendError(
                    f"embedding_fn returned shape {z.shape}; expected [N={self.maps.num_nodes}, D]"
                    f" node embeddings (or [M={self.maps.num_movies}, D])."
                )
            self._embeddings = z
        return self._embeddings

    def movie_embeddings(self) -> np.ndarray:
        """Movie embeddings: float32 [M, D], row j is raw movie ``maps.movie_ids[j]``."""
        z = self.embeddings()
        return z[self.maps.num_users :] if z.shape[0] == self.maps.num_nodes else z

    def user_embeddings(self) -> np.ndarray:
        """User embeddings: float32 [U, D], row i is raw user ``maps.user_ids[i]``."""
        z = self.embeddings()
        if z.shape[0] != self.maps.num_nodes:
            raise RecommendError("embedding_fn gave movie embeddings only; no user embeddings.")
        return z[: self.maps.num_users]

    def similar_movies(self, movie_id: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` movies whose embeddings have the highest cosine similarity to ``movie_id``.

        Returns:
          DataFrame[movie_id, title, similarity] (similarity in [-1, 1]), most similar first,
          never containing ``movie_id`` itself.

        Raises:
          UnknownMovieError: ``movie_id`` is not in the data.
          RecommendError: ``n <= 0`` or no embeddings.
        """
        n = _check_n(n, "similar movies")
        j = self.maps.movie_node(movie_id) - self.maps.num_users
        z = self.movie_embeddings().astype(np.float64)
        norms = np.linalg.norm(z, axis=1)
        unit = z / np.where(norms > 0, norms, 1.0)[:, None]
        sim = unit @ unit[j]
        sim[j] = -np.inf
        best = _top_k_indices(sim[None, :], min(n, len(sim) - 1))[0]
        return pd.DataFrame(
            {
                "movie_id": self.maps.movie_ids[best].astype(np.int64),
                "title": self._titles[best],
                "similarity": sim[best],
            }
        )


def _padded(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> ScoreFn:
    """Call ``fn`` with inputs padded to a power of two (>= 1024), so jit compiles rarely."""

    def wrapped(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int32).reshape(-1)
        movies = np.asarray(movies, dtype=np.int32).reshape(-1)
        b = len(users)
        size = max(1024, 1 << max(b - 1, 0).bit_length())
        pad_u = np.full(size, users[0] if b else 0, dtype=np.int32)
        pad_m = np.full(size, movies[0] if b else 0, dtype=np.int32)
        pad_u[:b], pad_m[:b] = users, movies
        return np.asarray(fn(pad_u, pad_m)).reshape(-1)[:b]

    return wrapped


# -- baselines as score functions -----------------------------------------------------------


def popularity_score_fn(train_df: pd.DataFrame, maps: IdMaps) -> ScoreFn:
    """Most-popular baseline: a movie's score is its number of ratings in ``train_df``.

    The same for every user, so with seen movies masked it recommends the most popular
    movies each user has not rated. Ties are broken by the mean training rating.
    """
    _, m = _known_pairs(train_df, maps)
    counts = np.bincount(m, minlength=maps.num_movies).astype(np.float64)
    ratings = train_df["rating"].to_numpy(dtype=np.float64)
    known = np.isin(train_df["user_id"].to_numpy(), maps.user_ids) & np.isin(
        train_df["movie_id"].to_numpy(), maps.movie_ids
    )
    sums = np.bincount(m, weights=ratings[known], minlength=maps.num_movies)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    score = counts + mean / 10.0  # mean rating < 10 only breaks ties between equal counts
    n_users = maps.num_users

    def score_fn(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        del users
        return score[np.asarray(movies, dtype=np.int64) - n_users]

    return score_fn


def popularity_top_n(train_df: pd.DataFrame, user_seen: Collection[int], n: int = 10) -> np.ndarray:
    """Raw ids (int64 [<= n]) of the ``n`` most-rated movies of ``train_df`` not in ``user_seen``.

    ``user_seen`` holds the raw movie ids one user has rated. Ties are broken by the mean
    rating, then by the smaller movie id.
    """
    n = _check_n(n)
    stats = train_df.groupby("movie_id")["rating"].agg(["size", "mean"]).reset_index()
    stats = stats[~stats["movie_id"].isin(list(user_seen))]
    stats = stats.sort_values(
        ["size", "mean", "movie_id"], ascending=[False, False, True], kind="stable"
    )
    return stats["movie_id"].to_numpy(dtype=np.int64)[:n]


def baseline_score_fn(baseline: Any, maps: IdMaps) -> ScoreFn:
    """A score function from a fitted rating baseline (``.predict(df) -> [B]``)."""

    def score_fn(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        df = pd.DataFrame(
            {"user_id": maps.user_ids_of(users), "movie_id": maps.movie_ids_of(movies)}
        )
        return np.asarray(baseline.predict(df))

    return score_fn


# -- ranking evaluation ---------------------------------------------------------------------


def ranking_metrics(
    recommender_or_score_fn: Recommender | ScoreFn,
    train_df: pd.DataFrame | Sequence[pd.DataFrame],
    test_df: pd.DataFrame,
    maps: IdMaps,
    k: int = 10,
    relevant_threshold: float = 4.0,
) -> dict[str, float]:
    """Precision, recall and NDCG at ``k`` of top-k lists over all unseen movies.

    For every user with at least one test rating ``>= relevant_threshold``: score all movies
    (one [users, M] matrix), mask the movies rated in ``train_df`` (pass a list such as
    ``[split.train, split.val]`` to mask several), take the ``k`` best and compare them with
    the user's relevant test movies. Users without a relevant test movie are skipped.

    Returns:
      ``{"precision@10": ..., "recall@10": ..., "ndcg@10": ...}`` (keys use the actual k),
      each the mean over the evaluated users; ``nan`` if no user has a relevant movie.
    """
    k = _check_n(k, "recommendations", name="k")
    score_fn = (
        recommender_or_score_fn.score_fn
        if isinstance(recommender_or_score_fn, Recommender)
        else recommender_or_score_fn
    )
    rel = test_df[test_df["rating"].to_numpy(dtype=np.float64) >= relevant_threshold]
    rel_u, rel_m = _known_pairs(rel, maps)
    users = np.unique(rel_u)
    if len(users) == 0:
        return ranking_from_hits(np.zeros((0, k), bool), np.zeros(0, np.int64))
    row = np.full(maps.num_users, -1, dtype=np.int64)
    row[users] = np.arange(len(users))

    relevant = np.zeros((len(users), maps.num_movies), dtype=bool)
    relevant[row[rel_u], rel_m] = True
    scores = score_matrix(score_fn, users.astype(np.int32), maps)
    seen_u, seen_m = _known_pairs(_concat_ratings(train_df), maps)
    keep = row[seen_u] >= 0
    scores[row[seen_u[keep]], seen_m[keep]] = -np.inf

    top = _top_k_indices(scores, k)  # [users, min(k, M)]
    hits = np.zeros((len(users), k), dtype=bool)
    found = np.take_along_axis(relevant, top, axis=1)
    hits[:, : top.shape[1]] = found & np.isfinite(np.take_along_axis(scores, top, axis=1))
    return ranking_from_hits(hits, relevant.sum(axis=1))
