"""LightGCN (He et al., SIGIR 2020) as published, with the interface of every course model.

Learned node embeddings ``E_0`` [N, D]; ``K`` propagation steps ``E_{k+1} = Â E_k`` with
``Â = D^-1/2 A D^-1/2`` on the user–movie graph of :func:`gnnrec_course.graph.build_graph`
(each training interaction is an edge in both directions; *no* self-loops, no weight
matrices, no non-linearity); the final embedding is the layer mean
``Z = mean(E_0, ..., E_K)`` and the score of a pair is ``z_u · z_m``.

The products ``Â x`` are :func:`gnnrec_course.models.edge_ops.gather_scatter` over the edge
list, in fixed-size chunks of edges: memory ``O(E + N·D)``, never an ``[E, D]`` block of
messages (at 10 M ratings, D = 64, that block alone is 5 GiB) and never a dense ``[N, N]``
matrix (measured no faster on a CPU at ml-100k size), so there is only this path.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from ..config import LightGCNConfig
from .edge_ops import CHUNK_ELEMS, gather_scatter
from .layers import rowwise_dot

__all__ = ["LightGCN", "lightgcn_propagate", "normalized_edge_weights"]

Array = jax.Array


def normalized_edge_weights(senders: Array, receivers: Array, num_nodes: int) -> Array:
    """``1 / sqrt(deg(s) deg(r))`` per edge ([E] float32), degrees counted over ``receivers``.

    The graph must list every edge in both directions, so in- and out-degrees agree. A node
    without edges has no weight; the degree of a node with edges is >= 1.
    """
    ones = jnp.ones(receivers.shape, dtype=jnp.float32)
    deg = jax.ops.segment_sum(ones, receivers, num_segments=num_nodes)
    inv_sqrt = jax.lax.rsqrt(jnp.maximum(deg, 1.0))
    return inv_sqrt[senders] * inv_sqrt[receivers]


def lightgcn_propagate(
    graph: jraph.GraphsTuple, e0: Array, num_layers: int, *, chunk_elems: int = CHUNK_ELEMS
) -> Array:
    """``Z = mean(E_0, Â E_0, ..., Â^K E_0)`` with ``Â = D^-1/2 A D^-1/2`` (no self-loops).

    Args:
      graph: the training graph (``senders``/``receivers`` [E], both directions present).
      e0: layer-0 node embeddings [N, D].
      num_layers: K >= 0 (K = 0 returns ``e0``: matrix factorisation).
      chunk_elems: largest ``[chunk, D]`` message block, in elements (static).

    Returns:
      [N, D] final embeddings.
    """
    senders = jnp.asarray(graph.senders, dtype=jnp.int32)
    receivers = jnp.asarray(graph.receivers, dtype=jnp.int32)
    n = e0.shape[0]
    weights = normalized_edge_weights(senders, receivers, n)
    total, e = e0, e0
    for _ in range(num_layers):
        e = gather_scatter(e, senders, receivers, n, weights, chunk_elems=chunk_elems)
        total = total + e
    return total / (num_layers + 1)


_DEFAULTS = LightGCNConfig()  # field defaults come from the config


class LightGCN(nn.Module):
    """LightGCN: ``Z = mean_k Â^k E_0`` with a learned ``E_0`` [N, D]; score ``z_u · z_m``.

    Attributes:
        num_nodes: N = users + movies.
        embed_dim: D.
        num_layers: K, the number of propagation steps (0 gives matrix factorisation).
        init_std: standard deviation of the normal initialisation of ``E_0`` (paper: 0.1).

    Defaults come from :class:`gnnrec_course.config.LightGCNConfig`. Same interface as the
    other models: ``__call__(graph, users, movies, train) == decode(encode(graph, train),
    users, movies, train)``; ``train`` changes nothing here (no dropout, no clipping).
    """

    num_nodes: int
    embed_dim: int = _DEFAULTS.embed_dim
    num_layers: int = _DEFAULTS.num_layers
    init_std: float = _DEFAULTS.init_std

    def setup(self) -> None:
        self.embedding = nn.Embed(
            self.num_nodes, self.embed_dim, embedding_init=nn.initializers.normal(self.init_std)
        )

    def layer0(self) -> Array:
        """``E_0``, [N, D] (the L2 penalty of BPR training is on these rows)."""
        return self.embedding.embedding

    def encode(self, graph: jraph.GraphsTuple, train: bool = False) -> Array:
        """Final node embeddings ``Z`` [N, D] of the graph's training interactions."""
        del train
        return lightgcn_propagate(graph, self.layer0(), self.num_layers)

    def decode(self, z: Array, users: Array, movies: Array, train: bool = False) -> Array:
        """Scores ``z_u · z_m`` [B] for user nodes [B] and movie *nodes* [B]."""
        del train
        return rowwise_dot(z[users], z[movies])

    def __call__(
        self, graph: jraph.GraphsTuple, users: Array, movies: Array, train: bool = False
    ) -> Array:
        return self.decode(self.encode(graph, train), users, movies, train)
