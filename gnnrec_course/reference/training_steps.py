"""Reference implementations for notebook 04 (training).

These are the functions a learner writes in the notebook's exercises. The self-checks in
:mod:`gnnrec_course.checks.nb04` compare the learner's versions against these, and hand these
back when an exercise is skipped so that the rest of the notebook still runs.

Conventions: ``pred``, ``target`` and ``mask`` are arrays ``[E]`` over rating pairs; a mask is
boolean (or 0/1 float) and says which pairs count. ``state`` is a
``flax.training.train_state.TrainState`` holding the model's ``params`` (the ``"params"``
collection, as in :func:`gnnrec_course.training.create_train_state`), and
``state.apply_fn({"params": params}, graph, users, movies)`` returns predicted ratings ``[B]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax.training.train_state import TrainState

__all__ = ["masked_l1", "masked_mse", "train_step"]


def masked_mse(pred: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """Exercise 4.1: mean squared error over the pairs where ``mask`` is set.

    Args:
      pred: predicted ratings ``[E]``.
      target: true ratings ``[E]``.
      mask: bool or 0/1 ``[E]``; only pairs with ``mask`` true count.

    Returns:
      A scalar: ``sum(mask * (pred - target)^2) / sum(mask)``, divided by the number of
      *masked* pairs, never by ``E``; 0 when the mask is empty. Works inside ``jax.jit``
      (no boolean indexing).
    """
    m = jnp.asarray(mask, dtype=jnp.float32)
    squared = (jnp.asarray(pred, jnp.float32) - jnp.asarray(target, jnp.float32)) ** 2
    return jnp.sum(m * squared) / jnp.maximum(jnp.sum(m), 1.0)


def masked_l1(pred: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean absolute error over the masked pairs (same conventions as :func:`masked_mse`)."""
    m = jnp.asarray(mask, dtype=jnp.float32)
    absolute = jnp.abs(jnp.asarray(pred, jnp.float32) - jnp.asarray(target, jnp.float32))
    return jnp.sum(m * absolute) / jnp.maximum(jnp.sum(m), 1.0)


def train_step(
    state: TrainState,
    graph: jraph.GraphsTuple,
    users: jax.Array,
    movies: jax.Array,
    ratings: jax.Array,
) -> tuple[TrainState, jax.Array]:
    """Exercise 4.2: one gradient step on the mean squared error of ``ratings``.

    Args:
      state: the current ``TrainState`` (params, optimiser state, step counter).
      graph: the message-passing graph (an argument, so one compiled step serves any graph
        of the same shapes).
      users, movies: node ids ``[B]`` of the rated pairs.
      ratings: their ratings ``[B]``.

    Returns:
      ``(new_state, loss)``: the state after ``state.apply_gradients`` and the loss (a
      scalar) of the params *before* the update. Jit it with ``jax.jit(train_step)``.
    """

    def loss_fn(params):
        pred = state.apply_fn({"params": params}, graph, users, movies)  # [B]
        return jnp.mean((pred - ratings) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss
