"""Reference implementations for appendix A1: the course's models in Flax NNX.

:class:`TutorialGCN` and :class:`BranchA` compute exactly what
:class:`gnnrec_course.models.TutorialGCN` and branch A of
:class:`gnnrec_course.models.GCNRecommender` (built without ``num_users``) compute, written as
``flax.nnx`` modules: the module owns its parameters, so it is called directly,
``model(graph, users, movies)``, instead of ``model.apply(params, ...)``. jraph still does the
message passing, and the graph is still an argument, never stored in the module.

Every submodule and parameter has the name it has in the Linen model (``embed``, ``mlp``,
``dense_0``, ``norm``, ``out``, ``bias``, ``mu``), and ``nnx.Linear``, ``nnx.Embed`` and
``nnx.LayerNorm`` name their weights as ``nn.Dense``, ``nn.Embed`` and ``nn.LayerNorm`` do, so
:func:`copy_linen_params` copies a Linen parameter tree into an NNX model by walking the tree.

Only APIs present in flax 0.11.2 (Colab) and in the newest flax are used; variables are read
and written with ``variable[...]`` (flax 0.12 deprecates ``.value``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from gnnrec_course.models import gcn_propagate, rowwise_dot

__all__ = ["MLP", "BranchA", "TutorialGCN", "copy_linen_params", "node_ids"]

Array = jax.Array


def node_ids(graph: jraph.GraphsTuple) -> Array:
    """The node ids of ``graph.nodes`` (``[N, 1]`` as :func:`~gnnrec_course.graph.build_graph`
    makes them, or ``[N]``) as int32 ``[N]``."""
    nodes = jnp.asarray(graph.nodes)
    return (nodes[:, 0] if nodes.ndim == 2 else nodes).astype(jnp.int32)


class MLP(nnx.Module):
    """``Linear -> relu -> Linear -> ... -> Linear``: :class:`gnnrec_course.models.MLP` in NNX.

    Input ``[..., in_features]`` -> output ``[..., features[-1]]``. The layers are the
    attributes ``dense_0``, ``dense_1``, ... (the Linen names), not a list: a plain list of
    modules is rejected by flax 0.12 unless wrapped in ``nnx.List``, which flax 0.11 lacks.
    """

    def __init__(self, in_features: int, features: Sequence[int], *, rngs: nnx.Rngs):
        self.num_layers = len(features)
        sizes = [in_features, *features]
        for i in range(self.num_layers):
            setattr(self, f"dense_{i}", nnx.Linear(sizes[i], sizes[i + 1], rngs=rngs))

    def __call__(self, x: Array) -> Array:
        for i in range(self.num_layers):
            x = getattr(self, f"dense_{i}")(x)
            if i < self.num_layers - 1:
                x = nnx.relu(x)
        return x


class TutorialGCN(nnx.Module):
    """The tutorial's GCN (:class:`gnnrec_course.models.TutorialGCN`) in NNX.

    ``node id -> Embed [N, embed_dim] -> GraphConvolution(MLP update, self edges, symmetric
    norm) -> LayerNorm -> z_u . z_m -> Linear(1, 1) -> sigmoid`` scaled to the rating range.
    """

    def __init__(
        self,
        num_nodes: int,
        rating_min: float = 1.0,
        rating_max: float = 5.0,
        *,
        embed_dim: int = 64,
        hidden: Sequence[int] = (64,),
        rngs: nnx.Rngs,
    ):
        self.rating_min, self.rating_max = float(rating_min), float(rating_max)
        self.embed = nnx.Embed(
            num_nodes, embed_dim, embedding_init=nnx.initializers.lecun_normal(), rngs=rngs
        )
        self.mlp = MLP(embed_dim, tuple(hidden), rngs=rngs)
        self.norm = nnx.LayerNorm(hidden[-1], rngs=rngs)
        self.out = nnx.Linear(1, 1, rngs=rngs)

    def encode(self, graph: jraph.GraphsTuple) -> Array:
        """Node embeddings ``[N, hidden[-1]]`` after the convolution and LayerNorm."""
        conv = jraph.GraphConvolution(
            update_node_fn=self.mlp, add_self_edges=True, symmetric_normalization=True
        )
        x = conv(graph._replace(nodes=self.embed(node_ids(graph)))).nodes
        return self.norm(x)

    def __call__(self, graph: jraph.GraphsTuple, users: Array, movies: Array) -> Array:
        """Predicted ratings ``[B]`` in ``(rating_min, rating_max)`` for node ids ``[B]``."""
        z = self.encode(graph)
        score = jnp.sum(z[users] * z[movies], axis=-1, keepdims=True)  # [B, 1]
        squashed = nnx.sigmoid(self.out(score)[:, 0])
        return self.rating_min + (self.rating_max - self.rating_min) * squashed


class BranchA(nnx.Module):
    """Branch A of :class:`gnnrec_course.models.GCNRecommender` in NNX: LightGCN-style
    propagation with self-loops (``A + I``) and biases.

    ``E_0 = embed(ids)``; ``E_k = D^-1/2 (A + I) D^-1/2 E_{k-1}`` for ``k = 1..K``;
    ``Z = mean(E_0 .. E_K)``; ``r(u, m) = mu + b_u + b_m + Z_u . Z_m``, clipped to the rating
    range unless ``train``.
    """

    def __init__(
        self,
        num_nodes: int,
        rating_min: float = 1.0,
        rating_max: float = 5.0,
        *,
        embed_dim: int = 32,
        num_layers: int = 3,
        rating_mean: float | None = None,
        init_std: float = 0.1,
        rngs: nnx.Rngs,
    ):
        self.rating_min, self.rating_max = float(rating_min), float(rating_max)
        self.num_layers = num_layers
        if rating_mean is None:
            rating_mean = 0.5 * (rating_min + rating_max)
        init = nnx.initializers.normal(init_std)
        self.embed = nnx.Embed(num_nodes, embed_dim, embedding_init=init, rngs=rngs)
        self.bias = nnx.Embed(num_nodes, 1, embedding_init=nnx.initializers.zeros, rngs=rngs)
        self.mu = nnx.Param(jnp.asarray(rating_mean, dtype=jnp.float32))

    def __call__(
        self, graph: jraph.GraphsTuple, users: Array, movies: Array, train: bool = False
    ) -> Array:
        """Predicted ratings ``[B]`` for node ids ``users, movies [B]``."""
        x = self.embed(node_ids(graph))  # E_0 [N, D]
        total = x
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)  # E_k [N, D]
            total = total + x
        z = total / (self.num_layers + 1)  # layer mean [N, D]
        base = self.mu[...] + self.bias(users)[:, 0] + self.bias(movies)[:, 0]
        pred = base + rowwise_dot(z[users], z[movies])
        if train:
            return pred
        return jnp.clip(pred, self.rating_min, self.rating_max)


def copy_linen_params(params: Mapping, model: nnx.Module) -> nnx.Module:
    """Copy a Linen parameter tree into an NNX model whose attributes carry the same names.

    Args:
      params: ``variables["params"]`` of the Linen model (or the variables themselves), e.g.
        ``{"embed": {"embedding": [N, D]}, "mu": []}``.
      model: the NNX model; changed in place.

    Returns:
      ``model``, holding the Linen weights.

    Raises:
      ValueError: a Linen parameter has no NNX variable of that name and shape, or an NNX
        parameter got no value.
    """
    params = params.get("params", params)
    copied: set[tuple[str, ...]] = set()

    def walk(tree: Mapping, owner: object, path: tuple[str, ...]) -> None:
        for name, value in tree.items():
            where = "/".join((*path, name))
            target = getattr(owner, name, None)
            if target is None:
                raise ValueError(f"the NNX model has no attribute for Linen's {where!r}")
            if isinstance(value, Mapping):
                walk(value, target, (*path, name))
                continue
            if not isinstance(target, nnx.Variable) or target[...].shape != np.shape(value):
                raise ValueError(
                    f"Linen's {where!r} has shape {np.shape(value)}; the NNX model's is not a "
                    f"variable of that shape"
                )
            target[...] = jnp.asarray(value)
            copied.add((*path, name))

    walk(params, model, ())
    flat = nnx.to_flat_state(nnx.state(model, nnx.Param))
    wanted = {tuple(str(key) for key in path) for path, _ in flat}
    if wanted - copied:
        missing = ", ".join("/".join(p) for p in sorted(wanted - copied))
        raise ValueError(f"no Linen value for the NNX parameters {missing}")
    return model
