"""The train state, the jitted train and eval steps, and prediction.

The graph is an argument of every jitted function, never a constant captured in a closure, so
XLA compiles each function once per graph *shape* and does not try to constant-fold the graph.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
from flax.training import train_state

from .losses import get_loss

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from ..graph import RatingEdges

__all__ = [
    "TrainState",
    "as_device_graph",
    "create_train_state",
    "edge_arrays",
    "eval_step",
    "evaluate",
    "evaluate_batches",
    "make_optimizer",
    "masked_error_sums",
    "masked_train_step",
    "predict",
    "train_step",
]

Array = jax.Array
TrainState = train_state.TrainState


def as_prng_key(seed: int | Array) -> Array:
    """``PRNGKey(seed)`` for an int seed; a key is returned as it is."""
    return jax.random.PRNGKey(seed) if isinstance(seed, int) else seed


def make_optimizer(learning_rate: float, weight_decay: float = 0.0) -> optax.GradientTransformation:
    """Adam, or AdamW when ``weight_decay > 0``."""
    if weight_decay > 0:
        return optax.adamw(learning_rate, weight_decay=weight_decay)
    return optax.adam(learning_rate)


def create_train_state(
    model: nn.Module,
    graph: jraph.GraphsTuple,
    edges: RatingEdges | None = None,
    *,
    learning_rate: float = 1e-2,
    weight_decay: float = 0.0,
    seed: int | Array = 0,
    tx: optax.GradientTransformation | None = None,
) -> TrainState:
    """Initialise ``model`` on ``graph`` and wrap it with an optimizer in a ``TrainState``.

    Args:
      model: a module with ``__call__(graph, users, movies, train=False)``.
      graph: the message-passing graph (training ratings only).
      edges: training ratings; only a couple of them are used, to trace the decoder.
      learning_rate, weight_decay: for Adam / AdamW (ignored when ``tx`` is given).
      seed: seeds the parameter initialisation (an int or a PRNG key).
      tx: an optax optimizer to use instead.
    """
    if edges is not None and len(edges) > 0:
        users = jnp.asarray(edges.users[:2], dtype=jnp.int32)
        movies = jnp.asarray(edges.movies[:2], dtype=jnp.int32)
    else:
        users = movies = jnp.zeros((1,), dtype=jnp.int32)
    params_key, dropout_key = jax.random.split(as_prng_key(seed))
    variables = model.init(
        {"params": params_key, "dropout": dropout_key}, graph, users, movies, train=False
    )
    tx = tx if tx is not None else make_optimizer(learning_rate, weight_decay)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx)


def _penalty(aux: Any) -> Array:
    """Sum of everything a model ``sow``-ed into its ``losses`` collection (0.0 if nothing)."""
    leaves = jax.tree_util.tree_leaves(aux.get("losses", {}))
    return sum(leaves, jnp.zeros((), jnp.float32))


@partial(jax.jit, static_argnames=("loss",))
def train_step(
    state: TrainState,
    graph: jraph.GraphsTuple,
    users: Array,
    movies: Array,
    ratings: Array,
    dropout_key: Array,
    loss: str = "mse",
) -> tuple[TrainState, Array]:
    """One full-batch gradient step (jitted).

    Args:
      state: the ``TrainState``.
      graph: message-passing graph (an argument, so one compilation serves any same-shaped
        graph).
      users, movies: int32 node ids ``[E]`` of the training ratings; ratings: float32 ``[E]``.
      dropout_key: PRNG key for dropout.
      loss: ``"mse"`` or ``"l1"`` (static).

    Returns ``(new_state, loss)`` where ``loss`` is the data loss before the update, without
    the regularisation terms the model sows.
    """
    loss_fn = get_loss(loss)

    def objective(params):
        pred, aux = state.apply_fn(
            {"params": params},
            graph,
            users,
            movies,
            train=True,
            rngs={"dropout": dropout_key},
            mutable=["losses"],
        )
        data_loss = loss_fn(pred, ratings)
        return data_loss + _penalty(aux), data_loss

    (_, data_loss), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), data_loss


def _accepts_mask(apply_fn: Any) -> bool:
    """Whether the model behind ``apply_fn`` (a bound ``Module.apply``) takes ``mask=``."""
    module = getattr(apply_fn, "__self__", None)
    return module is not None and "mask" in inspect.signature(type(module).__call__).parameters


@partial(jax.jit, static_argnames=("loss",))
def masked_train_step(
    state: TrainState,
    graph: jraph.GraphsTuple,
    users: Array,
    movies: Array,
    ratings: Array,
    mask: Array,
    dropout_key: Array,
    loss: str = "mse",
) -> tuple[TrainState, Array]:
    """One gradient step on a padded batch (jitted once per batch shape).

    ``users``, ``movies`` int32 ``[B]``; ``ratings``, ``mask`` float32 ``[B]`` (0 = padding).
    The data loss is the masked mean; a model whose ``__call__`` takes ``mask`` (the default
    model) also takes masked means of its pair penalties. Under a mesh, pass the batch sharded
    and the state and graph replicated (:mod:`gnnrec_course.training.sharding`): jit
    partitions the step and inserts the gradient all-reduce. Returns ``(new_state, loss)``.
    """
    loss_fn = get_loss(loss)
    extra = {"mask": mask} if _accepts_mask(state.apply_fn) else {}

    def objective(params):
        pred, aux = state.apply_fn(
            {"params": params}, graph, users, movies, train=True,
            rngs={"dropout": dropout_key}, mutable=["losses"], **extra,
        )  # fmt: skip
        data_loss = loss_fn(pred, ratings, mask)
        return data_loss + _penalty(aux), data_loss

    (_, data_loss), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), data_loss


@jax.jit
def _encode(state: TrainState, graph: jraph.GraphsTuple) -> Array:
    return state.apply_fn({"params": state.params}, graph, method="encode")


@jax.jit
def masked_error_sums(
    state: TrainState, z: Array, users: Array, movies: Array, ratings: Array, mask: Array
) -> tuple[Array, Array]:
    """``(sum of squared errors, sum of absolute errors)`` of one padded batch (jitted).

    ``z`` is the model's ``encode`` output ``[N, D]``, computed once per evaluation;
    predictions are the model's clipped ones.
    """
    pred = state.apply_fn({"params": state.params}, z, users, movies, method="decode")
    err = (pred - ratings) * mask
    return jnp.sum(err * err), jnp.sum(jnp.abs(err))


def evaluate_batches(
    state: TrainState,
    graph: jraph.GraphsTuple,
    users: Any,
    movies: Any,
    ratings: Any,
    batch_size: int,
    shard: Any = None,
) -> tuple[float, float]:
    """RMSE and MAE from one ``encode`` and padded ``[batch_size]`` decode batches.

    ``shard``: optional function placing a batch's arrays on devices (a mesh's split).
    """
    from .batches import epoch_batches

    z = _encode(state, graph)
    sq = ab = 0.0
    for batch in epoch_batches(users, movies, ratings, batch_size, seed=None):
        arrays = shard(*batch) if shard is not None else batch
        s, a = masked_error_sums(state, z, *arrays)
        sq, ab = sq + float(s), ab + float(a)
    n = max(1, len(ratings))
    return float(np.sqrt(sq / n)), ab / n


@jax.jit
def eval_step(
    state: TrainState, graph: jraph.GraphsTuple, users: Array, movies: Array, ratings: Array
) -> tuple[Array, Array]:
    """RMSE and MAE (device scalars) of the model's predictions on the given ratings (jitted)."""
    pred = state.apply_fn({"params": state.params}, graph, users, movies, train=False)
    err = pred - ratings
    return jnp.sqrt(jnp.mean(jnp.square(err))), jnp.mean(jnp.abs(err))


@jax.jit
def _predict_state(state: TrainState, graph: jraph.GraphsTuple, users: Array, movies: Array):
    return state.apply_fn({"params": state.params}, graph, users, movies, train=False)


@partial(jax.jit, static_argnums=0)
def _predict_model(model: nn.Module, params: Any, graph: jraph.GraphsTuple, users, movies):
    return model.apply({"params": params}, graph, users, movies, train=False)


def predict(
    state_or_model: TrainState | nn.Module,
    graph: jraph.GraphsTuple,
    users: Any,
    movies: Any,
    params: Any = None,
) -> np.ndarray:
    """Predicted ratings ``[B]`` (float32 numpy) for node ids ``users``, ``movies`` ``[B]``.

    Pass a ``TrainState``, or a model together with its ``params``.
    """
    users = jnp.asarray(users, dtype=jnp.int32)
    movies = jnp.asarray(movies, dtype=jnp.int32)
    if isinstance(state_or_model, nn.Module):
        if params is None:
            raise ValueError("predict(model, ...) needs params=...; or pass a TrainState.")
        params = params.get("params", params) if isinstance(params, dict) else params
        out = _predict_model(state_or_model, params, graph, users, movies)
    else:
        state = state_or_model if params is None else state_or_model.replace(params=params)
        out = _predict_state(state, graph, users, movies)
    return np.asarray(out, dtype=np.float32)


def evaluate(state: TrainState, graph: jraph.GraphsTuple, edges: RatingEdges) -> dict[str, float]:
    """``{"rmse", "mae"}`` of the model on ``edges`` (predictions from ``graph``)."""
    rmse, mae = eval_step(state, graph, *edge_arrays(edges))
    return {"rmse": float(rmse), "mae": float(mae)}


def as_device_graph(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """The same graph with every array moved to the device once (not at every step)."""
    return jax.tree_util.tree_map(jnp.asarray, graph)


def edge_arrays(edges: RatingEdges) -> tuple[Array, Array, Array]:
    """``(users int32 [E], movies int32 [E], ratings float32 [E])`` on the device."""
    return (
        jnp.asarray(edges.users, dtype=jnp.int32),
        jnp.asarray(edges.movies, dtype=jnp.int32),
        jnp.asarray(edges.ratings, dtype=jnp.float32),
    )
