"""The default rating model, :class:`GCNRecommender`, and its factory :func:`default_model`."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from ..config import ConfigError, RatingModelConfig, as_dict, with_overrides
from .layers import _node_ids, gcn_propagate, rowwise_dot

Array = jax.Array

# Field defaults come from the config, the one source of the tuned numbers.
_RATING = RatingModelConfig()


class GCNRecommender(nn.Module):
    """The course's default recommender: two graph encoders whose predictions are blended.

    **Branch A, LightGCN** (He et al. 2020) on ``jraph.GraphConvolution``::

        E_0 = embedding of every node                          [N, D]
        E_k = D^-1/2 (A + I) D^-1/2 E_{k-1},  k = 1..K           (symmetric norm, self loops)
        Z   = mean(E_0, E_1, ..., E_K)                          [N, D]
        A(u, m) = mu + b_u + b_m + Z_u . Z_m

    **Branch B, rating-weighted graph convolution** (the GC-MC encoder of Berg et al. 2017
    with ordinal weight sharing, W_r = r V, which is also I-AutoRec, Sedhain et al. 2015)::

        H_m = sigmoid(sum over users u who rated m of  r_um V_u  + h)   [M, k]
        B(u, m) = c_u + W_u . H_m

    Each movie reads the *values* of its ratings: who rated it high and who rated it low.
    Branch A only sees *who* rated what (the values enter through the loss). The message sum
    is computed as the matrix product ``R @ V`` of the ``[M, U]`` rating block of the
    adjacency matrix (built inside the jitted function from ``graph.edges``): on a CPU that is
    several times faster than gathering a ``k``-wide message per edge. Likewise the pairs'
    ``W_u . H_m`` are picked from the ``[M, U]`` product ``H W^T``.

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
        branch B off (a pure LightGCN).
      embed_dim, num_layers: ``D`` and ``K`` of branch A.
      l2, bias_l2: branch A penalties ``l2 mean(|E0_u|^2 + |E0_m|^2) + bias_l2 mean(b_u^2 +
        b_m^2)`` over the training ratings.
      dropout: dropout on the layer-0 embeddings during training.
      rating_mean: initial global bias ``mu`` (default: the scale's midpoint).
      init_std: standard deviation of the initial embeddings.
      rating_hidden: ``k``, the size of ``H_m``.
      rating_l2: branch B penalty ``rating_l2 (|V|^2 + |W|^2) / (number of training ratings)``.
      rating_weight: ``w`` in ``[0, 1)``, the share of branch B in the blend (ignored without
        ``num_users``).

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

    def _layers(self, graph: jraph.GraphsTuple, train: bool) -> tuple[Array, Array]:
        """Layer-0 embeddings ``[N, D]`` and the layer mean ``Z`` ``[N, D]``."""
        e0 = self.embed(_node_ids(graph))
        x = self.drop(e0, deterministic=not train) if self.dropout > 0 else e0
        total = x
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)
            total = total + x
        return e0, total / (self.num_layers + 1)

    # -- branch B ------------------------------------------------------------------------------

    def rating_matrix(self, graph: jraph.GraphsTuple) -> Array:
        """The ratings of the graph's user->movie edges as a dense ``[M, U]`` matrix (0 = none)."""
        n_users = int(self.num_users)
        n_movies = self.num_nodes - n_users
        senders, receivers = jnp.asarray(graph.senders), jnp.asarray(graph.receivers)
        ratings = jnp.asarray(graph.edges, dtype=jnp.float32).reshape(senders.shape[0], -1)[:, 0]
        rows = jnp.where(receivers >= n_users, receivers - n_users, n_movies)  # movie->user: drop
        return (
            jnp.zeros((n_movies, n_users), jnp.float32).at[rows, senders].add(ratings, mode="drop")
        )

    def movie_codes(self, graph: jraph.GraphsTuple) -> Array:
        """``H = sigmoid(R @ V + h)``: one ``[M, k]`` code per movie from its ratings."""
        return nn.sigmoid(self.rating_matrix(graph) @ self.user_in + self.hidden_bias)

    # -- both: the one prediction path, decode(encode(graph)) ----------------------------------

    def encode(self, graph: jraph.GraphsTuple, train: bool = False) -> Array:
        """Node embeddings ``[N, D]`` (``[N, D + k]`` with branch B).

        Branch A's ``Z`` scaled by ``sqrt(1 - w)``, then (with branch B) ``sqrt(w)`` times the
        user's output vector ``W_u`` for users and the movie's code ``H_m`` for movies, so that
        ``z_u . z_m`` is the blended interaction term (see :meth:`decode`).
        """
        z = self._layers(graph, train)[1]
        if not self.has_rating_branch:
            return z
        w = self.rating_weight
        codes = jnp.concatenate([self.user_out, self.movie_codes(graph)], axis=0)
        return jnp.concatenate([jnp.sqrt(1.0 - w) * z, jnp.sqrt(w) * codes], axis=1)

    def decode(self, z: Array, users: Array, movies: Array, train: bool = False) -> Array:
        """Ratings ``[B]`` from :meth:`encode`'s ``z`` and node ids ``users``, ``movies`` ``[B]``.

        ``(1 - w)(mu + b_u + b_m) + w c_u + z_u . z_m``; clipped to the scale unless ``train``.
        With ``train``, also sows the penalties of the training loss (see the class docstring).
        """
        b_user = self.bias(users)[:, 0]
        b_movie = self.bias(movies)[:, 0]
        base = self.mu + b_user + b_movie  # [B]
        if self.has_rating_branch:
            w, d = self.rating_weight, self.embed_dim
            z_a = z[:, :d]
            part_a = (1.0 - w) * base + rowwise_dot(z_a[users], z_a[movies])  # (1 - w) A
            part_b = w * self.user_out_bias[users] + self._pair_scores(z[:, d:], users, movies)
            pred = part_a + part_b  # part_b = w B
        else:
            pred = base + rowwise_dot(z[users], z[movies])
        if not train:
            return jnp.clip(pred, self.rating_min, self.rating_max)
        self._sow_penalties(users, movies, b_user, b_movie)
        if self.has_rating_branch:
            # w (1 - w) (A - B)^2, written with the weighted parts (1 - w) A and w B
            agreement = jnp.mean(jnp.square(w * part_a - (1.0 - w) * part_b)) / (w * (1.0 - w))
            self.sow("losses", "branch_agreement", agreement)
        return pred

    def __call__(
        self, graph: jraph.GraphsTuple, users: Array, movies: Array, train: bool = False
    ) -> Array:
        """Predicted ratings ``[B]``; clipped to ``[rating_min, rating_max]`` unless training."""
        return self.decode(self.encode(graph, train=train), users, movies, train=train)

    def _pair_scores(self, codes: Array, users: Array, movies: Array) -> Array:
        """``codes_u . codes_m`` ``[B]`` for node-ordered rows ``codes`` ``[N, k]``.

        Computed as all ``M x U`` products in one matrix product, then picked per pair: on a
        CPU much faster than gathering a ``k``-wide row per pair (and scattering its gradient).
        """
        n_users = int(self.num_users)
        scores = codes[n_users:] @ codes[:n_users].T  # [M, U]
        return scores[movies - n_users, users]

    def _sow_penalties(self, users: Array, movies: Array, b_user: Array, b_movie: Array) -> None:
        """Sow ``pen_A`` (weighted by ``1 - w``) and ``pen_B`` (by ``w``) of a training batch."""
        w = self.rating_weight if self.has_rating_branch else 0.0
        if self.l2 > 0:
            e_user, e_movie = self.embed(users), self.embed(movies)  # layer 0, before dropout
            penalty = rowwise_dot(e_user, e_user) + rowwise_dot(e_movie, e_movie)
            self.sow("losses", "embedding_l2", (1.0 - w) * self.l2 * jnp.mean(penalty))
        if self.bias_l2 > 0:
            penalty = jnp.mean(b_user**2 + b_movie**2)
            self.sow("losses", "bias_l2", (1.0 - w) * self.bias_l2 * penalty)
        if self.has_rating_branch and self.rating_l2 > 0:
            size = jnp.sum(self.user_in**2) + jnp.sum(self.user_out**2)
            self.sow("losses", "rating_l2", w * self.rating_l2 * size / users.shape[0])


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
        model is a pure LightGCN (about 0.015 RMSE worse on ml-100k).
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
