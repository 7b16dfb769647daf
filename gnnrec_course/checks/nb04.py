"""Self-checks for notebook 04: the masked loss, the train step and the default model's branches.

Each check runs the learner's function on a small hand-made case and returns the function the
rest of the notebook should use (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
from flax import errors as flax_errors
from flax.training.train_state import TrainState

from gnnrec_course.checks.common import as_array, as_number, expect, run_check
from gnnrec_course.reference import training_steps as ref

__all__ = [
    "check_lightgcn_branch",
    "check_masked_mse",
    "check_rating_branch",
    "check_train_step",
]


def _scalar(out: object, what: str) -> float:
    """The learner's loss as a Python float; a loss must have shape () for ``jax.grad``."""
    return as_number(out, what, scalar=True, hint="Sum over the pairs and divide (or take a mean).")


# --- Exercise 4.1 -------------------------------------------------------------------------

_PRED = np.array([3.0, 4.5, 2.0, 5.0, 1.0, 3.5, 4.0, 2.5], dtype=np.float32)
_TARGET = np.array([4.0, 4.0, 4.0, 4.0, 1.0, 3.0, 5.0, 5.0], dtype=np.float32)
_MASKS = [
    np.array([1, 0, 1, 0, 0, 1, 0, 0], dtype=bool),  # 3 of 8
    np.array([1, 1, 1, 1, 1, 1, 1, 1], dtype=bool),  # all
    np.array([0, 0, 0, 0, 0, 0, 0, 1], dtype=bool),  # 1 of 8
]


def _masked_mse_mistakes(mask: np.ndarray) -> dict:
    """Hint -> the loss that mistake gives with this ``mask`` [8] on the test pairs."""
    m = mask.astype(np.float64)
    d = _PRED.astype(np.float64) - _TARGET
    n, k = len(_PRED), int(mask.sum())
    mistakes = {
        f"with {k} of {n} pairs in the mask you divided by all {n} pairs. Divide by the number "
        f"of masked pairs, mask.sum(): otherwise the loss shrinks as the mask gets sparser.": (
            np.sum(m * d**2) / n
        ),
        "the mask is ignored: every pair counts. Multiply the squared errors by the mask "
        "before summing, and divide by mask.sum().": np.mean(d**2),
        "this is the mean absolute error (L1); square the errors: (pred - target) ** 2.": (
            np.sum(m * np.abs(d)) / m.sum()
        ),
        "this is the root of the mean squared error (RMSE); the loss is the MSE itself, "
        "without the square root.": np.sqrt(np.sum(m * d**2) / m.sum()),
        "this is the sum of the masked squared errors; divide it by mask.sum().": np.sum(m * d**2),
    }
    if k < n:
        mistakes[
            "you averaged over the pairs *outside* the mask; mask == True marks the pairs "
            "that count."
        ] = np.sum((1 - m) * d**2) / (n - k)
    return mistakes


def _masked_mse_values(fn: Callable) -> None:
    """The loss on three masks (3 of 8 pairs, all, 1 of 8)."""
    for mask in _MASKS:
        expected = float(ref.masked_mse(_PRED, _TARGET, mask))
        out = _scalar(
            fn(jnp.asarray(_PRED), jnp.asarray(_TARGET), jnp.asarray(mask)), "masked_mse(...)"
        )
        expect(
            out,
            expected,
            mistakes=_masked_mse_mistakes(mask),
            otherwise=(
                f"with pred={_PRED.tolist()}, target={_TARGET.tolist()} and mask="
                f"{mask.astype(int).tolist()} expected {expected:.4f}, got {out:.4f}. Hint: "
                f"jnp.sum(mask * (pred - target) ** 2) / jnp.sum(mask)."
            ),
        )


def _masked_mse_under_jit(fn: Callable) -> None:
    """The loss works inside ``jax.jit`` (no boolean indexing) and gives the same value."""
    try:
        jitted = _scalar(
            jax.jit(fn)(jnp.asarray(_PRED), jnp.asarray(_TARGET), jnp.asarray(_MASKS[0])),
            "jax.jit(masked_mse)(...)",
        )
    except (NotImplementedError, AssertionError):
        raise
    except Exception as error:  # noqa: BLE001 - any tracing error gets the same hint
        raise AssertionError(
            f"masked_mse fails inside jax.jit ({type(error).__name__}). Boolean indexing such "
            f"as pred[mask] needs to know the number of selected pairs, which jit does not; "
            f"multiply by the mask instead: jnp.sum(mask * (pred - target) ** 2) / "
            f"jnp.sum(mask)."
        ) from None
    expected = float(ref.masked_mse(_PRED, _TARGET, _MASKS[0]))
    if not np.isclose(jitted, expected, atol=1e-5):
        raise AssertionError(
            f"under jax.jit masked_mse gives {jitted:.4f} instead of {expected:.4f}."
        )


def _masked_mse_empty_mask(fn: Callable) -> None:
    """An empty mask gives 0, not 0 / 0."""
    empty = np.zeros(len(_PRED), dtype=bool)
    out = fn(jnp.asarray(_PRED), jnp.asarray(_TARGET), jnp.asarray(empty))
    value = _scalar(out, "masked_mse(...) with an empty mask")
    if not np.isfinite(value) or value != 0.0:
        raise AssertionError(
            f"with an empty mask (no pair counts) masked_mse returns {value}; return 0 there, "
            f"e.g. divide by jnp.maximum(jnp.sum(mask), 1) so there is no 0 / 0."
        )


def _test_masked_mse(fn: Callable) -> None:
    _masked_mse_values(fn)
    _masked_mse_under_jit(fn)
    _masked_mse_empty_mask(fn)


def check_masked_mse(fn: Callable) -> Callable:
    """Check Exercise 4.1 ``masked_mse(pred, target, mask) -> scalar``."""
    return run_check(
        "4.1",
        fn,
        ref.masked_mse,
        _test_masked_mse,
        "the loss averages over the masked pairs only, so it does not depend on how sparse "
        "the mask is, and it works inside jax.jit.",
    )


# --- Exercise 4.2 -------------------------------------------------------------------------


class _TinyRecommender(nn.Module):
    """Embeddings -> one GCN propagation -> dot product + global bias, for the check."""

    num_nodes: int
    dim: int = 3

    @nn.compact
    def __call__(self, graph, users, movies, train: bool = False):
        ids = jnp.asarray(graph.nodes)[:, 0]
        x = nn.Embed(self.num_nodes, self.dim)(ids)  # [N, dim]
        conv = jraph.GraphConvolution(
            update_node_fn=lambda h: h, add_self_edges=True, symmetric_normalization=True
        )
        z = conv(graph._replace(nodes=x)).nodes  # [N, dim]
        bias = self.param("bias", nn.initializers.constant(3.0), ())
        return bias + jnp.sum(z[users] * z[movies], axis=-1)  # [B]


@functools.cache
def _tiny_problem() -> tuple[TrainState, jraph.GraphsTuple, np.ndarray, np.ndarray, np.ndarray]:
    """A 4-user, 3-movie graph with 7 ratings and a fresh SGD ``TrainState``."""
    users = np.array([0, 0, 1, 1, 2, 3, 3], dtype=np.int32)
    movies = np.array([4, 5, 4, 6, 5, 5, 6], dtype=np.int32)
    ratings = np.array([5.0, 1.0, 4.0, 2.0, 1.0, 2.0, 5.0], dtype=np.float32)
    n = 7
    graph = jraph.GraphsTuple(
        nodes=np.arange(n, dtype=np.int32)[:, None],
        edges=None,
        senders=np.concatenate([users, movies]),
        receivers=np.concatenate([movies, users]),
        n_node=np.array([n], dtype=np.int32),
        n_edge=np.array([2 * len(users)], dtype=np.int32),
        globals=None,
    )
    model = _TinyRecommender(num_nodes=n)
    params = jax.jit(model.init)(jax.random.key(0), graph, users, movies)["params"]
    state = TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.05))
    return state, graph, users, movies, ratings


_reference_step = jax.jit(ref.train_step)


def _max_diff(a, b) -> float:
    leaves = jax.tree_util.tree_leaves(
        jax.tree_util.tree_map(lambda x, y: jnp.max(jnp.abs(x - y)), a, b)
    )
    return float(max(leaves))


def _run_train_step(step: Callable, state: TrainState, *problem) -> tuple[TrainState, float]:
    """One jitted step of the learner's ``train_step``: ``(new_state, loss)``, with hints."""
    try:
        out = step(state, *problem)
    except (NotImplementedError, AssertionError):
        raise
    except flax_errors.FlaxError as error:
        raise AssertionError(
            f"flax could not run the model ({type(error).__name__}). state.params holds the "
            f"parameters only; pass them to the model as a variables dict: "
            f"state.apply_fn({{'params': params}}, graph, users, movies)."
        ) from None
    except Exception as error:  # noqa: BLE001 - any tracing error gets the same hint
        raise AssertionError(
            f"train_step fails inside jax.jit ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:120]}). Inside jit the arrays are tracers: no "
            f"float(...), .item() or Python `if` on their values; return the loss as an array."
        ) from None
    assert out is not None, "train_step returned None: return (new_state, loss)."
    if not (isinstance(out, tuple) and len(out) == 2):
        raise AssertionError(
            f"train_step should return a pair (new_state, loss); got {type(out).__name__}."
        )
    new_state, loss = out
    if isinstance(loss, TrainState) and not isinstance(new_state, TrainState):
        raise AssertionError("the pair is the wrong way round: return (new_state, loss).")
    if not isinstance(new_state, TrainState):
        raise AssertionError(
            f"the first thing returned should be the new TrainState, got "
            f"{type(new_state).__name__}. state.apply_gradients(grads=grads) makes it."
        )
    return new_state, _scalar(loss, "the loss train_step returned")


def _check_step_loss(value: float, state: TrainState, new_state: TrainState, before: float) -> None:
    """The returned loss is the MSE with ``state.params`` (``before``), not another one."""
    _, graph, users, movies, ratings = _tiny_problem()

    def predict(params) -> np.ndarray:
        return np.asarray(state.apply_fn({"params": params}, graph, users, movies), np.float64)

    pred = predict(state.params)
    mistakes = {
        "the loss is the mean absolute error (L1); use the mean squared error "
        "jnp.mean((pred - ratings) ** 2).": float(np.mean(np.abs(pred - ratings))),
        "the loss is the RMSE; return the MSE (no square root).": np.sqrt(before),
        "the loss returned is the one *after* the update. Return the loss that "
        "jax.value_and_grad computed with state.params, before apply_gradients.": float(
            np.mean((predict(new_state.params) - ratings) ** 2)
        ),
    }
    expect(
        value,
        before,
        rtol=1e-4,
        mistakes=mistakes,
        otherwise=(
            f"on a 7-rating test graph the mean squared error with state.params is "
            f"{before:.4f}, but train_step returned {value:.4f}. Compute "
            f"pred = state.apply_fn({{'params': params}}, graph, users, movies) inside loss_fn."
        ),
    )


def _check_step_update(state: TrainState, new_state: TrainState, ref_state: TrainState) -> None:
    """The update is one optimiser step on the gradient, counted in ``state.step``."""
    if _max_diff(new_state.params, state.params) == 0.0:
        raise AssertionError(
            "the parameters did not change. Compute the gradients with "
            "jax.value_and_grad(loss_fn)(state.params) and return "
            "state.apply_gradients(grads=grads)."
        )
    if int(new_state.step) != int(state.step) + 1:
        raise AssertionError(
            f"state.step went from {int(state.step)} to {int(new_state.step)}. Update the "
            f"parameters with state.apply_gradients(grads=grads): it runs the optimiser, keeps "
            f"its state (Adam's moments) and counts the step."
        )
    if _max_diff(new_state.params, ref_state.params) <= 1e-5:
        return
    mirrored = jax.tree_util.tree_map(lambda p, r: 2 * p - r, state.params, ref_state.params)
    if _max_diff(new_state.params, mirrored) < 1e-5:
        raise AssertionError(
            "the parameters moved *up* the gradient: the loss will grow. Pass the gradients "
            "themselves to state.apply_gradients; the optimiser subtracts them."
        )
    raise AssertionError(
        "the update differs from one optimiser step on the gradient of the MSE with "
        "respect to state.params. Use loss, grads = jax.value_and_grad(loss_fn)(state.params)."
    )


def _check_loss_goes_down(step: Callable, state: TrainState, *problem) -> None:
    losses = []
    for _ in range(15):
        state, loss = step(state, *problem)
        losses.append(float(loss))
    if not losses[-1] < losses[0]:
        raise AssertionError(
            f"over 15 steps the loss went from {losses[0]:.3f} to {losses[-1]:.3f}; it "
            f"should go down."
        )


def _test_train_step(fn: Callable) -> None:
    state, *problem = _tiny_problem()
    step = jax.jit(fn)
    new_state, value = _run_train_step(step, state, *problem)
    ref_state, ref_loss = _reference_step(state, *problem)
    _check_step_loss(value, state, new_state, before=float(ref_loss))
    _check_step_update(state, new_state, ref_state)
    _check_loss_goes_down(step, state, *problem)


def check_train_step(fn: Callable) -> Callable:
    """Check Exercise 4.2 ``train_step(state, graph, users, movies, ratings)``."""
    return run_check(
        "4.2",
        fn,
        ref.train_step,
        _test_train_step,
        "train_step runs under jax.jit, returns the loss before the update, advances the "
        "optimiser by one step, and the loss goes down on a tiny graph.",
    )


# --- Exercises 4.3 and 4.4: the two branches of the default model -------------------------

# Users 0-4 and movies 5-8; user 4 and movie 8 have no rating. Every rating is stored in both
# directions, the user -> movie edges first, as build_graph does.
_U, _M = 5, 4
_N = _U + _M
_PAIRS = [(0, 5, 5.0), (0, 6, 1.0), (1, 5, 4.0), (1, 7, 2.0), (2, 6, 1.0), (3, 6, 2.0),
          (3, 7, 5.0), (2, 5, 3.0)]  # fmt: skip
# Every (user, movie) pair is scored: [20] each.
_ALL_USERS = np.repeat(np.arange(_U, dtype=np.int32), _M)
_ALL_MOVIES = np.tile(np.arange(_U, _N, dtype=np.int32), _U)


@functools.cache
def _branch_graph() -> jraph.GraphsTuple:
    """The test graph for exercises 4.3 and 4.4 (edges: the rating of each directed edge)."""
    users = np.array([u for u, _, _ in _PAIRS], dtype=np.int32)
    movies = np.array([m for _, m, _ in _PAIRS], dtype=np.int32)
    ratings = np.array([r for _, _, r in _PAIRS], dtype=np.float32)
    return jraph.GraphsTuple(
        nodes=np.arange(_N, dtype=np.int32)[:, None],
        edges=np.concatenate([ratings, ratings])[:, None],
        senders=np.concatenate([users, movies]),
        receivers=np.concatenate([movies, users]),
        n_node=np.array([_N], dtype=np.int32),
        n_edge=np.array([2 * len(users)], dtype=np.int32),
        globals=None,
    )


def _package_params(num_layers: int) -> dict:
    """``GCNRecommender``'s parameters on the test graph, set to seeded random values.

    (The package initialises the biases at zero and the embeddings small; random values make
    every mistake visible.)
    """
    model = _package_model(num_layers)
    graph = _branch_graph()
    params = model.init(jax.random.key(0), graph, _ALL_USERS[:2], _ALL_MOVIES[:2])["params"]
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(num_layers + 1), len(leaves))
    values = [0.6 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves, strict=True)]
    params = jax.tree_util.tree_unflatten(tree, values)
    return {**params, "mu": jnp.asarray(3.5, jnp.float32)}


_DIM, _HIDDEN = 3, 6


def _package_model(num_layers: int):
    from gnnrec_course.models import GCNRecommender

    return GCNRecommender(
        num_nodes=_N, num_users=_U, embed_dim=_DIM, num_layers=num_layers, rating_hidden=_HIDDEN,
        rating_weight=0.5, rating_mean=3.5,
    )  # fmt: skip


def _package_encode(num_layers: int, params: dict) -> np.ndarray:
    """The package model's ``encode`` output ``[N, D + k]`` with ``params``."""
    model = _package_model(num_layers)
    z = model.apply({"params": params}, _branch_graph(), method=model.encode)
    return np.asarray(z, np.float64)


def _shapes(tree) -> dict[str, tuple]:
    """``{"embed/embedding": (9, 3), ...}`` for a nested parameter dict."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        "/".join(str(getattr(k, "key", k)) for k in path): tuple(np.shape(leaf))
        for path, leaf in flat
    }


def _init_module(module: nn.Module, what: str, expected: dict) -> None:
    """Initialise the learner's module on the test graph; its parameters must be ``expected``."""
    graph = _branch_graph()
    try:
        variables = module.init(jax.random.key(0), graph, _ALL_USERS, _ALL_MOVIES)
    except (NotImplementedError, AssertionError):
        raise
    except flax_errors.FlaxError as error:
        raise AssertionError(
            f"flax could not initialise {what} ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:160]})."
        ) from None
    got = _shapes(variables.get("params", {}))
    want = _shapes(expected)
    if got != want:
        raise AssertionError(
            f"{what} has the parameters {got}; it should have exactly {want} (the names and "
            f"shapes of GCNRecommender's, so that its parameters can be loaded into yours)."
        )


def _apply_module(module: nn.Module, params: dict, what: str) -> np.ndarray:
    out = module.apply({"params": params}, _branch_graph(), _ALL_USERS, _ALL_MOVIES)
    arr = as_array(out, what)
    if arr.shape != _ALL_USERS.shape:
        extra = " Take [:, 0] of the [B, 1] bias lookups." if arr.shape == (20, 1) else ""
        raise AssertionError(
            f"{what} returned shape {arr.shape} for 20 pairs; it should return one score per "
            f"pair, shape (20,).{extra}"
        )
    return arr


def _adjacency() -> np.ndarray:
    """``A`` ``[N, N]`` of the test graph (symmetric, float64)."""
    graph = _branch_graph()
    a = np.zeros((_N, _N))
    np.add.at(a, (graph.receivers, graph.senders), 1.0)
    return a


def _normalised(a: np.ndarray, loops: int) -> np.ndarray:
    """``D^-1/2 (A + loops I) D^-1/2`` with the degrees of ``A + loops I`` (at least 1)."""
    a = a + loops * np.eye(len(a))
    scale = 1.0 / np.sqrt(np.maximum(a.sum(axis=1), 1.0))
    return scale[:, None] * a * scale[None, :]


def _lightgcn_mistakes(num_layers: int, params: dict) -> dict:
    """Hint -> the scores [20] that mistake gives (numpy, from the same parameters)."""
    k = num_layers
    e0 = np.asarray(params["embed"]["embedding"], np.float64)
    bias = np.asarray(params["bias"]["embedding"], np.float64)[:, 0]
    mu = float(params["mu"])
    u, m = _ALL_USERS, _ALL_MOVIES

    def layers(a_hat: np.ndarray, count: int) -> list[np.ndarray]:
        out = [e0]
        for _ in range(count):
            out.append(a_hat @ out[-1])
        return out

    def scores(z: np.ndarray, with_mu: bool = True, with_bias: bool = True) -> np.ndarray:
        dots = np.sum(z[u] * z[m], axis=-1)
        return (mu if with_mu else 0.0) + (bias[u] + bias[m] if with_bias else 0.0) + dots

    good = layers(_normalised(_adjacency(), 1), k)
    z = np.mean(good, axis=0)
    mistakes = {
        "there is no layer mean: you decoded E_K, the output of the last propagation. "
        "Keep every layer, E_0 (the embeddings) included, and average them: "
        "jnp.mean(jnp.stack(layers), axis=0).": scores(good[-1]),
        "you summed the layers; LightGCN averages them (divide by K + 1).": scores(
            np.sum(good, axis=0)
        ),
        "the mean leaves out E_0: average the K + 1 layers E_0, E_1, ..., E_K, the "
        "embeddings before any propagation included.": scores(np.mean(good[1:], axis=0)),
        "the scores use the embeddings E_0 without any propagation; propagate them K times "
        "with gcn_propagate(graph, x) and average the layers.": scores(e0),
        "the self-loops are missing: this propagates with D^-1/2 A D^-1/2. Use "
        "gnnrec_course.models.gcn_propagate, which adds one self-loop per node.": scores(
            np.mean(layers(_normalised(_adjacency(), 0), k), axis=0)
        ),
        "the self-loops are counted twice: gcn_propagate adds one per node itself, so do not "
        "add self-loops to the graph.": scores(
            np.mean(layers(_normalised(_adjacency(), 2), k), axis=0)
        ),
        "one propagation too many: K = num_layers propagations give K + 1 layers in all.": (
            scores(np.mean(layers(_normalised(_adjacency(), 1), k + 1), axis=0))
        ),
        "the biases b_u + b_m are missing: self.bias(users)[:, 0] + self.bias(movies)[:, 0].": (
            scores(z, with_bias=False)
        ),
        "the global bias mu is missing: the score is mu + b_u + b_m + Z_u . Z_m.": scores(
            z, with_mu=False
        ),
        "the scores are clipped to 1..5; return the unclipped score (the package clips "
        "only at inference).": np.clip(scores(z), 1.0, 5.0),
    }
    if k > 1:
        mistakes[
            "one propagation too few: K = num_layers propagations after E_0, so K + 1 layers."
        ] = scores(np.mean(good[:-1], axis=0))
        mistakes["you divided the sum of the K + 1 layers by K; divide by K + 1."] = scores(
            np.sum(good, axis=0) / k
        )
    return mistakes


def _test_lightgcn_branch(cls: Callable) -> None:
    num_layers = 2  # every mistake in _lightgcn_mistakes gives other scores with K = 2
    params = _package_params(num_layers)
    branch_a = {key: params[key] for key in ("embed", "bias", "mu")}
    what = f"{getattr(cls, '__name__', 'LightGCNBranch')}(num_layers={num_layers})"
    module = cls(num_nodes=_N, embed_dim=_DIM, num_layers=num_layers, rating_mean=3.5)
    _init_module(module, what, branch_a)
    out = _apply_module(module, branch_a, what)
    z = _package_encode(num_layers, params)[:, :_DIM]
    bias = np.asarray(params["bias"]["embedding"], np.float64)[:, 0]
    u, m = _ALL_USERS, _ALL_MOVIES
    expected = 3.5 + bias[u] + bias[m] + np.sum(z[u] * z[m], axis=-1)
    expect(
        out,
        expected,
        atol=1e-4,
        mistakes=_lightgcn_mistakes(num_layers, params),
        context=f"with num_layers={num_layers}: ",
        otherwise=(
            f"the scores differ from GCNRecommender's branch A with the same parameters "
            f"(largest difference {np.max(np.abs(out - expected)):.4f}). Z is the mean of "
            f"E_0 and the K propagations gcn_propagate(graph, x); the score is "
            f"mu + b_u + b_m + Z_u . Z_m."
        ),
    )


def check_lightgcn_branch(cls: Callable) -> Callable:
    """Check Exercise 4.3 ``LightGCNBranch``: branch A of ``GCNRecommender``."""
    from gnnrec_course.reference import rating_model

    return run_check(
        "4.3",
        cls,
        rating_model.LightGCNBranch,
        _test_lightgcn_branch,
        "with GCNRecommender's parameters your module gives the package's branch A scores "
        "(K = 2, every user-movie pair of a 9-node graph).",
    )


def _rating_mistakes(params: dict) -> dict:
    """Hint -> the scores [20] that mistake gives (numpy, from the same parameters)."""
    v = np.asarray(params["user_in"], np.float64)
    h = np.asarray(params["hidden_bias"], np.float64)
    w = np.asarray(params["user_out"], np.float64)
    c = np.asarray(params["user_out_bias"], np.float64)
    r = np.zeros((_U, _M))
    for user, movie, rating in _PAIRS:
        r[user, movie - _U] = rating
    rated = (r > 0).astype(np.float64)
    counts = np.maximum(rated.sum(axis=0), 1.0)[:, None]  # raters per movie [M, 1]
    u, m = _ALL_USERS, _ALL_MOVIES - _U

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    def scores(codes, out=w, offset=True):
        return (c[u] if offset else 0.0) + np.sum(out[u] * codes[m], axis=-1)

    good = sigmoid(r.T @ v + h)  # [M, k]
    return {
        "the ratings are not used: every rater adds V_u with the same weight. Multiply each "
        "message by its edge's rating, graph.edges[:, 0] (r_um V_u).": scores(
            sigmoid(rated.T @ v + h)
        ),
        "you averaged the messages over the movie's raters; branch B sums them "
        "(jax.ops.segment_sum, no division).": scores(sigmoid(r.T @ v / counts + h)),
        "the sigmoid is missing: H_m = sigmoid(sum_u r_um V_u + h).": scores(r.T @ v + h),
        "the hidden bias h is missing inside the sigmoid: H_m = sigmoid(sum_u r_um V_u + h).": (
            scores(sigmoid(r.T @ v))
        ),
        "the user offset c_u (user_out_bias) is missing: B(u, m) = c_u + W_u . H_m.": scores(
            good, offset=False
        ),
        "the output uses user_in (V); the score reads the user's output vector W_u "
        "(user_out): c_u + W_u . H_m.": scores(good, out=v),
        "the messages use user_out (W); a movie's code sums the raters' input vectors V_u "
        "(user_in).": scores(sigmoid(r.T @ w + h)),
        "the movie codes are indexed by node id: movies are nodes U..U+M-1, so movie node m "
        "is row m - num_users of H.": (
            c[u] + np.sum(w[u] * good[np.minimum(_ALL_MOVIES, _M - 1)], axis=-1)
        ),
    }


def _test_rating_branch(cls: Callable) -> None:
    params = _package_params(1)
    branch_b = {key: params[key] for key in ("user_in", "hidden_bias", "user_out", "user_out_bias")}
    what = getattr(cls, "__name__", "RatingBranch")
    module = cls(num_users=_U, num_movies=_M, hidden=_HIDDEN)
    _init_module(module, what, branch_b)
    out = _apply_module(module, branch_b, what)
    z = _package_encode(1, params)[:, _DIM:]  # W_u for users, H_m for movies
    u, m = _ALL_USERS, _ALL_MOVIES
    expected = np.asarray(params["user_out_bias"], np.float64)[u] + np.sum(z[u] * z[m], axis=-1)
    expect(
        out,
        expected,
        atol=1e-4,
        mistakes=_rating_mistakes(params),
        otherwise=(
            f"the scores differ from GCNRecommender's branch B with the same parameters "
            f"(largest difference {np.max(np.abs(out - expected)):.4f}). Sum r_um V_u over "
            f"the user -> movie edges (senders < num_users) with jax.ops.segment_sum into "
            f"num_movies rows, add h, apply the sigmoid; the score is c_u + W_u . H_m."
        ),
    )


def check_rating_branch(cls: Callable) -> Callable:
    """Check Exercise 4.4 ``RatingBranch``: branch B of ``GCNRecommender``."""
    from gnnrec_course.reference import rating_model

    return run_check(
        "4.4",
        cls,
        rating_model.RatingBranch,
        _test_rating_branch,
        "with GCNRecommender's parameters your module gives the package's branch B scores "
        "(every user-movie pair of a 9-node graph, a movie without ratings included).",
    )
