"""Building blocks shared by the models: an MLP, parameter-free GCN propagation, helpers.

``graph`` is a ``jraph.GraphsTuple`` from :func:`gnnrec_course.graph.build_graph`; ``x`` node
features ``[N, D]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

Array = jax.Array


class MLP(nn.Module):
    """A multi-layer perceptron: ``Dense -> act -> Dense -> act -> ... -> Dense``.

    The activation is applied only *between* layers. The original tutorial also applied it
    after the last layer (and twice per layer), which clips every negative output to zero;
    ``activate_final=True`` reproduces that flaw for teaching.

    Attributes:
      features: output size of each ``Dense`` layer, e.g. ``(64, 64)``.
      activation: the non-linearity between layers.
      activate_final: also apply the activation after the last layer (the tutorial's flaw).

    Input ``[..., F_in]`` -> output ``[..., features[-1]]``.
    """

    features: Sequence[int]
    activation: Callable[[Array], Array] = nn.relu
    activate_final: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for i, width in enumerate(self.features):
            x = nn.Dense(width, name=f"dense_{i}")(x)
            if i < len(self.features) - 1 or self.activate_final:
                x = self.activation(x)
        return x


def gcn_propagate(graph: jraph.GraphsTuple, x: Array) -> Array:
    """One parameter-free GCN propagation ``D^-1/2 (A + I) D^-1/2 x``.

    Uses ``jraph.GraphConvolution`` with an identity node update, self edges and symmetric
    normalisation. ``x`` is ``[N, D]``; the result is ``[N, D]``.
    """
    conv = jraph.GraphConvolution(
        update_node_fn=lambda h: h, add_self_edges=True, symmetric_normalization=True
    )
    return conv(graph._replace(nodes=x)).nodes


def _node_ids(graph: jraph.GraphsTuple) -> Array:
    """The node id column of ``graph.nodes`` (``[N, 1]`` or ``[N]``) as int32 ``[N]``."""
    nodes = jnp.asarray(graph.nodes)
    if nodes.ndim == 2:
        nodes = nodes[:, 0]
    return nodes.astype(jnp.int32)


def _scale_to_range(x: Array, rating_min: float, rating_max: float) -> Array:
    """Map any real ``x`` into ``(rating_min, rating_max)`` with a sigmoid."""
    return rating_min + (rating_max - rating_min) * nn.sigmoid(x)


def rowwise_dot(a: Array, b: Array) -> Array:
    """Row-by-row dot products: ``[B, D], [B, D] -> [B]``.

    Written as ``(a * b) @ ones`` rather than ``(a * b).sum(-1)``: the two are equal, but on
    CPU XLA compiles the gradient of the matrix-vector form several times faster.
    """
    return (a * b) @ jnp.ones((a.shape[-1],), dtype=a.dtype)
