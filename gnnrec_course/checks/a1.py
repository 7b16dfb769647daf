"""Self-check for appendix A1: branch A of the default model written as a Flax NNX module.

The check builds the learner's class on a small synthetic graph, copies the weights of the
package's Linen model into it (:func:`gnnrec_course.reference.nnx_models.copy_linen_params`)
and compares the predictions with the Linen model's, at inference and in training mode. It
returns the class the rest of the notebook should use (see
:func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from gnnrec_course.checks.common import as_array, expect, run_check
from gnnrec_course.data import synthetic_dataset
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges
from gnnrec_course.models import default_model, gcn_propagate
from gnnrec_course.reference import nnx_models as ref

__all__ = ["check_branch_a"]

_EMBED_DIM = 4
_NUM_LAYERS = 2
_MU = 3.5


@dataclass(frozen=True)
class _Case:
    """A synthetic graph, the pairs to score and Linen branch-A weights with every term > 0."""

    graph: jraph.GraphsTuple
    users: np.ndarray  # int32 [B]
    movies: np.ndarray  # int32 [B]
    num_nodes: int
    rating_min: float
    rating_max: float
    params: dict  # Linen params: {"embed": {"embedding"}, "bias": {"embedding"}, "mu"}

    def predict(self, train: bool) -> np.ndarray:
        """The Linen model's predictions ``[B]`` (the expected answer)."""
        model = self.linen_model()
        out = model.apply({"params": self.params}, self.graph, self.users, self.movies, train=train)
        return np.asarray(out, dtype=np.float64)

    def linen_model(self):
        return default_model(
            self.num_nodes,
            self.rating_min,
            self.rating_max,
            rating_mean=_MU,
            embed_dim=_EMBED_DIM,
            num_layers=_NUM_LAYERS,
        )


@functools.cache
def _case() -> _Case:
    data = synthetic_dataset(n_users=12, n_movies=9, density=0.4, seed=3)
    maps = build_id_maps(data.ratings, name="the synthetic ratings")
    graph = build_graph(data.ratings, maps)
    pairs = rating_edges(data.ratings.iloc[:40], maps)
    rng = np.random.default_rng(0)
    # Random non-zero biases and large embeddings, so that leaving out any term changes the
    # answer and some predictions fall outside 1..5 (clipping shows).
    params = {
        "embed": {"embedding": rng.normal(0.0, 0.6, (maps.num_nodes, _EMBED_DIM))},
        "bias": {"embedding": rng.normal(0.0, 1.0, (maps.num_nodes, 1))},
        "mu": np.asarray(_MU),
    }
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.float32), params)
    return _Case(
        graph=graph,
        users=pairs.users,
        movies=pairs.movies,
        num_nodes=maps.num_nodes,
        rating_min=float(data.rating_min),
        rating_max=float(data.rating_max),
        params=params,
    )


def _known_mistakes(case: _Case, train: bool) -> dict[str, np.ndarray]:
    """Wrong answers a learner is likely to give: hint -> the predictions that mistake gives."""
    emb = np.asarray(case.params["embed"]["embedding"], dtype=np.float64)
    bias = np.asarray(case.params["bias"]["embedding"], dtype=np.float64)[:, 0]
    layers = [emb]
    for _ in range(_NUM_LAYERS):
        layers.append(np.asarray(gcn_propagate(case.graph, jnp.asarray(layers[-1]))))
    u, m = case.users, case.movies

    def predict(z, mu=_MU, with_bias=True, clip=not train):
        pred = mu + np.sum(z[u] * z[m], axis=-1)
        if with_bias:
            pred = pred + bias[u] + bias[m]
        return np.clip(pred, case.rating_min, case.rating_max) if clip else pred

    mean = sum(layers) / len(layers)
    mistakes = [
        (
            predict(layers[-1]),
            "you used only the last layer E_K. Branch A averages all K + 1 layers: "
            "Z = (E_0 + E_1 + ... + E_K) / (num_layers + 1).",
        ),
        (
            predict(layers[0]),
            "no propagation: Z equals the embeddings E_0. Apply gcn_propagate(graph, x) "
            "self.num_layers times and average the layers.",
        ),
        (
            predict(sum(layers[1:]) / _NUM_LAYERS),
            "the layer mean leaves out E_0, the embeddings themselves: average E_0 .. E_K.",
        ),
        (
            predict(sum(layers)),
            "you summed the layers: divide the sum by num_layers + 1 to get their mean.",
        ),
        (
            predict(sum(layers) / _NUM_LAYERS),
            "you divided by num_layers; E_0 .. E_K are num_layers + 1 layers.",
        ),
        (
            predict(mean, with_bias=False),
            "the biases are missing: add self.bias(users)[:, 0] + self.bias(movies)[:, 0].",
        ),
        (
            predict(mean, mu=0.0),
            "the global mean is missing: add self.mu[...] (an nnx.Param; [...] reads it).",
        ),
    ]
    if train:
        mistakes.append(
            (
                predict(mean, clip=True),
                "with train=True return the raw prediction: clipping it would give every "
                "prediction outside the rating range a gradient of zero.",
            )
        )
    else:
        mistakes.append(
            (
                predict(mean, clip=False),
                "at inference (train=False) clip the prediction to the rating range: "
                "jnp.clip(pred, self.rating_min, self.rating_max).",
            )
        )
    return {hint: wrong for wrong, hint in mistakes}


def _build(cls: Callable, case: _Case) -> nnx.Module:
    """The learner's model with the Linen weights copied in."""
    try:
        model = cls(
            case.num_nodes,
            case.rating_min,
            case.rating_max,
            embed_dim=_EMBED_DIM,
            num_layers=_NUM_LAYERS,
            rating_mean=_MU,
            rngs=nnx.Rngs(0),
        )
    except TypeError as error:
        raise AssertionError(
            f"BranchA(num_nodes, rating_min, rating_max, embed_dim=..., num_layers=..., "
            f"rating_mean=..., rngs=...) failed ({error}): keep the __init__ you were given."
        ) from error
    try:
        ref.copy_linen_params(case.params, model)
    except ValueError as error:
        raise AssertionError(
            f"the Linen weights do not fit your module ({error}): keep the attributes of the "
            f"__init__ you were given (embed, bias, mu)."
        ) from error
    return model


def _test_lightgcn(cls: Callable) -> None:
    case = _case()
    model = _build(cls, case)
    for train in (False, True):
        call = f"model(graph, users, movies, train={train})"
        result = model(case.graph, jnp.asarray(case.users), jnp.asarray(case.movies), train=train)
        out = as_array(result, call)
        expected = case.predict(train)
        if out.shape != expected.shape:
            hint = (
                f"{call} returned shape {out.shape} for {len(case.users)} pairs; expected "
                f"({len(case.users)},): one rating per (user, movie) pair."
            )
            if out.ndim == 2:
                hint += " self.bias(users) has shape [B, 1]: take [:, 0] before adding."
            raise AssertionError(hint)
        worst = float(np.max(np.abs(out - expected)))
        expect(
            out,
            expected,
            mistakes=_known_mistakes(case, train),
            context=f"{call}: ",
            otherwise=(
                f"it differs from the Linen GCNRecommender with the same weights by up to "
                f"{worst:.4g} on a synthetic graph. Hint: x = self.embed(node_ids(graph)); add "
                f"gcn_propagate(graph, x) num_layers times, average the num_layers + 1 layers "
                f"into z, then mu + b_u + b_m + z_u . z_m, clipped unless train."
            ),
        )


def check_branch_a(cls: Callable) -> Callable:
    """Check Exercise A1.1, the ``__call__`` of ``BranchA(nnx.Module)`` (branch A in NNX)."""
    return run_check(
        "A1.1",
        cls,
        ref.BranchA,
        _test_lightgcn,
        "with the Linen model's weights, your NNX module predicts what GCNRecommender predicts, "
        "at inference (clipped) and in training (raw).",
    )
