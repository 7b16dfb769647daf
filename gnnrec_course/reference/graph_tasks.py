"""Reference implementations for notebook 01 (graphs, message passing, graph tasks).

These are the functions a learner writes in the notebook's exercises. The self-checks in
:mod:`gnnrec_course.checks.nb01` compare the learner's versions against these, and hand these
back when an exercise is skipped so that the rest of the notebook still runs.

Conventions: a graph is a :class:`jraph.GraphsTuple` whose edge ``e`` goes from node
``senders[e]`` to node ``receivers[e]``. An undirected graph is stored with each edge in both
directions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from numpy.typing import ArrayLike

__all__ = ["auc", "degrees", "mean_aggregate"]


def degrees(graph: jraph.GraphsTuple) -> jax.Array:
    """Exercise 1.1: the number of edges each node receives (its in-degree).

    For an undirected graph stored in both directions this is the usual degree. Nodes with
    no incoming edge get 0.

    Args:
      graph: a graph with ``nodes`` of shape ``[N, ...]`` and ``receivers`` of shape ``[E]``.

    Returns:
      float32 array of shape ``[N]``: ``out[i] = #{e : receivers[e] == i}``.
    """
    num_nodes = graph.nodes.shape[0]
    ones = jnp.ones(graph.receivers.shape[0], dtype=jnp.float32)
    return jax.ops.segment_sum(ones, graph.receivers, num_segments=num_nodes)


def mean_aggregate(
    features: jax.Array, senders: jax.Array, receivers: jax.Array, num_nodes: int
) -> jax.Array:
    """Exercise 1.2: one step of mean message passing.

    Every edge ``e`` carries the message ``features[senders[e]]`` to ``receivers[e]``; every
    node averages the messages it receives. A node that receives nothing gets zeros (not NaN).

    Args:
      features: node features, shape ``[N, F]``.
      senders: int array ``[E]``, where each edge starts.
      receivers: int array ``[E]``, where each edge ends.
      num_nodes: ``N``, the number of nodes (needed for nodes without incoming edges).

    Returns:
      array ``[N, F]``: ``out[i] = mean of features[senders[e]] over e with receivers[e] == i``.
    """
    messages = features[senders]  # [E, F]: gather the sender's features onto each edge
    summed = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes)  # [N, F]
    counts = jax.ops.segment_sum(
        jnp.ones(receivers.shape[0], dtype=summed.dtype), receivers, num_segments=num_nodes
    )  # [N]
    return summed / jnp.maximum(counts, 1.0)[:, None]


def auc(pos_scores: ArrayLike, neg_scores: ArrayLike) -> float:
    """Exercise 1.3: area under the ROC curve, by pairwise comparison.

    The AUC is the probability that a randomly drawn positive scores higher than a randomly
    drawn negative: the fraction of (positive, negative) pairs ranked correctly, where a tie
    counts one half. 1.0 is a perfect ranking, 0.5 is what random scores give.

    Uses ``P * N`` memory, fine for the few thousand scores of this course.

    Args:
      pos_scores: scores of the positive examples (e.g. held-out true edges), shape ``[P]``.
      neg_scores: scores of the negative examples (e.g. non-edges), shape ``[N]``.

    Returns:
      the AUC as a Python float in ``[0, 1]``.
    """
    pos = np.asarray(pos_scores, dtype=np.float64).reshape(-1, 1)  # [P, 1]
    neg = np.asarray(neg_scores, dtype=np.float64).reshape(1, -1)  # [1, N]
    wins = (pos > neg).sum() + 0.5 * (pos == neg).sum()
    return float(wins / (pos.size * neg.size))
