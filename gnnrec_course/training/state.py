"""Losses, train state, jitted train/eval steps and the ``fit`` loop.

Training is full-batch: every epoch is one gradient step on all training ratings, which on
ml-100k (~80k ratings, ~2.6k nodes) takes milliseconds once compiled. The graph is an argument
of every jitted function, never a constant captured in a closure, so XLA compiles each function
once per graph *shape* and does not try to constant-fold the graph.

Typical use::

    result = fit(model, graph, train_edges, val_edges, epochs=300, learning_rate=1e-2)
    preds = predict(result.state, graph, test_edges.users, test_edges.movies)
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
from flax.training import train_state

from ..errors import TrainingDivergedError
from ..models import default_model, tutorial_model

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    import pandas as pd

    from ..data import MovieLens
    from ..graph import IdMaps, RatingEdges, RatingSplit

__all__ = [
    "TrainState",
    "masked_l1_loss",
    "masked_mse_loss",
    "LOSSES",
    "create_train_state",
    "train_step",
    "eval_step",
    "predict",
    "evaluate",
    "fit",
    "FitResult",
    "TrainResult",
    "train_default",
    "DEFAULT_HPARAMS",
    "TUTORIAL_HPARAMS",
    "MODEL_NAMES",
    "as_device_graph",
    "build_model",
    "make_optimizer",
    "machine_info",
]

Array = jax.Array
TrainState = train_state.TrainState


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def _mask_or_ones(target: Array, mask: Array | None) -> Array:
    if mask is None:
        return jnp.ones_like(target, dtype=jnp.float32)
    return jnp.asarray(mask, dtype=jnp.float32)


def masked_l1_loss(pred: Array, target: Array, mask: Array | None = None) -> Array:
    """Mean absolute error over the edges where ``mask`` is 1.

    ``pred``, ``target``, ``mask``: ``[E]``. The sum is divided by the number of masked edges
    (``mask.sum()``), not by ``E``: dividing by all edges, as the original tutorial did, makes
    the loss, and the gradient, shrink with the share of masked edges. Returns a scalar; 0.0
    when no edge is masked. ``mask=None`` means every edge.
    """
    mask = _mask_or_ones(target, mask)
    return jnp.sum(jnp.abs(pred - target) * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def masked_mse_loss(pred: Array, target: Array, mask: Array | None = None) -> Array:
    """Mean squared error over the edges where ``mask`` is 1 (divided by ``mask.sum()``).

    ``pred``, ``target``, ``mask``: ``[E]``; returns a scalar (0.0 when nothing is masked).
    """
    mask = _mask_or_ones(target, mask)
    return jnp.sum(jnp.square(pred - target) * mask) / jnp.maximum(jnp.sum(mask), 1.0)


LOSSES: dict[str, Callable[..., Array]] = {"mse": masked_mse_loss, "l1": masked_l1_loss}


def _loss_fn(name: str) -> Callable[..., Array]:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"Unknown loss {name!r}: use one of {sorted(LOSSES)}.") from None


# --------------------------------------------------------------------------------------------
# State and jitted steps
# --------------------------------------------------------------------------------------------


def _key(seed: int | Array) -> Array:
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
    seed: int = 0,
    tx: optax.GradientTransformation | None = None,
) -> TrainState:
    """Initialise ``model`` on ``graph`` and wrap it with an optimizer in a ``TrainState``.

    Args:
      model: a module with ``__call__(graph, users, movies, train=False)``.
      graph: the message-passing graph (training ratings only).
      edges: training ratings; only a couple of them are used, to trace the decoder.
      learning_rate, weight_decay: for Adam / AdamW (ignored when ``tx`` is given).
      seed: seeds the parameter initialisation.
      tx: an optax optimizer to use instead.
    """
    if edges is not None and len(edges) > 0:
        users = jnp.asarray(edges.users[:2], dtype=jnp.int32)
        movies = jnp.asarray(edges.movies[:2], dtype=jnp.int32)
    else:
        users = movies = jnp.zeros((1,), dtype=jnp.int32)
    params_key, dropout_key = jax.random.split(_key(seed))
    variables = model.init(
        {"params": params_key, "dropout": dropout_key}, graph, users, movies, train=False
    )
    tx = tx if tx is not None else make_optimizer(learning_rate, weight_decay)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx)


def _penalty(aux: Any) -> Array:
    """Sum of everything a model ``sow``-ed into its ``losses`` collection (0.0 if nothing)."""
    leaves = jax.tree_util.tree_leaves(aux.get("losses", {}))
    return sum(leaves, jnp.zeros((), jnp.float32))


def _train_step(
    state: TrainState,
    graph: jraph.GraphsTuple,
    users: Array,
    movies: Array,
    ratings: Array,
    dropout_key: Array,
    loss: str = "mse",
) -> tuple[TrainState, Array]:
    loss_fn = _loss_fn(loss)

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


train_step = jax.jit(_train_step, static_argnames=("loss",))
train_step.__doc__ = """One full-batch gradient step (jitted).

Args:
  state: the ``TrainState``.
  graph: message-passing graph (an argument, so one compilation serves any same-shaped graph).
  users, movies: int32 node ids ``[E]`` of the training ratings; ratings: float32 ``[E]``.
  dropout_key: PRNG key for dropout.
  loss: ``"mse"`` or ``"l1"`` (static).

Returns ``(new_state, loss)`` where ``loss`` is the data loss before the update, without the
regularisation terms the model sows.
"""


@jax.jit
def _eval_arrays(
    state: TrainState, graph: jraph.GraphsTuple, users: Array, movies: Array, ratings: Array
) -> tuple[Array, Array]:
    pred = state.apply_fn({"params": state.params}, graph, users, movies, train=False)
    err = pred - ratings
    return jnp.sqrt(jnp.mean(jnp.square(err))), jnp.mean(jnp.abs(err))


def eval_step(
    state: TrainState, graph: jraph.GraphsTuple, users: Array, movies: Array, ratings: Array
) -> tuple[Array, Array]:
    """RMSE and MAE (device scalars) of the model's predictions on the given ratings (jitted)."""
    return _eval_arrays(state, graph, users, movies, ratings)


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
    rmse, mae = eval_step(state, graph, *_edge_arrays(edges))
    return {"rmse": float(rmse), "mae": float(mae)}


def as_device_graph(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """The same graph with every array moved to the device once (not at every step)."""
    return jax.tree_util.tree_map(jnp.asarray, graph)


def _edge_arrays(edges: RatingEdges) -> tuple[Array, Array, Array]:
    return (
        jnp.asarray(edges.users, dtype=jnp.int32),
        jnp.asarray(edges.movies, dtype=jnp.int32),
        jnp.asarray(edges.ratings, dtype=jnp.float32),
    )


# --------------------------------------------------------------------------------------------
# The fit loop
# --------------------------------------------------------------------------------------------


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
      state: ``TrainState`` holding the best parameters (lowest validation RMSE).
      history: per evaluated epoch: ``"epoch"``, ``"train_loss"``, ``"val_rmse"``, ``"val_mae"``.
      best_epoch: epoch (1-based) of the best validation RMSE.
      best_val_rmse: that RMSE.
      epochs_run: epochs actually run (fewer than asked when early stopping kicked in).
      seconds: wall time of the loop, compilation included.
      stopped_early: whether patience ran out.
    """

    state: TrainState
    history: dict[str, list[float]]
    best_epoch: int
    best_val_rmse: float
    epochs_run: int
    seconds: float
    stopped_early: bool = False

    @property
    def params(self) -> Any:
        return self.state.params


def _diverged(epoch: int, loss: float, learning_rate: float | None) -> TrainingDivergedError:
    lr = f" (now {learning_rate:g})" if learning_rate is not None else ""
    return TrainingDivergedError(
        f"Training diverged at epoch {epoch}: the loss is {loss}. "
        f"Lower the learning rate{lr}, or check the ratings and features for NaN/inf."
    )


def fit(
    model: nn.Module,
    graph: jraph.GraphsTuple,
    train: RatingEdges,
    val: RatingEdges | None = None,
    *,
    epochs: int = 300,
    learning_rate: float = 1e-2,
    weight_decay: float = 0.0,
    patience: int | None = 50,
    seed: int = 0,
    loss: str = "mse",
    eval_every: int = 1,
    progress: bool = True,
    state: TrainState | None = None,
    tx: optax.GradientTransformation | None = None,
    desc: str = "training",
) -> FitResult:
    """Train ``model`` full-batch on ``train`` with early stopping on validation RMSE.

    Args:
      model: a flax module (``GCNRecommender``, ``TutorialGCN``, ...).
      graph: message-passing graph built from the *training* ratings only.
      train, val: ``RatingEdges``; without ``val`` there is no early stopping and the last
        parameters are kept.
      epochs: maximum number of full-batch steps.
      learning_rate, weight_decay: Adam (AdamW if ``weight_decay > 0``); or pass ``tx``.
      patience: stop after this many epochs without a better validation RMSE (None: never).
      seed: seeds initialisation and dropout; the same seed gives the same result.
      loss: ``"mse"`` or ``"l1"`` (masked means, divided by the number of ratings).
      eval_every: evaluate the validation RMSE every this many epochs.
      progress: show a ``tqdm`` bar with the loss and validation RMSE.
      state: continue from this ``TrainState`` instead of initialising a new one.
      desc: label of the progress bar.

    Raises:
      TrainingDivergedError: when the loss becomes NaN or infinite.
    """
    from tqdm.auto import tqdm

    _loss_fn(loss)  # fail fast on a bad name
    graph = as_device_graph(graph)
    key = _key(seed)
    init_key, key = jax.random.split(key)
    if state is None:
        state = create_train_state(
            model, graph, train, learning_rate=learning_rate, weight_decay=weight_decay,
            seed=init_key, tx=tx,
        )  # fmt: skip
    tu, tm, tr = _edge_arrays(train)
    val_arrays = _edge_arrays(val) if val is not None and len(val) > 0 else None

    history: dict[str, list[float]] = {
        "epoch": [], "train_loss": [], "val_rmse": [], "val_mae": []
    }  # fmt: skip
    best_params, best_epoch, best_rmse = state.params, 0, math.inf
    stopped_early = False
    epoch = 0
    start = time.perf_counter()
    bar = tqdm(total=epochs, desc=desc, disable=not progress, leave=True)
    try:
        for epoch in range(1, epochs + 1):
            key, dropout_key = jax.random.split(key)
            state, loss_value = train_step(state, graph, tu, tm, tr, dropout_key, loss=loss)
            bar.update(1)
            if epoch % eval_every and epoch != epochs:
                continue
            train_loss = float(loss_value)
            if not math.isfinite(train_loss):
                raise _diverged(epoch, train_loss, learning_rate if tx is None else None)
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            if val_arrays is None:
                history["val_rmse"].append(math.nan)
                history["val_mae"].append(math.nan)
                best_params, best_epoch = state.params, epoch
                bar.set_postfix(loss=f"{train_loss:.4f}", refresh=False)
                continue
            rmse, mae = (float(v) for v in eval_step(state, graph, *val_arrays))
            history["val_rmse"].append(rmse)
            history["val_mae"].append(mae)
            if rmse < best_rmse:
                best_params, best_epoch, best_rmse = state.params, epoch, rmse
            bar.set_postfix(
                loss=f"{train_loss:.4f}", val_rmse=f"{rmse:.4f}", best=f"{best_rmse:.4f}",
                refresh=False,
            )  # fmt: skip
            if patience is not None and epoch - best_epoch >= patience:
                stopped_early = True
                break
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    return FitResult(
        state=state.replace(params=best_params),
        history=history,
        best_epoch=best_epoch,
        best_val_rmse=best_rmse if val_arrays is not None else math.nan,
        epochs_run=epoch,
        seconds=seconds,
        stopped_early=stopped_early,
    )


# --------------------------------------------------------------------------------------------
# One call: data -> split -> graph -> model -> fit -> test metrics
# --------------------------------------------------------------------------------------------

#: Hyper-parameters of the default model and its training (see ``benchmarks/RESULTS.md``).
#: Chosen on the *validation* RMSE of ml-100k u1 and random seed 0: K = 3 beat 0-2 and 4;
#: D = 64 or dropout changed less than 0.001 at twice the cost; l2 = 0.01 beat 0.003-0.03;
#: k = 300 / rating_l2 = 30 beat 100-500 / 10-100; w = 0.6 was a hair better than 0.5 or 0.7;
#: lr 1e-2 reaches the best epoch (~130) in about as many steps as 5e-3 needs for 200+.
DEFAULT_HPARAMS: dict[str, Any] = {
    "model": {"embed_dim": 32, "num_layers": 3, "l2": 0.01, "bias_l2": 0.001, "dropout": 0.0,
              "rating_hidden": 300, "rating_l2": 30.0, "rating_weight": 0.6},
    "fit": {"epochs": 500, "learning_rate": 1e-2, "weight_decay": 0.0, "patience": 30,
            "loss": "mse"},
}  # fmt: skip

#: The tutorial's first model, trained as the tutorial did (Adam 1e-3, L1 loss, 100 epochs).
TUTORIAL_HPARAMS: dict[str, Any] = {
    "model": {"embed_dim": 64, "hidden": (64,)},
    "fit": {"epochs": 100, "learning_rate": 1e-3, "weight_decay": 0.0, "patience": None,
            "loss": "l1"},
}  # fmt: skip

MODEL_NAMES = ("default", "tutorial")


@dataclass
class TrainResult:
    """What :func:`train_default` returns (and ``gnnrec-course train --json`` prints).

    ``params`` are the best (early-stopped) parameters; ``graph`` is the training graph the
    model reads; ``maps`` the id maps; ``split`` the ``RatingSplit``.
    """

    dataset: str
    split_name: str
    seed: int
    model_name: str
    model: nn.Module
    params: Any
    graph: jraph.GraphsTuple
    maps: IdMaps
    split: RatingSplit
    history: dict[str, list[float]]
    val_rmse: float
    test_rmse: float
    test_mae: float
    epochs_run: int
    best_epoch: int
    train_seconds: float
    rating_min: float
    rating_max: float
    hparams: dict[str, Any] = field(default_factory=dict)

    def predict(self, users: Any, movies: Any) -> np.ndarray:
        """Predicted ratings ``[B]`` for node ids ``users``, ``movies``."""
        return predict(self.model, self.graph, users, movies, params=self.params)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready fields of ``gnnrec-course train --json`` (without baselines)."""
        return {
            "dataset": self.dataset,
            "split": self.split_name,
            "seed": self.seed,
            "model": self.model_name,
            "epochs_run": self.epochs_run,
            "train_seconds": round(self.train_seconds, 3),
            "val_rmse": round(self.val_rmse, 4),
            "test_rmse": round(self.test_rmse, 4),
            "test_mae": round(self.test_mae, 4),
        }


def build_model(
    name: str,
    num_nodes: int,
    rating_min: float,
    rating_max: float,
    train_ratings: pd.DataFrame | None = None,
    *,
    num_users: int | None = None,
    **overrides,
) -> nn.Module:
    """``"default"`` -> :func:`default_model`, ``"tutorial"`` -> :func:`tutorial_model`."""
    if name == "default":
        kwargs = {**DEFAULT_HPARAMS["model"], **overrides}
        mean = None if train_ratings is None else float(train_ratings["rating"].mean())
        return default_model(
            num_nodes, rating_min, rating_max, num_users=num_users, rating_mean=mean, **kwargs
        )
    if name == "tutorial":
        kwargs = {**TUTORIAL_HPARAMS["model"], **overrides}
        return tutorial_model(num_nodes, rating_min, rating_max, **kwargs)
    raise ValueError(f"Unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}.")


def train_default(
    dataset: MovieLens,
    split: str = "random",
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    model: str = "default",
    **fit_overrides,
) -> TrainResult:
    """Split ``dataset``, build the training graph, train a model and score it on the test set.

    Args:
      dataset: a loaded ``MovieLens`` (``gnnrec_course.data.load_dataset``).
      split: ``"random"`` (seeded 80/10/10) or, for ml-100k, ``"u1"``..``"u5"``.
      seed: seeds the split (random split, validation part of uN.base) and the training.
      epochs: maximum epochs (default: the model's tuned budget; early stopping may end sooner).
      progress: show a progress bar.
      model: ``"default"`` (:class:`GCNRecommender`) or ``"tutorial"`` (:class:`TutorialGCN`).
      **fit_overrides: passed to :func:`fit` (``learning_rate``, ``patience``, ...).
    """
    from ..graph import build_graph, build_id_maps, load_split, rating_edges

    if model not in MODEL_NAMES:
        raise ValueError(f"Unknown model {model!r}: use one of {', '.join(MODEL_NAMES)}.")
    hp = DEFAULT_HPARAMS if model == "default" else TUTORIAL_HPARAMS
    fit_kwargs = {**hp["fit"], **fit_overrides}
    if epochs is not None:
        fit_kwargs["epochs"] = int(epochs)

    maps = build_id_maps(dataset.ratings, name=dataset.name)
    rating_split = load_split(dataset, split, seed=seed)
    graph = build_graph(rating_split.train, maps)
    train_edges = rating_edges(rating_split.train, maps)
    val_edges = rating_edges(rating_split.val, maps)
    test_edges = rating_edges(rating_split.test, maps)
    rating_min, rating_max = float(dataset.rating_min), float(dataset.rating_max)
    net = build_model(
        model, maps.num_nodes, rating_min, rating_max, rating_split.train,
        num_users=maps.num_users,
    )  # fmt: skip

    result = fit(
        net, graph, train_edges, val_edges, seed=seed, progress=progress,
        desc=f"{model} on {dataset.name}/{split}", **fit_kwargs,
    )  # fmt: skip
    test = evaluate(result.state, graph, test_edges)
    val_rmse = result.best_val_rmse
    if not math.isfinite(val_rmse):
        val_rmse = evaluate(result.state, graph, val_edges)["rmse"]
    return TrainResult(
        dataset=dataset.name,
        split_name=split,
        seed=seed,
        model_name=model,
        model=net,
        params=result.state.params,
        graph=graph,
        maps=maps,
        split=rating_split,
        history=result.history,
        val_rmse=float(val_rmse),
        test_rmse=test["rmse"],
        test_mae=test["mae"],
        epochs_run=result.epochs_run,
        best_epoch=result.best_epoch,
        train_seconds=result.seconds,
        rating_min=rating_min,
        rating_max=rating_max,
        hparams={"model": hp["model"], "fit": fit_kwargs},
    )


def machine_info() -> dict[str, str]:
    """Python/JAX/flax versions and the CPU, for benchmark reports."""
    import flax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "devices": ", ".join(str(d) for d in jax.devices()),
    }
