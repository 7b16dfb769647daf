"""Reference implementations for notebook 03 (building the GCN).

These are the functions a learner writes in the notebook's exercises. The self-checks in
:mod:`gnnrec_course.checks.nb03` compare the learner's versions against these, and hand these
back when an exercise is skipped so that the rest of the notebook still runs.

Conventions: edge ``e`` carries a message from node ``senders[e]`` to node ``receivers[e]``;
an undirected graph (such as the user–movie graph of :func:`gnnrec_course.graph.build_graph`)
stores every edge in both directions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["add_self_loops", "dot_product_decoder", "gcn_layer", "symmetric_norm_weights"]


def add_self_loops(
    senders: jax.Array, receivers: jax.Array, num_nodes: int
) -> tuple[jax.Array, jax.Array]:
    """Append one self-loop ``i -> i`` per node: the ``+ I`` of ``A + I``.

    Args:
      senders, receivers: int arrays ``[E]``.
      num_nodes: ``N``.

    Returns:
      ``(senders, receivers)``, each int ``[E + N]``: the ``E`` edges, then ``0->0 .. N-1->N-1``.
    """
    loops = jnp.arange(num_nodes, dtype=jnp.asarray(senders).dtype)
    return jnp.concatenate([senders, loops]), jnp.concatenate([receivers, loops])


def symmetric_norm_weights(senders: jax.Array, receivers: jax.Array, num_nodes: int) -> jax.Array:
    """Exercise 3.1: the weight ``1 / sqrt(deg[s] * deg[r])`` of every edge ``s -> r``.

    These are the non-zero entries of ``D^-1/2 (A + I) D^-1/2``. The edge lists already hold
    the self-loops and every edge in both directions, so a node's degree is the number of
    edges it receives (its own loop included).

    Args:
      senders, receivers: int arrays ``[E]`` (self-loops included).
      num_nodes: ``N``.

    Returns:
      float32 array ``[E]``: ``1 / sqrt(deg[senders[e]] * deg[receivers[e]])``.
    """
    ones = jnp.ones(jnp.shape(receivers)[0], dtype=jnp.float32)
    deg = jax.ops.segment_sum(ones, receivers, num_segments=num_nodes)  # [N]
    return jax.lax.rsqrt(deg[senders] * deg[receivers])


def gcn_layer(
    x: jax.Array, senders: jax.Array, receivers: jax.Array, num_nodes: int, w: jax.Array
) -> jax.Array:
    """Exercise 3.2: one GCN layer ``D^-1/2 (A + I) D^-1/2 x w`` with ``segment_sum``.

    Args:
      x: node features ``[N, F]``.
      senders, receivers: int arrays ``[E]``, every edge in both directions, *no* self-loops
        (as :func:`gnnrec_course.graph.build_graph` makes them); the layer adds them.
      num_nodes: ``N``.
      w: weight matrix ``[F, D]``.

    Returns:
      array ``[N, D]``: ``out[i] = sum over edges s -> i (self-loop included) of
      (x w)[s] / sqrt(deg[s] deg[i])``.
    """
    s, r = add_self_loops(senders, receivers, num_nodes)
    norm = symmetric_norm_weights(s, r, num_nodes)  # [E + N]
    h = x @ w  # [N, D]
    messages = h[s] * norm[:, None]  # [E + N, D]
    return jax.ops.segment_sum(messages, r, num_segments=num_nodes)


def dot_product_decoder(
    h: jax.Array,
    users: jax.Array,
    movies: jax.Array,
    rating_min: float,
    rating_max: float,
) -> jax.Array:
    """Exercise 3.3: predicted ratings from node embeddings.

    ``rating_min + (rating_max - rating_min) * sigmoid(h[user] . h[movie])`` for each pair.

    Args:
      h: node embeddings ``[N, D]``.
      users, movies: node ids ``[B]`` of the pairs to score.
      rating_min, rating_max: the rating scale of the data.

    Returns:
      float array ``[B]`` with values in ``(rating_min, rating_max)``.
    """
    scores = jnp.sum(h[users] * h[movies], axis=-1)  # [B]
    return rating_min + (rating_max - rating_min) * jax.nn.sigmoid(scores)
