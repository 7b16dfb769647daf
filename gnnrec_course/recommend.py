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

The ranking evaluation of the ranking protocols (:func:`evaluate_ranking`, :class:`UserItems`,
:func:`popularity_scores`, :func:`random_scores`) lives in :mod:`gnnrec_course.ranking_eval`
and is importable from here too; :func:`ranking_metrics` is the same computation (one code
path) for pair score functions and a rating threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import RecommendError
from .ranking_eval import (
    RANKING_METRIC_NAMES,
    MatrixScoreFn,
    UserItems,
    check_count,
    concat_ratings,
    evaluate_ranking,
    known_pairs,
    popularity_scores,
    random_scores,
    top_k_indices,
    top_k_unseen,
)

if TYPE_CHECKING:
    import jraph

    from .checkpoint import Checkpoint
    from .data import MovieLens
    from .graph import IdMaps

__all__ = [
    "RANKING_METRIC_NAMES",
    "MatrixScoreFn",
    "RecommendError",
    "Recommender",
    "ScoreFn",
    "UserItems",
    "baseline_score_fn",
    "checkpoint_graph",
    "evaluate_ranking",
    "pair_scores_fn",
    "popularity_score_fn",
    "popularity_scores",
    "popularity_top_n",
    "random_scores",
    "ranking_metrics",
    "top_k_unseen",
]

ScoreFn = Callable[[np.ndarray, np.ndarray], Any]
"""``score_fn(users int32 [B], movies int32 [B]) -> scores [B]`` (node ids in, higher = better)."""

_BATCH = 1 << 18  # (user, movie) pairs scored per call


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
        u, m = known_pairs(concat_ratings(seen_ratings_df), maps)
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
        *,
        clip: bool | None = None,
    ) -> Recommender:
        """A recommender for a trained flax model from :mod:`gnnrec_course.models`.

        Every model there predicts through one path, ``model(graph, users, movies) ==
        model.decode(model.encode(graph), users, movies)``, so the node embeddings are
        computed once (``model.apply(params, graph, method=model.encode)``, also the
        embeddings of :meth:`similar_movies`) and only decoded per chunk of pairs (jitted, in
        padded chunks). A model without ``decode`` is scored by its forward pass
        ``model.apply(params, graph, users, movies)``. ``params`` may be the variables dict
        (``{"params": ...}``) or the bare parameters (``state.params``).

        ``clip=False`` scores a rating model by its *unclipped* prediction (its ``decode``
        takes ``clip``), which is what ranking needs: clipped to the rating scale, every movie
        predicted above the top ties. ``None`` keeps the model's own inference behaviour
        (predicted ratings, clipped).
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
            clipping = {"clip": clip} if clip is not None and _takes_clip(model.decode) else {}

            @jax.jit
            def _decode(v, z, users, movies):
                return model.apply(v, z, users, movies, method=model.decode, **clipping)

            def score(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
                return np.asarray(_decode(variables, embedding_fn(), users, movies))

        else:

            @jax.jit
            def _forward(v, g, users, movies):
                return model.apply(v, g, users, movies)

            def score(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
                return np.asarray(_forward(variables, graph, users, movies))

        return cls(_padded(score), maps, movies_df, seen_ratings_df, embedding_fn=embedding_fn)

    @classmethod
    def from_checkpoint(
        cls, checkpoint: Checkpoint, dataset: MovieLens, *, clip: bool | None = None
    ) -> Recommender:
        """A recommender for a saved model (:func:`gnnrec_course.checkpoint.load_checkpoint`).

        The training graph is rebuilt from ``dataset`` and the checkpoint's split and seed
        (:func:`checkpoint_graph`); titles come from ``dataset.movies`` and every movie a user
        rated in ``dataset.ratings`` is treated as seen. ``clip`` as in :meth:`from_model`.
        """
        model = checkpoint.build_model()
        graph = checkpoint_graph(checkpoint, dataset)
        return cls.from_model(
            model,
            checkpoint.params,
            graph,
            checkpoint.maps,
            dataset.movies,
            dataset.ratings,
            clip=clip,
        )

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
        n = check_count(n)
        u = self.maps.user_node(user_id)
        scores = self.scores(user_id).astype(np.float64)
        seen = self._seen_movies[self._seen_bounds[u] : self._seen_bounds[u + 1]]
        scores[seen] = -np.inf
        n_unseen = self.maps.num_movies - len(seen)
        best = top_k_indices(scores[None, :], min(n, n_unseen))[0]
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
        n = check_count(n, "similar movies")
        j = self.maps.movie_node(movie_id) - self.maps.num_users
        z = self.movie_embeddings().astype(np.float64)
        norms = np.linalg.norm(z, axis=1)
        unit = z / np.where(norms > 0, norms, 1.0)[:, None]
        sim = unit @ unit[j]
        sim[j] = -np.inf
        best = top_k_indices(sim[None, :], min(n, len(sim) - 1))[0]
        return pd.DataFrame(
            {
                "movie_id": self.maps.movie_ids[best].astype(np.int64),
                "title": self._titles[best],
                "similarity": sim[best],
            }
        )


def checkpoint_graph(checkpoint: Checkpoint, dataset: MovieLens) -> jraph.GraphsTuple:
    """The training graph of a checkpoint, rebuilt from its dataset, split and seed.

    A ranking protocol's name (``"stratified"``, ``"temporal"``) rebuilds
    :func:`~gnnrec_course.graph.ranking_split`'s training part, any other name the rating split
    of :func:`~gnnrec_course.graph.load_split`.

    Raises:
      CheckpointError: when the rebuilt training part does not have the saved number of
        ratings, or the dataset's ids differ from the saved ones (another dataset or version).
    """
    from .checkpoint import CheckpointError
    from .graph import PROTOCOLS, build_graph, build_id_maps, load_split, ranking_split

    if checkpoint.split in PROTOCOLS:
        train = ranking_split(dataset.ratings, checkpoint.split, seed=checkpoint.seed).train
    else:
        train = load_split(dataset, checkpoint.split, seed=checkpoint.seed).train
    maps = build_id_maps(dataset.ratings, name=dataset.name)
    same_ids = np.array_equal(maps.user_ids, checkpoint.maps.user_ids) and np.array_equal(
        maps.movie_ids, checkpoint.maps.movie_ids
    )
    if len(train) != checkpoint.num_train_ratings or not same_ids:
        raise CheckpointError(
            f"The checkpoint in {checkpoint.path} was trained on {checkpoint.num_train_ratings} "
            f"ratings of {checkpoint.dataset} ({checkpoint.split}, seed {checkpoint.seed}), but "
            f"that split of {dataset.name} here has {len(train)}: retrain it (--retrain)."
        )
    return build_graph(train, checkpoint.maps)


def _takes_clip(decode: Callable[..., Any]) -> bool:
    """Whether a model's ``decode`` has a ``clip`` argument (unclipped scores for ranking)."""
    import inspect

    return "clip" in inspect.signature(decode).parameters


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
    _, m = known_pairs(train_df, maps)
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
    n = check_count(n)
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


def pair_scores_fn(score_fn: ScoreFn, maps: IdMaps) -> MatrixScoreFn:
    """A matrix score function ``users [B] -> [B, M]`` from a pair one (:data:`ScoreFn`)."""
    return lambda users: score_matrix(score_fn, users, maps)


def ranking_metrics(
    recommender_or_score_fn: Recommender | ScoreFn,
    train_df: pd.DataFrame | Sequence[pd.DataFrame],
    test_df: pd.DataFrame,
    maps: IdMaps,
    k: int = 10,
    relevant_threshold: float = 4.0,
) -> dict[str, float]:
    """Precision, recall and NDCG at ``k`` of top-k lists over all unseen movies.

    For every user with at least one test rating ``>= relevant_threshold``: score all movies,
    mask the movies rated in ``train_df`` (pass a list such as ``[split.train, split.val]``
    to mask several), take the ``k`` best and compare them with the user's relevant test
    movies. Users without a relevant test movie are skipped. The computation is
    :func:`evaluate_ranking`'s.

    Returns:
      ``{"precision@10": ..., "recall@10": ..., "ndcg@10": ...}`` (keys use the actual k),
      each the mean over the evaluated users; ``nan`` if no user has a relevant movie.
    """
    k = check_count(k, "recommendations", name="k")
    score_fn = (
        recommender_or_score_fn.score_fn
        if isinstance(recommender_or_score_fn, Recommender)
        else recommender_or_score_fn
    )
    rel = test_df[test_df["rating"].to_numpy(dtype=np.float64) >= relevant_threshold]
    train, test = UserItems.from_frame(train_df, maps), UserItems.from_frame(rel, maps)
    # All users at once: a pair score function is called on as few chunks as possible.
    out = evaluate_ranking(
        pair_scores_fn(score_fn, maps), train, test, k=k, batch_size=max(maps.num_users, 1)
    )
    return {f"{name}@{k}": out[name] for name in ("precision", "recall", "ndcg")}
