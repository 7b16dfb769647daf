"""Message passing over an edge list in fixed-size chunks: memory ``O(E + N·F)``, never ``N × N``.

Every sum over neighbours in the models is one operation::

    out[d] = sum over edges e with dst[e] == d of  weight[e] * x[src[e]]        [S, F] -> [D, F]

Done at once it materialises the ``[E, F]`` messages ``weight * x[src]`` (ml-10m, 10 M ratings,
F = 300: 12 GB in float32). :func:`gather_scatter` cuts the edge list into chunks of at most
``chunk_elems // F`` edges and adds them up with ``lax.scan``, so only one ``[chunk, F]`` block
lives at a time; a graph that fits one chunk (ml-100k) takes the direct path. The body is
linear in ``x``, so reverse-mode differentiation stores no ``[chunk, F]`` residuals: its
transpose is another chunked gather/scatter (no ``jax.checkpoint`` needed).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from jax import lax

from ..config import RatingModelConfig

__all__ = [
    "CHUNK_ELEMS",
    "gather_scatter",
    "gcn_degree_scales",
    "gcn_propagate_edges",
    "pair_dot",
    "sort_by_receiver",
]

Array = jax.Array

#: Default message block, in elements (2**20 float32 = 4 MiB, 3,495 edges of width 300).
#: Measured on 2 CPU cores at ml-100k size: blocks of 2**18..2**22 elements are 8-10x faster
#: than one gather/scatter over all edges (which XLA's CPU backend runs out of cache), and
#: 2**24 or more loses most of that; see ``benchmarks/RESULTS.md``.
CHUNK_ELEMS = RatingModelConfig().chunk_elems


def _num_chunks(num_edges: int, width: int, chunk_elems: int) -> int:
    per_chunk = max(1, chunk_elems // max(1, width))
    return max(1, -(-num_edges // per_chunk))


def gather_scatter(
    x: Array,
    src: Array,
    dst: Array,
    num_segments: int,
    weight: Array | None = None,
    *,
    chunk_elems: int = CHUNK_ELEMS,
) -> Array:
    """``out[d] = sum_{e: dst[e] = d} weight[e] * x[src[e]]``.

    Args:
      x: ``[S, F]`` source rows.
      src, dst: int32 ``[E]`` source rows and destination segments (``0 <= dst < num_segments``).
      num_segments: ``D``, the number of output rows (static).
      weight: float32 ``[E]`` edge weights, or ``None`` for all ones.
      chunk_elems: largest ``[chunk, F]`` message block in elements (static).

    Returns ``[D, F]`` with ``x``'s dtype.
    """
    x = jnp.asarray(x)
    num_edges, width = src.shape[0], x.shape[-1]
    n_chunks = _num_chunks(num_edges, width, chunk_elems)
    out = jnp.zeros((num_segments, width), x.dtype)
    if n_chunks == 1:
        msg = x[src] if weight is None else weight[:, None] * x[src]
        return out.at[dst].add(msg)
    chunk = -(-num_edges // n_chunks)
    pad = n_chunks * chunk - num_edges
    if weight is None:
        weight = jnp.ones((num_edges,), x.dtype)
    # Padding edges read row 0 with weight 0: they add nothing.
    blocks = tuple(
        jnp.pad(a, (0, pad)).reshape(n_chunks, chunk) for a in (src, dst, weight.astype(x.dtype))
    )

    def add_chunk(acc: Array, block: tuple[Array, Array, Array]) -> tuple[Array, None]:
        s, d, w = block
        return acc.at[d].add(w[:, None] * x[s]), None

    return lax.scan(add_chunk, out, blocks)[0]


def _pair_dot_forward(x: Array, y: Array, i: Array, j: Array, chunk_elems: int) -> Array:
    x, y = jnp.asarray(x), jnp.asarray(y)
    num_pairs, width = i.shape[0], x.shape[-1]
    n_chunks = _num_chunks(num_pairs, width, chunk_elems)
    ones = jnp.ones((width,), x.dtype)
    if n_chunks == 1:
        return (x[i] * y[j]) @ ones
    chunk = -(-num_pairs // n_chunks)
    pad = n_chunks * chunk - num_pairs
    blocks = tuple(jnp.pad(a, (0, pad)).reshape(n_chunks, chunk) for a in (i, j))
    out = lax.map(lambda b: (x[b[0]] * y[b[1]]) @ ones, blocks)
    return out.reshape(-1)[:num_pairs]


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def pair_dot(x: Array, y: Array, i: Array, j: Array, chunk_elems: int = CHUNK_ELEMS) -> Array:
    """``out[e] = x[i[e]] . y[j[e]]`` for ``B`` pairs, in chunks: ``[Sx, F], [Sy, F] -> [B]``.

    ``i``, ``j``: int32 ``[B]``. Both directions are chunked: the gradient is
    ``dx = gather_scatter(y, j, i, g)`` and ``dy = gather_scatter(x, i, j, g)``, so no
    ``[B, F]`` block is stored for the backward pass (plain autodiff of a chunked loop would
    keep every chunk's ``x[i]`` and ``y[j]``).
    """
    return _pair_dot_forward(x, y, i, j, chunk_elems)


def _pair_dot_fwd(x, y, i, j, chunk_elems):
    return _pair_dot_forward(x, y, i, j, chunk_elems), (x, y, i, j)


def _pair_dot_bwd(chunk_elems, residuals, g):
    x, y, i, j = residuals
    g = g.astype(x.dtype)
    dx = gather_scatter(y, j, i, x.shape[0], g, chunk_elems=chunk_elems)
    dy = gather_scatter(x, i, j, y.shape[0], g, chunk_elems=chunk_elems)
    return dx, dy, None, None


pair_dot.defvjp(_pair_dot_fwd, _pair_dot_bwd)


def gcn_degree_scales(senders: Array, receivers: Array, num_nodes: int) -> tuple[Array, Array]:
    """``rsqrt`` of the sender and receiver degrees with one self loop per node, ``[N]`` each.

    The same normalisation as ``jraph.GraphConvolution(add_self_edges=True,
    symmetric_normalization=True)``, computed once instead of once per layer.
    """
    ones = jnp.ones_like(senders, dtype=jnp.float32)
    out_deg = jnp.zeros((num_nodes,), jnp.float32).at[senders].add(ones) + 1.0
    in_deg = jnp.zeros((num_nodes,), jnp.float32).at[receivers].add(ones) + 1.0
    return lax.rsqrt(out_deg), lax.rsqrt(in_deg)


def gcn_propagate_edges(
    x: Array,
    senders: Array,
    receivers: Array,
    scales: tuple[Array, Array],
    *,
    chunk_elems: int = CHUNK_ELEMS,
) -> Array:
    """One parameter-free GCN step ``D^-1/2 (A + I) D^-1/2 x`` over the edge list.

    ``x`` ``[N, F]``; ``senders``/``receivers`` int32 ``[E]`` (no self loops: one is added per
    node here); ``scales`` from :func:`gcn_degree_scales`. Equal to
    ``gnnrec_course.models.gcn_propagate`` (jraph) up to float rounding.
    """
    send_scale, recv_scale = scales
    xs = x * send_scale[:, None]
    agg = gather_scatter(xs, senders, receivers, x.shape[0], chunk_elems=chunk_elems)
    return (agg + xs) * recv_scale[:, None]


def sort_by_receiver(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """The same graph with each half of its edges (stably) sorted by receiver (host side).

    :func:`gnnrec_course.graph.build_graph` lists the E user->movie edges, then the E
    movie->user edges in the same order; this keeps that split (the first half stays
    user->movie) and reorders each half by receiver, so consecutive scatter-adds hit the same
    output rows: on 2 CPU cores a chunked scatter over an ml-1m-sized graph ran about 1.4x
    faster. No model of the package depends on the order of the edges (sums over neighbours);
    predictions change only by float rounding. ``senders``, ``receivers`` and ``edges`` are
    permuted together; everything else is kept.
    """
    receivers = np.asarray(graph.receivers)
    half = np.arange(receivers.shape[0]) >= receivers.shape[0] // 2
    order = np.lexsort((receivers, half))  # by half, then receiver; stable within ties
    edges = None if graph.edges is None else np.asarray(graph.edges)[order]
    return graph._replace(
        senders=np.asarray(graph.senders)[order], receivers=receivers[order], edges=edges
    )
