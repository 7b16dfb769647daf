"""Self-checks for notebook 04: the masked loss (4.1) and the train step (4.2).

The checks of the default model's two branches (4.3, 4.4) are in
:mod:`gnnrec_course.checks.nb04_branches`.

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

from gnnrec_course.checks.common import as_number, expect, run_check
from gnnrec_course.reference import training_steps as ref

__all__ = ["check_masked_mse", "check_train_step"]


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
