"""The default rating model, :class:`GCNRecommender`, and its factory :func:`default_model`."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from ..config import ConfigError, RatingModelConfig, as_dict, with_overrides
from .edge_ops import (
    gather_scatter,
    gcn_degree_scales,
    gcn_propagate_edges,
    pair_dot,
)
from .layers import _node_ids, rowwise_dot

Array = jax.Array

# Field defaults come from the config, the one source of the tuned numbers.
_RATING = RatingModelConfig()


def _masked_mean(x: Array, mask: Array | None) -> Array:
    """Mean of ``x`` ``[B]`` over the entries where ``mask`` ``[B]`` is 1 (all if ``None``)."""
    if mask is None:
        return jnp.mean(x)
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


class GCNRecommender(nn.Module):
    """The course's default recommender: two graph encoders whose predictions are blended.

    **Branch A, LightGCN-style propagation with self-loops** on ``jraph.GraphConvolution``
    (the layer mean of He et al. 2020, but with ``A + I``; the real LightGCN, without
    self-loops, is :class:`gnnrec_course.models.LightGCN`)::

        E_0 = embedding of every node                          [N, D]
        E_k = D^-1/2 (A + I) D^-1/2 E_{k-1},  k = 1..K           (symmetric norm, self loops)
        Z   = mean(E_0, E_1, ..., E_K)                          [N, D]
        A(u, m) = mu + b_u + b_m + Z_u . Z_m

    **Branch B, rating-weighted graph convolution** (the GC-MC encoder of Berg et al. 2017
    with ordinal weight sharing, W_r = r V, which is also I-AutoRec, Sedhain et al. 2015)::

        H_m = sigmoid(sum over users u who rated m of  r_um V_u  + h)   [M, k]
        B(u, m) = c_u + W_u . H_m

    Each movie reads the *values* of its ratings: who rated it high and who rated it low.
    Branch A only sees *who* rated what (the values enter through the loss).

    **Over the edge list**: every neighbour sum (the K propagations, ``R V``) is a chunked
    gather/scatter over the graph's edges (:mod:`gnnrec_course.models.edge_ops`) and the pair
    terms ``Z_u . Z_m``, ``W_u . H_m`` are chunked per pair, so memory is
    ``O(E + N (D + k) + B)`` for ``E`` ratings, ``N`` nodes and ``B`` pairs; no ``[M, U]``
    matrix is built (an ml-10m-sized graph trains full batch in about 4.4 GiB). On a CPU this
    is also faster than a dense ``R @ V``: cache-sized chunks beat one huge gather.

    **One prediction path**: ``model(graph, users, movies)`` is ``decode(encode(graph), users,
    movies)``, so scoring from cached embeddings (:meth:`encode` once, :meth:`decode` per
    batch, as :class:`gnnrec_course.recommend.Recommender` does) gives the same numbers.

    **Blend**: ``r_hat = (1 - w) A + w B`` (``w = rating_weight``), clipped to the rating
    scale at inference. The two branches make different errors, so the blend is better than
    either (ml-100k u1 test RMSE: A alone 0.913, B alone 0.903, blend 0.896; bias baseline
    0.961).

    **Training loss** (everything beyond the data loss is ``sow``-ed into the ``"losses"``
    collection by :meth:`decode` with ``train=True``; :func:`gnnrec_course.training.train_step`
    adds them)::

        MSE(r_hat) + w (1 - w) mean((A - B)^2) + (1 - w) pen_A + w pen_B
          = (1 - w) [MSE(A) + pen_A] + w [MSE(B) + pen_B]

    so each branch is trained as a complete recommender on its own (an ensemble trained in
    one loop, stopped early on the blend's validation RMSE). ``pen_A`` is the classic
    matrix-factorisation L2 penalty on the layer-0 embeddings and biases of the users and
    movies of each training rating; ``pen_B`` an L2 penalty on ``V`` and ``W``.

    Why the other choices (measured on ml-100k, see ``benchmarks/RESULTS.md``): learned
    embeddings are the one-hot-times-matrix of the tutorial without its extra MLP parameters;
    parameter-free propagation with a layer mean (K = 3) beat K = 0..2 and 4, per-layer weight
    matrices and per-rating-level messages in branch A (more parameters, earlier overfitting);
    biases carry most of the signal in ratings, so the dot product only models the interaction;
    no sigmoid on the output (it saturates, see :class:`TutorialGCN`).

    Attributes:
      num_nodes: users + movies ``N``.
      rating_min, rating_max: the rating scale; inference clips to it.
      num_users: ``U`` (users are nodes ``0..U-1``). Required for branch B; ``None`` turns
        branch B off (branch A alone).
      embed_dim, num_layers: ``D`` and ``K`` of branch A.
      l2, bias_l2: branch A penalties ``l2 mean(|E0_u|^2 + |E0_m|^2) + bias_l2 mean(b_u^2 +
        b_m^2)`` over the training ratings.
      dropout: dropout on the layer-0 embeddings during training.
      rating_mean: initial global bias ``mu`` (default: the scale's midpoint).
      init_std: standard deviation of the initial embeddings.
      rating_hidden: ``k``, the size of ``H_m``.
      rating_l2: branch B penalty ``rating_l2 (|V|^2 + |W|^2) / (number of training ratings)``
        (the graph's user->movie edges, so a mini-batch step optimises the same objective).
      rating_weight: ``w`` in ``[0, 1)``, the share of branch B in the blend (ignored without
        ``num_users``).
      chunk_elems: the largest ``[edges, features]`` message block, in float32 elements.

    The tuned defaults are :class:`gnnrec_course.config.RatingModelConfig`'s.
    """

    num_nodes: int
    rating_min: float = 1.0
    rating_max: float = 5.0
    num_users: int | None = None
    embed_dim: int = _RATING.embed_dim
    num_layers: int = _RATING.num_layers
    l2: float = _RATING.l2
    bias_l2: float = _RATING.bias_l2
    dropout: float = _RATING.dropout
    rating_mean: float | None = None
    init_std: float = _RATING.init_std
    rating_hidden: int = _RATING.rating_hidden
    rating_l2: float = _RATING.rating_l2
    rating_weight: float = _RATING.rating_weight
    chunk_elems: int = _RATING.chunk_elems

    @property
    def has_rating_branch(self) -> bool:
        return self.num_users is not None and self.rating_weight > 0

    def setup(self) -> None:
        self.embed = nn.Embed(
            self.num_nodes, self.embed_dim, embedding_init=nn.initializers.normal(self.init_std)
        )
        self.bias = nn.Embed(self.num_nodes, 1, embedding_init=nn.initializers.zeros)
        mean = self.rating_mean
        if mean is None:
            mean = 0.5 * (self.rating_min + self.rating_max)
        self.mu = self.param("mu", lambda _: jnp.asarray(mean, dtype=jnp.float32))
        self.drop = nn.Dropout(self.dropout)
        if self.has_rating_branch and not self.rating_weight < 1.0:
            raise ConfigError(
                f"rating_weight must be below 1 (the share of branch B), got {self.rating_weight}."
            )
        if self.has_rating_branch:
            n_users, k = int(self.num_users), self.rating_hidden
            init = nn.initializers.normal(0.03)
            self.user_in = self.param("user_in", init, (n_users, k))  # V
            self.hidden_bias = self.param("hidden_bias", nn.initializers.zeros, (k,))  # h
            self.user_out = self.param("user_out", init, (n_users, k))  # W
            self.user_out_bias = self.param("user_out_bias", nn.initializers.zeros, (n_users,))

    # -- branch A ------------------------------------------------------------------------------

    def light_gcn(self, graph: jraph.GraphsTuple, train: bool = False) -> Array:
        """``Z = mean(E_0, ..., E_K)`` ``[N, D]``, ``E_k = D^-1/2 (A + I) D^-1/2 E_{k-1}``."""
        x = self.embed(_node_ids(graph))
        if self.dropout > 0:
            x = self.drop(x, deterministic=not train)
        senders, receivers = jnp.asarray(graph.senders), jnp.asarray(graph.receivers)
        scales = gcn_degree_scales(senders, receivers, x.shape[0])
        total = x
        for _ in range(self.num_layers):
            x = gcn_propagate_edges(x, senders, receivers, scales, chunk_elems=self.chunk_elems)
            total = total + x
        return total / (self.num_layers + 1)

    # -- branch B ------------------------------------------------------------------------------

    def movie_codes(self, graph: jraph.GraphsTuple) -> Array:
        """``H = sigmoid(R V + h)`` ``[M, k]``, the sum ``R V`` taken over the rating edges."""
        n_users = int(self.num_users)
        n_movies = self.num_nodes - n_users
        senders, receivers = jnp.asarray(graph.senders), jnp.asarray(graph.receivers)
        ratings = jnp.asarray(graph.edges, jnp.float32).reshape(senders.shape[0], -1)[:, 0]
        rated = (receivers >= n_users) & (senders < n_users)  # user -> movie edges
        src = jnp.where(rated, senders, 0)
        dst = jnp.where(rated, receivers - n_users, 0)
        weight = jnp.where(rated, ratings, 0.0)
        summed = gather_scatter(
            self.user_in, src, dst, n_movies, weight, chunk_elems=self.chunk_elems
        )
        return nn.sigmoid(summed + self.hidden_bias)

    def _num_ratings(self, graph: jraph.GraphsTuple) -> Array:
        """The number of user->movie edges (training ratings) in the graph, float32 scalar."""
        senders, receivers = jnp.asarray(graph.senders), jnp.asarray(graph.receivers)
        rated = (receivers >= int(self.num_users)) & (senders < int(self.num_users))
        return jnp.sum(rated.astype(jnp.float32))

    # -- one prediction path -------------------------------------------------------------------

    def encode(self, graph: jraph.GraphsTuple, train: bool = False) -> Array:
        """Node embeddings ``[N, D]``, or ``[N, D + k]`` with branch B.

        Columns ``:D`` are branch A's ``Z``; with branch B, columns ``D:`` are ``W_u`` for users
        and ``H_m`` for movies. With ``train=True`` the ``rating_l2`` penalty, which needs the
        graph's number of ratings, is sown here.
        """
        z = self.light_gcn(graph, train)
        if not self.has_rating_branch:
            return z
        if train and self.rating_l2 > 0:
            size = jnp.sum(self.user_in**2) + jnp.sum(self.user_out**2)
            penalty = self.rating_weight * self.rating_l2 * size / self._num_ratings(graph)
            self.sow("losses", "rating_l2", penalty)
        codes = jnp.concatenate([self.user_out, self.movie_codes(graph)], axis=0)
        return jnp.concatenate([z, codes], axis=1)

    def decode(
        self,
        z: Array,
        users: Array,
        movies: Array,
        train: bool = False,
        mask: Array | None = None,
        clip: bool | None = None,
    ) -> Array:
        """Ratings ``[B]`` for node ids ``users``, ``movies`` ``[B]`` from :meth:`encode`'s ``z``.

        ``(1 - w) A + w B`` with ``A = mu + b_u + b_m + Z_u . Z_m`` and
        ``B = c_u + W_u . H_m``. ``clip`` (default: ``not train``) clips to the rating scale:
        rating metrics use clipped predictions, ranking uses ``clip=False`` (clipping ties
        every score above the top of the scale). With ``train`` the pair penalties are sown
        (means over ``mask``, float ``[B]`` with 0 for padding, if given).
        """
        d, ce = self.embed_dim, self.chunk_elems
        b_user = self.bias(users)[:, 0]
        b_movie = self.bias(movies)[:, 0]
        pred_a = self.mu + b_user + b_movie + pair_dot(z[:, :d], z[:, :d], users, movies, ce)
        pred_b = None
        if self.has_rating_branch:
            w = self.rating_weight
            pred_b = self.user_out_bias[users] + pair_dot(z[:, d:], z[:, d:], users, movies, ce)
            pred = (1.0 - w) * pred_a + w * pred_b
        else:
            w = 0.0
            pred = pred_a
        if (not train) if clip is None else clip:
            pred = jnp.clip(pred, self.rating_min, self.rating_max)
        if not train:
            return pred
        self._sow_pair_penalties(users, movies, w, mask)
        if pred_b is not None:
            agreement = _masked_mean(jnp.square(pred_a - pred_b), mask)
            self.sow("losses", "branch_agreement", w * (1.0 - w) * agreement)
        return pred

    def _sow_pair_penalties(
        self, users: Array, movies: Array, w: float, mask: Array | None
    ) -> None:
        """``l2 mean(|E0_u|^2 + |E0_m|^2)`` and ``bias_l2 mean(b_u^2 + b_m^2)`` over the pairs.

        Written as ``sum_n count_n |E0_n|^2 / B`` with ``count_n`` the (masked) number of
        pairs node ``n`` is in: equal, and it gathers no ``[B, D]`` block.
        """
        weight = jnp.ones(users.shape, jnp.float32) if mask is None else mask.astype(jnp.float32)
        counts = jnp.zeros((self.num_nodes,), jnp.float32).at[users].add(weight)
        counts = counts.at[movies].add(weight) / jnp.maximum(jnp.sum(weight), 1.0)
        if self.l2 > 0:
            table = self.embed.embedding
            penalty = counts @ rowwise_dot(table, table)
            self.sow("losses", "embedding_l2", (1.0 - w) * self.l2 * penalty)
        if self.bias_l2 > 0:
            penalty = counts @ jnp.square(self.bias.embedding[:, 0])
            self.sow("losses", "bias_l2", (1.0 - w) * self.bias_l2 * penalty)

    def __call__(
        self,
        graph: jraph.GraphsTuple,
        users: Array,
        movies: Array,
        train: bool = False,
        mask: Array | None = None,
    ) -> Array:
        """Predicted ratings ``[B]`` = ``decode(encode(graph), users, movies)``; clipped to
        ``[rating_min, rating_max]`` unless training."""
        return self.decode(self.encode(graph, train), users, movies, train, mask)


def default_model(
    num_nodes: int,
    rating_min: float = 1.0,
    rating_max: float = 5.0,
    *,
    num_users: int | None = None,
    rating_mean: float | None = None,
    **overrides,
) -> GCNRecommender:
    """The package's default recommender (:class:`GCNRecommender`) with the tuned settings.

    Args:
      num_nodes: users + movies (``IdMaps.num_nodes``).
      rating_min, rating_max: the data's rating scale.
      num_users: ``IdMaps.num_users``; needed for the rating-weighted branch. Without it the
        model is branch A alone (about 0.015 RMSE worse on ml-100k).
      rating_mean: mean training rating, the starting value of the global bias.
      **overrides: fields of :class:`~gnnrec_course.config.RatingModelConfig` to change
        (``embed_dim``, ``l2``, ...); an unknown one is a ``ConfigError``.
    """
    config = with_overrides(RatingModelConfig(), **overrides)
    return GCNRecommender(
        num_nodes=int(num_nodes),
        rating_min=float(rating_min),
        rating_max=float(rating_max),
        num_users=None if num_users is None else int(num_users),
        rating_mean=None if rating_mean is None else float(rating_mean),
        **as_dict(config),
    )
