"""Graph neural network recommenders in flax (Linen) on top of ``jraph.GraphConvolution``.

Three models share one interface::

    predictions = model.apply(params, graph, users, movies, train=False)   # [E] float32
    embeddings = model.apply(params, graph, method=model.encode)          # [N, D]
    same = model.apply(params, embeddings, users, movies, method=model.decode)

and one prediction path: ``__call__`` is ``decode(encode(graph), users, movies)``. Their
tuned settings live in :mod:`gnnrec_course.config` (``default_model`` and ``tutorial_model``
read them there).

* :class:`TutorialGCN` is the first model of the tutorial this course grew from: learned node
  embeddings (one-hot node features times a weight matrix), one graph convolution with an MLP
  node update, layer normalisation, and a dot-product decoder squashed into the rating range.
* :class:`GCNRecommender` is the improved model and the package default: LightGCN-style
  propagation of learned embeddings with biases and a dot-product decoder, blended with a
  rating-weighted graph convolution (GC-MC / AutoRec style) that reads the rating values.

* :class:`LightGCN` is the ranking model (He et al., 2020, as published): learned embeddings,
  ``D^-1/2 A D^-1/2`` propagation without self-loops, a mean over layers, dot-product scores;
  trained with BPR by :func:`gnnrec_course.training.fit_ranking`.

The graph is always an argument (never stored in the module), so one jitted function serves the
training graph and any other graph with the same shapes. ``graph`` is a ``jraph.GraphsTuple``
built by :func:`gnnrec_course.graph.build_graph`: ``nodes`` int32 ``[N, 1]`` node ids,
``senders``/``receivers`` int32 ``[2E]`` holding every training rating in both directions.
``users`` and ``movies`` are int32 node ids ``[B]`` of the (user, movie) pairs to score.
"""

from .layers import MLP, gcn_propagate, rowwise_dot
from .lightgcn import LightGCN, lightgcn_propagate
from .rating import GCNRecommender, default_model
from .tutorial import TutorialGCN, tutorial_model

__all__ = [
    "MLP",
    "TutorialGCN",
    "LightGCN",
    "lightgcn_propagate",
    "GCNRecommender",
    "default_model",
    "tutorial_model",
    "gcn_propagate",
    "rowwise_dot",
]
