"""The self-checks of notebook 04 reject wrong answers, skip stubs and pass the reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnrec_course.checks import nb04
from gnnrec_course.reference import training_steps as ref

# --- deliberately wrong implementations -------------------------------------------------


def mse_divide_by_all(pred, target, mask):
    return jnp.sum(mask * (pred - target) ** 2) / pred.shape[0]


def mse_ignores_mask(pred, target, mask):
    return jnp.mean((pred - target) ** 2)


def mse_is_l1(pred, target, mask):
    return jnp.sum(mask * jnp.abs(pred - target)) / jnp.sum(mask)


def mse_is_rmse(pred, target, mask):
    return jnp.sqrt(jnp.sum(mask * (pred - target) ** 2) / jnp.sum(mask))


def mse_no_division(pred, target, mask):
    return jnp.sum(mask * (pred - target) ** 2)


def mse_inverted_mask(pred, target, mask):
    keep = 1.0 - mask
    return jnp.sum(keep * (pred - target) ** 2) / jnp.sum(keep)


def mse_boolean_indexing(pred, target, mask):
    """Right values outside jit, but boolean indexing fails inside it."""
    return jnp.mean((pred[mask] - target[mask]) ** 2)


def mse_nan_on_empty(pred, target, mask):
    return jnp.sum(mask * (pred - target) ** 2) / jnp.sum(mask)


def mse_per_pair(pred, target, mask):
    return mask * (pred - target) ** 2


def mse_no_return(pred, target, mask):
    jnp.sum(mask * (pred - target) ** 2)


def _loss_fn(state, graph, users, movies, ratings, kind="mse"):
    def loss_fn(params):
        pred = state.apply_fn({"params": params}, graph, users, movies)
        if kind == "l1":
            return jnp.mean(jnp.abs(pred - ratings))
        return jnp.mean((pred - ratings) ** 2)

    return loss_fn


def step_l1(state, graph, users, movies, ratings):
    loss, grads = jax.value_and_grad(_loss_fn(state, graph, users, movies, ratings, "l1"))(
        state.params
    )
    return state.apply_gradients(grads=grads), loss


def step_forgets_update(state, graph, users, movies, ratings):
    loss = _loss_fn(state, graph, users, movies, ratings)(state.params)
    return state, loss


def step_loss_after_update(state, graph, users, movies, ratings):
    loss_fn = _loss_fn(state, graph, users, movies, ratings)
    grads = jax.grad(loss_fn)(state.params)
    new_state = state.apply_gradients(grads=grads)
    return new_state, loss_fn(new_state.params)


def step_ascent(state, graph, users, movies, ratings):
    loss, grads = jax.value_and_grad(_loss_fn(state, graph, users, movies, ratings))(state.params)
    grads = jax.tree_util.tree_map(lambda g: -g, grads)
    return state.apply_gradients(grads=grads), loss


def step_manual_sgd(state, graph, users, movies, ratings):
    """Moves the params by hand: the optimiser state and step counter stay behind."""
    loss, grads = jax.value_and_grad(_loss_fn(state, graph, users, movies, ratings))(state.params)
    params = jax.tree_util.tree_map(lambda p, g: p - 0.05 * g, state.params, grads)
    return state.replace(params=params), loss


def step_swapped(state, graph, users, movies, ratings):
    new_state, loss = ref.train_step(state, graph, users, movies, ratings)
    return loss, new_state


def step_float_loss(state, graph, users, movies, ratings):
    new_state, loss = ref.train_step(state, graph, users, movies, ratings)
    return new_state, float(loss)


def step_rmse(state, graph, users, movies, ratings):
    new_state, loss = ref.train_step(state, graph, users, movies, ratings)
    return new_state, jnp.sqrt(loss)


def step_unwrapped_params(state, graph, users, movies, ratings):
    def loss_fn(params):
        return jnp.mean((state.apply_fn(params, graph, users, movies) - ratings) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


def step_no_return(state, graph, users, movies, ratings):
    ref.train_step(state, graph, users, movies, ratings)


def stop_argmax(history, patience):
    h = np.asarray(history, dtype=float)
    return h.size > 0 and h.size - 1 - int(np.argmax(h)) >= patience


def stop_strict(history, patience):
    h = np.asarray(history, dtype=float)
    return h.size > 0 and h.size - 1 - int(np.argmin(h)) > patience


def stop_vs_previous(history, patience):
    """Stops after `patience` epochs that were each worse than the epoch before."""
    h = list(history)
    if len(h) <= patience:
        return False
    return all(h[-i] >= h[-i - 1] for i in range(1, patience + 1))


def stop_ties_improve(history, patience):
    h = np.asarray(history, dtype=float)
    if h.size == 0:
        return False
    best = h.size - 1 - int(np.argmin(h[::-1]))  # last occurrence of the minimum
    return h.size - 1 - best >= patience


def stop_crashes_on_empty(history, patience):
    h = np.asarray(history, dtype=float)
    return h.size - 1 - int(np.argmin(h)) >= patience


def stop_no_return(history, patience):
    stop = len(history) > patience  # noqa: F841 - forgets to return it


CHECKS = [
    ("4.1", nb04.check_masked_mse, ref.masked_mse),
    ("4.2", nb04.check_train_step, ref.train_step),
    ("4.3", nb04.check_should_stop, ref.should_stop),
]

WRONG = [
    ("4.1", nb04.check_masked_mse, mse_divide_by_all, "number of masked pairs"),
    ("4.1", nb04.check_masked_mse, mse_ignores_mask, "mask is ignored"),
    ("4.1", nb04.check_masked_mse, mse_is_l1, "L1"),
    ("4.1", nb04.check_masked_mse, mse_is_rmse, "RMSE"),
    ("4.1", nb04.check_masked_mse, mse_no_division, "divide it by mask.sum()"),
    ("4.1", nb04.check_masked_mse, mse_inverted_mask, "outside"),
    ("4.1", nb04.check_masked_mse, mse_boolean_indexing, "inside jax.jit"),
    ("4.1", nb04.check_masked_mse, mse_nan_on_empty, "empty mask"),
    ("4.1", nb04.check_masked_mse, mse_per_pair, "shape"),
    ("4.1", nb04.check_masked_mse, mse_no_return, "return"),
    ("4.2", nb04.check_train_step, step_l1, "L1"),
    ("4.2", nb04.check_train_step, step_forgets_update, "did not change"),
    ("4.2", nb04.check_train_step, step_loss_after_update, "after"),
    ("4.2", nb04.check_train_step, step_ascent, "up"),
    ("4.2", nb04.check_train_step, step_manual_sgd, "apply_gradients"),
    ("4.2", nb04.check_train_step, step_swapped, "wrong way round"),
    ("4.2", nb04.check_train_step, step_float_loss, "inside jax.jit"),
    ("4.2", nb04.check_train_step, step_rmse, "RMSE"),
    ("4.2", nb04.check_train_step, step_no_return, "None"),
    ("4.2", nb04.check_train_step, step_unwrapped_params, "{'params': params}"),
    ("4.3", nb04.check_should_stop, stop_argmax, "smallest"),
    ("4.3", nb04.check_should_stop, stop_strict, "not >"),
    ("4.3", nb04.check_should_stop, stop_vs_previous, "best value"),
    ("4.3", nb04.check_should_stop, stop_ties_improve, "equal to the best"),
    ("4.3", nb04.check_should_stop, stop_crashes_on_empty, "empty history"),
    ("4.3", nb04.check_should_stop, stop_no_return, "None"),
]


def test_masked_losses_do_not_depend_on_mask_sparsity():
    pred = jnp.full(100, 4.0)
    target = jnp.full(100, 3.0)
    for k in (1, 10, 100):
        mask = jnp.arange(100) < k
        assert float(ref.masked_mse(pred, target, mask)) == pytest.approx(1.0)
        assert float(ref.masked_l1(pred, target, mask)) == pytest.approx(1.0)
    assert float(ref.masked_mse(pred, target, jnp.zeros(100, bool))) == 0.0


def test_reference_train_step_lowers_the_loss():
    state, graph, users, movies, ratings = nb04._tiny_problem()
    step = jax.jit(ref.train_step)
    state, first = step(state, graph, users, movies, ratings)
    for _ in range(20):
        state, loss = step(state, graph, users, movies, ratings)
    assert float(loss) < float(first)
    assert int(state.step) == 21
