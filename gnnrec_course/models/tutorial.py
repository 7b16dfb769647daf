"""The tutorial's first GCN recommender (:class:`TutorialGCN`), corrected."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from ..config import TutorialModelConfig, as_dict, with_overrides
from .layers import MLP, _node_ids, _scale_to_range

Array = jax.Array

# Field defaults come from the config, the one source of the tuned numbers.
_TUTORIAL = TutorialModelConfig()


class TutorialGCN(nn.Module):
    """The tutorial's first GCN recommender (with its bugs fixed).

    ``one-hot node id -> embedding [N, embed_dim] -> GraphConvolution(MLP update, self edges,
    symmetric normalisation) -> LayerNorm -> z_u . z_m -> Dense(1) -> sigmoid`` scaled to
    ``[rating_min, rating_max]`` (read from the data, not hard-coded to 1..5).

    Multiplying a one-hot matrix ``[N, N]`` by a weight matrix ``[N, D]`` picks one row per
    node, so ``nn.Embed`` on the node ids computes exactly the same thing without building the
    ``N x N`` matrix.

    Attributes:
      num_nodes: number of user + movie nodes ``N``.
      rating_min, rating_max: the rating scale of the data.
      embed_dim: size of the node embedding (the first, one-hot layer).
      hidden: layer sizes of the MLP node update; the output size is ``hidden[-1]``.
      mlp_activate_final: reproduce the tutorial's ReLU after the last MLP layer.
    """

    num_nodes: int
    rating_min: float = 1.0
    rating_max: float = 5.0
    embed_dim: int = _TUTORIAL.embed_dim
    hidden: Sequence[int] = _TUTORIAL.hidden
    mlp_activate_final: bool = _TUTORIAL.mlp_activate_final

    def setup(self) -> None:
        self.embed = nn.Embed(
            self.num_nodes, self.embed_dim, embedding_init=nn.initializers.lecun_normal()
        )
        self.mlp = MLP(tuple(self.hidden), activate_final=self.mlp_activate_final)
        self.norm = nn.LayerNorm()
        self.out = nn.Dense(1)

    def encode(self, graph: jraph.GraphsTuple, train: bool = False) -> Array:
        """Node embeddings ``[N, hidden[-1]]`` after the convolution and LayerNorm."""
        del train  # no dropout in the tutorial model
        x = self.embed(_node_ids(graph))
        conv = jraph.GraphConvolution(
            update_node_fn=self.mlp, add_self_edges=True, symmetric_normalization=True
        )
        x = conv(graph._replace(nodes=x)).nodes
        return self.norm(x)

    def decode(self, z: Array, users: Array, movies: Array, train: bool = False) -> Array:
        """Ratings ``[B]`` from embeddings ``z`` ``[N, D]`` and node ids ``users, movies [B]``."""
        del train  # nothing to regularise
        score = jnp.sum(z[users] * z[movies], axis=-1, keepdims=True)  # [B, 1]
        return _scale_to_range(self.out(score)[:, 0], self.rating_min, self.rating_max)

    def __call__(
        self, graph: jraph.GraphsTuple, users: Array, movies: Array, train: bool = False
    ) -> Array:
        """Predicted ratings ``[B]`` in ``[rating_min, rating_max]``."""
        return self.decode(self.encode(graph, train=train), users, movies, train=train)


def tutorial_model(
    num_nodes: int, rating_min: float = 1.0, rating_max: float = 5.0, **overrides
) -> TutorialGCN:
    """The tutorial's first model (:class:`TutorialGCN`), corrected, for the data's scale.

    ``**overrides`` are fields of :class:`~gnnrec_course.config.TutorialModelConfig`.
    """
    config = with_overrides(TutorialModelConfig(), **overrides)
    return TutorialGCN(
        num_nodes=int(num_nodes),
        rating_min=float(rating_min),
        rating_max=float(rating_max),
        **as_dict(config),
    )
