"""Reference modules for notebook 04: the two branches of the default model, and a ladder step.

Exercises 4.3 and 4.4 of notebook 04 have the learner write the two branches of
:class:`gnnrec_course.models.GCNRecommender` as flax modules of their own; these are the
reference answers. Their parameters have the same names and shapes as the package model's, so
the package's trained parameters can be fed to them (``{"params": {k: params[k] for k in
LIGHTGCN_PARAMS}}``) and give the same predictions:

* :class:`LightGCNBranch`, branch A: ``mu + b_u + b_m + Z_u . Z_m`` with
  ``Z = mean(E_0, ..., E_K)`` and ``E_k = D^-1/2 (A + I) D^-1/2 E_{k-1}``;
* :class:`RatingBranch`, branch B: ``c_u + W_u . H_m`` with
  ``H_m = sigmoid(sum over users u who rated m of r_um V_u + h)``.

:class:`TutorialBiasDecoder` is step 3 of notebook 04's repair ladder: the tutorial's encoder
(one graph convolution with an MLP update) with the bias + dot-product decoder instead of
``LayerNorm -> dot -> Dense(1) -> sigmoid``.

``graph`` is a ``jraph.GraphsTuple`` from :func:`gnnrec_course.graph.build_graph`: node ids
``[N, 1]``, every rating as a user -> movie and a movie -> user edge, ``edges`` ``[2E, 1]``
the rating of each directed edge. Users are nodes ``0..U-1``, movies ``U..N-1``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from gnnrec_course.models import TutorialGCN, gcn_propagate

__all__ = [
    "LIGHTGCN_PARAMS",
    "RATING_PARAMS",
    "LightGCNBranch",
    "RatingBranch",
    "TutorialBiasDecoder",
]

Array = jax.Array

#: The parameters of branch A in ``GCNRecommender``'s parameter dict.
LIGHTGCN_PARAMS = ("embed", "bias", "mu")
#: The parameters of branch B in ``GCNRecommender``'s parameter dict.
RATING_PARAMS = ("user_in", "hidden_bias", "user_out", "user_out_bias")


class LightGCNBranch(nn.Module):
    """Exercise 4.3: branch A, LightGCN-style propagation with biases.

    Parameters (names and shapes as in ``GCNRecommender``): ``embed`` (an ``nn.Embed``,
    table ``[N, D]``), ``bias`` (an ``nn.Embed`` ``[N, 1]``), ``mu`` (a scalar).

    Attributes:
      num_nodes: users + movies ``N``.
      embed_dim: ``D``.
      num_layers: ``K``, the number of propagation steps.
      rating_mean: the initial value of ``mu``.
      init_std: standard deviation of the initial embeddings.
    """

    num_nodes: int
    embed_dim: int = 32
    num_layers: int = 3
    rating_mean: float = 3.5
    init_std: float = 0.1

    def setup(self) -> None:
        init = nn.initializers.normal(self.init_std)
        self.embed = nn.Embed(self.num_nodes, self.embed_dim, embedding_init=init)
        self.bias = nn.Embed(self.num_nodes, 1, embedding_init=nn.initializers.zeros)
        self.mu = self.param("mu", lambda _: jnp.asarray(self.rating_mean, jnp.float32))

    def encode(self, graph: jraph.GraphsTuple) -> Array:
        """``Z = mean(E_0, E_1, ..., E_K)`` ``[N, D]``: K + 1 layers, the input included."""
        x = self.embed(jnp.asarray(graph.nodes)[:, 0])  # E_0 [N, D]
        layers = [x]
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)  # D^-1/2 (A + I) D^-1/2 x: adds the self-loops itself
            layers.append(x)
        return jnp.mean(jnp.stack(layers), axis=0)

    def __call__(self, graph: jraph.GraphsTuple, users: Array, movies: Array) -> Array:
        """Unclipped scores ``mu + b_u + b_m + Z_u . Z_m`` ``[B]`` for node ids ``[B]``."""
        z = self.encode(graph)
        biases = self.bias(users)[:, 0] + self.bias(movies)[:, 0]
        return self.mu + biases + jnp.sum(z[users] * z[movies], axis=-1)


class RatingBranch(nn.Module):
    """Exercise 4.4: branch B, the rating-weighted message (GC-MC with ``W_r = r V``).

    Parameters (names and shapes as in ``GCNRecommender``): ``user_in`` ``V`` ``[U, k]``,
    ``hidden_bias`` ``h`` ``[k]``, ``user_out`` ``W`` ``[U, k]``, ``user_out_bias`` ``c``
    ``[U]``.

    Attributes:
      num_users: ``U``; users are nodes ``0..U-1``, movies ``U..U+M-1``.
      num_movies: ``M``.
      hidden: ``k``, the size of a movie's code ``H_m``.
    """

    num_users: int
    num_movies: int
    hidden: int = 300

    def setup(self) -> None:
        init = nn.initializers.normal(0.03)
        u, k = self.num_users, self.hidden
        self.user_in = self.param("user_in", init, (u, k))
        self.hidden_bias = self.param("hidden_bias", nn.initializers.zeros, (k,))
        self.user_out = self.param("user_out", init, (u, k))
        self.user_out_bias = self.param("user_out_bias", nn.initializers.zeros, (u,))

    def movie_codes(self, graph: jraph.GraphsTuple) -> Array:
        """``H = sigmoid(sum_u r_um V_u + h)`` ``[M, k]``, over the user -> movie edges."""
        senders, receivers = jnp.asarray(graph.senders), jnp.asarray(graph.receivers)
        ratings = jnp.asarray(graph.edges, jnp.float32).reshape(-1)  # [2E]
        rated = senders < self.num_users  # the user -> movie edges
        messages = jnp.where(rated[:, None], ratings[:, None] * self.user_in[senders], 0.0)
        movie_rows = jnp.where(rated, receivers - self.num_users, 0)  # movie node -> row 0..M-1
        summed = jax.ops.segment_sum(messages, movie_rows, num_segments=self.num_movies)
        return nn.sigmoid(summed + self.hidden_bias)

    def __call__(self, graph: jraph.GraphsTuple, users: Array, movies: Array) -> Array:
        """Scores ``c_u + W_u . H_m`` ``[B]`` for user and movie node ids ``[B]``."""
        codes = self.movie_codes(graph)[movies - self.num_users]  # [B, k]
        return self.user_out_bias[users] + jnp.sum(self.user_out[users] * codes, axis=-1)


class TutorialBiasDecoder(TutorialGCN):
    """The tutorial's encoder with the matrix-factorisation decoder (notebook 04, step 3).

    ``embedding -> GraphConvolution(MLP update) -> Z``, then ``mu + b_u + b_m + Z_u . Z_m``
    (no ``LayerNorm``, no ``Dense(1)``, no sigmoid), clipped to the rating scale unless
    training, as ``GCNRecommender`` does.

    Attributes (besides :class:`~gnnrec_course.models.TutorialGCN`'s):
      rating_mean: the initial value of ``mu`` (default: the scale's midpoint).
    """

    rating_mean: float | None = None

    def setup(self) -> None:
        super().setup()
        self.bias = nn.Embed(self.num_nodes, 1, embedding_init=nn.initializers.zeros)
        mean = self.rating_mean
        if mean is None:
            mean = 0.5 * (self.rating_min + self.rating_max)
        self.mu = self.param("mu", lambda _: jnp.asarray(mean, jnp.float32))

    def encode(self, graph: jraph.GraphsTuple, train: bool = False) -> Array:
        """Node embeddings ``[N, hidden[-1]]`` after the convolution (no LayerNorm)."""
        del train
        x = self.embed(jnp.asarray(graph.nodes)[:, 0])
        conv = jraph.GraphConvolution(
            update_node_fn=self.mlp, add_self_edges=True, symmetric_normalization=True
        )
        return conv(graph._replace(nodes=x)).nodes

    def decode(self, z: Array, users: Array, movies: Array, train: bool = False) -> Array:
        """``mu + b_u + b_m + Z_u . Z_m`` ``[B]``, clipped to the scale unless training."""
        pred = self.mu + self.bias(users)[:, 0] + self.bias(movies)[:, 0]
        pred = pred + jnp.sum(z[users] * z[movies], axis=-1)
        return pred if train else jnp.clip(pred, self.rating_min, self.rating_max)
