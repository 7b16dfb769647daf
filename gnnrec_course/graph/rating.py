"""The user–movie rating graph: id maps, leak-free rating splits and a bipartite ``jraph`` graph.

Node ids: users are ``0..U-1`` (in order of raw user id) and movies are ``U..U+M-1`` (in order
of raw movie id). :class:`IdMaps` converts between raw MovieLens ids and node ids both ways.

Ratings are split *first* (:func:`split_ratings`, :func:`load_split`); the message-passing
graph is then built from the training ratings only (:func:`build_graph`), with every rating
as two directed edges (user→movie and movie→user), so no validation or test rating is visible
to the encoder. The graph holds numpy arrays; models convert them to ``jax.numpy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jraph
import numpy as np
import pandas as pd

from gnnrec_course.data.registry import FOLD_DATASET, FOLDS
from gnnrec_course.errors import UnknownMovieError, UnknownSplitError, UnknownUserError

if TYPE_CHECKING:
    from gnnrec_course.data import MovieLens

__all__ = [
    "SPLITS",
    "FOLD_SPLITS",
    "IdMaps",
    "RatingEdges",
    "RatingSplit",
    "build_graph",
    "build_id_maps",
    "load_split",
    "one_hot_features",
    "rating_edges",
    "split_ratings",
]

FOLD_SPLITS: tuple[str, ...] = FOLDS
SPLITS: tuple[str, ...] = ("random", *FOLD_SPLITS)


# ---------------------------------------------------------------------------------------------
# Id mappings
# ---------------------------------------------------------------------------------------------


def _describe_ids(ids: np.ndarray, kind: str) -> str:
    """'user ids run from 1 to 943' (plus 'with gaps' when the ids are not contiguous)."""
    if len(ids) == 0:
        return f"there are no {kind} ids"
    lo, hi = int(ids[0]), int(ids[-1])
    gaps = "" if hi - lo + 1 == len(ids) else f" with gaps ({len(ids)} {kind}s)"
    return f"{kind} ids run from {lo} to {hi}{gaps}"


def _encode(sorted_ids: np.ndarray, raw_ids: object) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``raw_ids`` in ``sorted_ids`` and a mask of the ids that were found.

    Returns ``(positions int64 [K], found bool [K])`` for ``raw_ids`` flattened to ``[K]``.
    """
    raw = np.asarray(raw_ids).reshape(-1)
    if len(sorted_ids) == 0:
        return np.zeros(raw.shape, dtype=np.int64), np.zeros(raw.shape, dtype=bool)
    pos = np.searchsorted(sorted_ids, raw)
    pos = np.minimum(pos, len(sorted_ids) - 1)
    found = sorted_ids[pos] == raw
    return pos, found


@dataclass
class IdMaps:
    """Raw MovieLens ids <-> graph node ids.

    Attributes:
        user_ids: sorted unique raw user ids, ``[U]`` int64; user ``user_ids[i]`` is node ``i``.
        movie_ids: sorted unique raw movie ids, ``[M]`` int64; movie ``movie_ids[j]`` is node
            ``U + j``.
        name: dataset name used in error messages (e.g. ``"ml-100k"``).
    """

    user_ids: np.ndarray
    movie_ids: np.ndarray
    name: str = "the ratings"

    def __post_init__(self) -> None:
        self.user_ids = np.asarray(self.user_ids, dtype=np.int64)
        self.movie_ids = np.asarray(self.movie_ids, dtype=np.int64)
        for ids, kind in ((self.user_ids, "user_ids"), (self.movie_ids, "movie_ids")):
            if ids.ndim != 1 or np.any(np.diff(ids) <= 0):
                raise ValueError(f"IdMaps.{kind} must be a 1-D array of sorted unique ids.")

    @property
    def num_users(self) -> int:
        """U, the number of user nodes."""
        return len(self.user_ids)

    @property
    def num_movies(self) -> int:
        """M, the number of movie nodes."""
        return len(self.movie_ids)

    @property
    def num_nodes(self) -> int:
        """N = U + M."""
        return self.num_users + self.num_movies

    # raw -> node ---------------------------------------------------------------------------

    def user_nodes(self, raw_ids: object) -> np.ndarray:
        """Node ids (int32 ``[K]``, in ``0..U-1``) of raw user ids ``[K]``.

        Raises:
            UnknownUserError: naming the first raw id that is not in the data.
        """
        pos, found = _encode(self.user_ids, raw_ids)
        if not found.all():
            self._unknown_user(np.asarray(raw_ids).reshape(-1)[~found][0])
        return pos.astype(np.int32)

    def movie_nodes(self, raw_ids: object) -> np.ndarray:
        """Node ids (int32 ``[K]``, in ``U..U+M-1``) of raw movie ids ``[K]``.

        Raises:
            UnknownMovieError: naming the first raw id that is not in the data.
        """
        pos, found = _encode(self.movie_ids, raw_ids)
        if not found.all():
            self._unknown_movie(np.asarray(raw_ids).reshape(-1)[~found][0])
        return (pos + self.num_users).astype(np.int32)

    def user_node(self, raw_id: int) -> int:
        """Node id of one raw user id; raises :class:`UnknownUserError` if it is unknown."""
        return int(self.user_nodes([raw_id])[0])

    def movie_node(self, raw_id: int) -> int:
        """Node id of one raw movie id; raises :class:`UnknownMovieError` if it is unknown."""
        return int(self.movie_nodes([raw_id])[0])

    def has_user(self, raw_id: int) -> bool:
        """Whether a raw user id is in the data."""
        return bool(_encode(self.user_ids, [raw_id])[1][0])

    def has_movie(self, raw_id: int) -> bool:
        """Whether a raw movie id is in the data."""
        return bool(_encode(self.movie_ids, [raw_id])[1][0])

    # node -> raw ---------------------------------------------------------------------------

    def user_ids_of(self, nodes: object) -> np.ndarray:
        """Raw user ids (int64 ``[K]``) of user node ids ``[K]`` (each in ``0..U-1``)."""
        idx = np.asarray(nodes, dtype=np.int64).reshape(-1)
        if np.any((idx < 0) | (idx >= self.num_users)):
            bad = int(idx[(idx < 0) | (idx >= self.num_users)][0])
            raise ValueError(
                f"Node {bad} is not a user node: user nodes are 0..{self.num_users - 1}."
            )
        return self.user_ids[idx]

    def movie_ids_of(self, nodes: object) -> np.ndarray:
        """Raw movie ids (int64 ``[K]``) of movie node ids ``[K]`` (each in ``U..U+M-1``)."""
        idx = np.asarray(nodes, dtype=np.int64).reshape(-1) - self.num_users
        bad_mask = (idx < 0) | (idx >= self.num_movies)
        if np.any(bad_mask):
            bad = int(idx[bad_mask][0]) + self.num_users
            raise ValueError(
                f"Node {bad} is not a movie node: movie nodes are "
                f"{self.num_users}..{self.num_nodes - 1}."
            )
        return self.movie_ids[idx]

    def user_of(self, node: int) -> int:
        """Raw user id of one user node id."""
        return int(self.user_ids_of([node])[0])

    def movie_of(self, node: int) -> int:
        """Raw movie id of one movie node id."""
        return int(self.movie_ids_of([node])[0])

    # errors --------------------------------------------------------------------------------

    def _unknown_user(self, raw_id: object) -> None:
        raise UnknownUserError(
            f"User {_fmt_id(raw_id)} is not in {self.name}: "
            f"{_describe_ids(self.user_ids, 'user')}; pick one of those."
        )

    def _unknown_movie(self, raw_id: object) -> None:
        raise UnknownMovieError(
            f"Movie {_fmt_id(raw_id)} is not in {self.name}: "
            f"{_describe_ids(self.movie_ids, 'movie')}; look one up in the movies table."
        )


def _fmt_id(raw_id: object) -> str:
    """An id as the learner typed it: ``7`` rather than ``np.int64(7)`` or ``7.0``."""
    value = np.asarray(raw_id).item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def build_id_maps(ratings: pd.DataFrame, *, name: str = "the ratings") -> IdMaps:
    """Id maps over every user and movie in ``ratings`` (columns ``user_id``, ``movie_id``).

    Build them from *all* ratings of the dataset: knowing that a node exists is not leakage,
    and it keeps node ids identical across splits. ``name`` (e.g. ``"ml-100k"``) appears in
    the message of an unknown-id error.
    """
    return IdMaps(
        user_ids=np.unique(ratings["user_id"].to_numpy(dtype=np.int64)),
        movie_ids=np.unique(ratings["movie_id"].to_numpy(dtype=np.int64)),
        name=name,
    )


# ---------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------


@dataclass
class RatingSplit:
    """Train / validation / test ratings (DataFrames with the columns of the ratings table)."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    name: str = "random"
    seed: int = 0

    def __repr__(self) -> str:
        return (
            f"RatingSplit(name={self.name!r}, seed={self.seed}, train={len(self.train)}, "
            f"val={len(self.val)}, test={len(self.test)})"
        )


def split_ratings(
    ratings: pd.DataFrame,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> RatingSplit:
    """Seeded random split of the ratings (by default 80 % train, 10 % val, 10 % test).

    Every rating lands in exactly one part; the same seed gives the same split. Each part keeps
    the original row order and gets a fresh ``RangeIndex``. Sizes: ``round(n * test_fraction)``
    test rows, ``round(n * val_fraction)`` validation rows, the rest train.
    """
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0):
        raise ValueError("val_fraction and test_fraction must each be in [0, 1).")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction + test_fraction must be below 1 to leave training ratings.")
    n = len(ratings)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    perm = np.random.default_rng(seed).permutation(n)
    parts = (perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test])
    train, val, test = (ratings.iloc[np.sort(idx)].reset_index(drop=True) for idx in parts)
    return RatingSplit(train=train, val=val, test=test, name="random", seed=int(seed))


def load_split(
    dataset: MovieLens,
    split: str = "random",
    seed: int = 0,
    root: str | Path | None = None,
) -> RatingSplit:
    """The named split of a dataset.

    ``"random"``: :func:`split_ratings` of ``dataset.ratings`` (80/10/10).
    ``"u1"``..``"u5"`` (ml-100k only): the official folds; test is ``uN.test``, validation a
    seeded 10 % of ``uN.base`` and train the rest of ``uN.base``. The fold files are read from
    ``root`` (default: the folder the dataset was loaded from).

    Raises:
        UnknownSplitError: for any other name, or a fold split on another dataset.
    """
    name = getattr(dataset, "name", "this dataset")
    valid = SPLITS if name == FOLD_DATASET else ("random",)
    if split not in valid:
        if split in FOLD_SPLITS:
            msg = f"Split {split!r} is an official ml-100k fold and {name} has none: use 'random'."
        else:
            msg = f"Unknown split {split!r} for {name}: choose one of {', '.join(valid)}."
        raise UnknownSplitError(msg)
    if split == "random":
        return split_ratings(dataset.ratings, seed=seed)

    from gnnrec_course.data import load_fold  # lazy: keeps graph importable on its own

    if root is None:
        path = getattr(dataset, "path", None)
        root = Path(path).parent if path is not None else None
    base, test = load_fold(split, root)
    part = split_ratings(base, seed=seed, val_fraction=0.1, test_fraction=0.0)
    return RatingSplit(
        train=part.train,
        val=part.val,
        test=test.reset_index(drop=True),
        name=split,
        seed=int(seed),
    )


# ---------------------------------------------------------------------------------------------
# Edges and graph
# ---------------------------------------------------------------------------------------------


@dataclass
class RatingEdges:
    """Ratings as node-id arrays, ready for a model.

    Attributes:
        users: user node ids, int32 ``[E]`` (``0..U-1``).
        movies: movie node ids, int32 ``[E]`` (``U..U+M-1``).
        ratings: the ratings, float32 ``[E]``.
    """

    users: np.ndarray
    movies: np.ndarray
    ratings: np.ndarray

    def __len__(self) -> int:
        return len(self.ratings)


def rating_edges(ratings_df: pd.DataFrame, maps: IdMaps) -> RatingEdges:
    """Convert a ratings DataFrame (``user_id``, ``movie_id``, ``rating``) to :class:`RatingEdges`.

    Raises :class:`UnknownUserError` / :class:`UnknownMovieError` for ids not in ``maps``.
    """
    return RatingEdges(
        users=maps.user_nodes(ratings_df["user_id"].to_numpy()),
        movies=maps.movie_nodes(ratings_df["movie_id"].to_numpy()),
        ratings=ratings_df["rating"].to_numpy(dtype=np.float32),
    )


def build_graph(train_ratings: pd.DataFrame, maps: IdMaps) -> jraph.GraphsTuple:
    """The bipartite message-passing graph of the *training* ratings.

    Each of the E ratings becomes two directed edges: first all E user→movie edges, then the
    E movie→user edges in the same order. A GCN needs both directions: with one, users never
    receive messages and the symmetric normalisation is wrong. There are no self-loops (let
    ``jraph.GraphConvolution(add_self_edges=True)`` add them).

    Returns a ``jraph.GraphsTuple`` of numpy arrays:
        nodes: int32 ``[N, 1]``, the node ids ``0..N-1`` (models embed them);
        senders, receivers: int32 ``[2E]``;
        edges: float32 ``[2E, 1]``, the rating on each directed edge;
        n_node: int32 ``[1]`` = ``[N]``; n_edge: int32 ``[1]`` = ``[2E]``; globals: None.
    """
    e = rating_edges(train_ratings, maps)
    n = maps.num_nodes
    senders = np.concatenate([e.users, e.movies]).astype(np.int32)
    receivers = np.concatenate([e.movies, e.users]).astype(np.int32)
    edges = np.concatenate([e.ratings, e.ratings]).astype(np.float32)[:, None]
    return jraph.GraphsTuple(
        nodes=np.arange(n, dtype=np.int32)[:, None],
        edges=edges,
        senders=senders,
        receivers=receivers,
        n_node=np.array([n], dtype=np.int32),
        n_edge=np.array([len(senders)], dtype=np.int32),
        globals=None,
    )


def one_hot_features(graph: jraph.GraphsTuple) -> np.ndarray:
    """One-hot node features, float32 ``[N, N]`` (row i is node i).

    ``one_hot_features(graph) @ W`` equals the embedding lookup ``W[node_ids]``; it is the
    tutorial's input and only practical for small graphs (ml-100k: 2625 × 2625).
    """
    n = int(np.asarray(graph.n_node).sum())
    return np.eye(n, dtype=np.float32)
