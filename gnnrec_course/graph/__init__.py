"""The user–movie graph and the splits: id maps, rating splits, ranking protocols, the graph.

* :mod:`~gnnrec_course.graph.rating`: :class:`IdMaps` (raw ids <-> node ids), the leak-free
  rating splits (:func:`split_ratings`, :func:`load_split`), :func:`rating_edges` and the
  bipartite ``jraph`` graph of the training ratings (:func:`build_graph`);
* :mod:`~gnnrec_course.graph.protocols`: implicit feedback and the per-user ranking protocols
  (:func:`stratified_split`, :func:`temporal_split`, :func:`ranking_split`).
"""

from .protocols import (
    PROTOCOLS,
    VAL_SEED_OFFSET,
    RankingSplit,
    implicit_feedback,
    ranking_split,
    stratified_split,
    temporal_split,
)
from .rating import (
    FOLD_SPLITS,
    SPLITS,
    IdMaps,
    RatingEdges,
    RatingSplit,
    build_graph,
    build_id_maps,
    load_split,
    one_hot_features,
    rating_edges,
    split_ratings,
)

__all__ = [
    "FOLD_SPLITS",
    "PROTOCOLS",
    "SPLITS",
    "VAL_SEED_OFFSET",
    "IdMaps",
    "RankingSplit",
    "RatingEdges",
    "RatingSplit",
    "build_graph",
    "build_id_maps",
    "implicit_feedback",
    "load_split",
    "one_hot_features",
    "ranking_split",
    "rating_edges",
    "split_ratings",
    "stratified_split",
    "temporal_split",
]
