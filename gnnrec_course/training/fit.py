"""The ``fit`` loop: full-batch or mini-batch training, a progress bar and early stopping.

By default every epoch is one gradient step on all training ratings, which on ml-100k (~80k
ratings, ~2.6k nodes) takes milliseconds once compiled. ``batch_size`` splits an epoch into
fixed-shape padded batches (one compilation); ``devices`` splits each batch over a 1-D mesh
of devices (:mod:`gnnrec_course.training.sharding`). The defaults of :func:`fit` are
:class:`~gnnrec_course.config.TrainConfig`'s (the default model's training).

Typical use::

    result = fit(model, graph, train_edges, val_edges, epochs=300, learning_rate=1e-2)
    preds = predict(result.state, graph, test_edges.users, test_edges.movies)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jraph
import optax

from ..config import TrainConfig
from ..errors import TrainingDivergedError
from ..models.edge_ops import sort_by_receiver
from ..progress import finish, progress_bar
from .batches import epoch_batches
from .losses import get_loss
from .sharding import data_mesh, replicate, round_up, shard_batch
from .state import (
    TrainState,
    as_device_graph,
    as_prng_key,
    create_train_state,
    edge_arrays,
    eval_step,
    evaluate_batches,
    masked_train_step,
    train_step,
)

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from ..graph import RatingEdges

__all__ = ["FitResult", "fit"]

_DEFAULTS = TrainConfig()
HISTORY_KEYS = ("epoch", "train_loss", "val_rmse", "val_mae")


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


@dataclass
class _Record:
    """The history so far and the best parameters seen (the last ones without validation)."""

    params: Any
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    best_epoch: int = 0
    best_rmse: float = math.inf

    def add(self, epoch: int, train_loss: float, val: tuple[float, float] | None, params) -> None:
        rmse, mae = val if val is not None else (math.nan, math.nan)
        for key, value in zip(HISTORY_KEYS, (epoch, train_loss, rmse, mae), strict=True):
            self.history[key].append(value)
        if val is None or rmse < self.best_rmse:
            self.params, self.best_epoch = params, epoch
            self.best_rmse = rmse if val is not None else self.best_rmse

    def postfix(self) -> dict[str, str]:
        """What the progress bar shows after the loss."""
        out = {"loss": f"{self.history['train_loss'][-1]:.4f}"}
        if math.isfinite(self.history["val_rmse"][-1]):
            out["val_rmse"] = f"{self.history['val_rmse'][-1]:.4f}"
            out["best"] = f"{self.best_rmse:.4f}"
        return out


def _diverged(epoch: int, loss: float, learning_rate: float | None) -> TrainingDivergedError:
    lr = f" (now {learning_rate:g})" if learning_rate is not None else ""
    return TrainingDivergedError(
        f"Training diverged at epoch {epoch}: the loss is {loss}. "
        f"Lower the learning rate{lr}, or check the ratings and features for NaN/inf."
    )


def _evaluated(epoch: int, config: TrainConfig) -> bool:
    """Whether ``epoch`` (1-based) is one where the loss and validation RMSE are read."""
    return epoch % config.eval_every == 0 or epoch == config.epochs


def fit(
    model: nn.Module,
    graph: jraph.GraphsTuple,
    train: RatingEdges,
    val: RatingEdges | None = None,
    *,
    epochs: int = _DEFAULTS.epochs,
    learning_rate: float = _DEFAULTS.learning_rate,
    weight_decay: float = _DEFAULTS.weight_decay,
    patience: int | None = _DEFAULTS.patience,
    loss: str = _DEFAULTS.loss,
    eval_every: int = _DEFAULTS.eval_every,
    batch_size: int | None = _DEFAULTS.batch_size,
    devices: int | None = None,
    seed: int = 0,
    progress: bool = True,
    state: TrainState | None = None,
    tx: optax.GradientTransformation | None = None,
    desc: str = "training",
) -> FitResult:
    """Train ``model`` on ``train`` with early stopping on validation RMSE.

    Args:
      model: a flax module (``GCNRecommender``, ``TutorialGCN``, ...).
      graph: message-passing graph built from the *training* ratings only.
        ``fit`` trains on a copy with each half of the edges sorted by receiver
        (:func:`~gnnrec_course.models.edge_ops.sort_by_receiver`: faster scatters, same model).
      train, val: ``RatingEdges``; without ``val`` there is no early stopping and the last
        parameters are kept.
      epochs, learning_rate, weight_decay, patience, loss, eval_every, batch_size: the fields
        of :class:`~gnnrec_course.config.TrainConfig` (same defaults); pass ``tx`` to use
        another optax optimizer than Adam / AdamW. An epoch is ``ceil(E / batch_size)`` steps.
      devices: split every batch over this many devices (data parallel: the state and graph
        are replicated, each device decodes its share of the batch, jit all-reduces the
        gradients; every device still encodes the whole graph). ``None``: no mesh.
      seed: seeds initialisation and dropout; the same seed gives the same result.
      progress: show a ``tqdm`` bar with the loss and validation RMSE.
      state: continue from this ``TrainState`` instead of initialising a new one.
      desc: label of the progress bar.

    Raises:
      ConfigError: for an unknown loss or a setting out of range (``epochs < 1``, ...).
      TrainingDivergedError: when the loss becomes NaN or infinite.
    """
    config = TrainConfig(
        epochs, learning_rate, weight_decay, patience, loss, eval_every, batch_size
    )
    get_loss(config.loss)  # fail fast on a bad name
    graph = as_device_graph(sort_by_receiver(graph))  # edge order: speed only
    init_key, key = jax.random.split(as_prng_key(seed))
    if state is None:
        state = create_train_state(
            model, graph, train, learning_rate=learning_rate, weight_decay=weight_decay,
            seed=init_key, tx=tx,
        )  # fmt: skip
    has_val = val is not None and len(val) > 0
    record = _Record(state.params)
    start = time.perf_counter()
    if batch_size is None and devices is None:
        step = _full_batch(state, graph, train, val if has_val else None)
    else:
        step = _batched(state, graph, train, val if has_val else None, batch_size, devices, seed)
    state, graph = step.state, step.graph
    with progress_bar(config.epochs, desc, disable=not progress) as bar:
        state, epochs_run, stopped = _run_epochs(
            state, step, key, config, record, bar,
            known_lr=learning_rate if tx is None else None,
        )  # fmt: skip
        if stopped:
            finish(bar, epochs_run, stopped="early", best_epoch=record.best_epoch)
    return FitResult(
        state=state.replace(params=record.params),
        history=record.history,
        best_epoch=record.best_epoch,
        best_val_rmse=record.best_rmse if has_val else math.nan,
        epochs_run=epochs_run,
        seconds=time.perf_counter() - start,
        stopped_early=stopped,
    )


@dataclass
class _Steps:
    """How one epoch trains and how validation is measured (full batch or padded batches)."""

    state: TrainState
    graph: jraph.GraphsTuple
    epoch: Any  # (state, epoch, key, loss) -> (state, loss of the epoch's last step)
    validate: Any  # state -> (rmse, mae), or None without validation data


def _full_batch(state, graph, train, val) -> _Steps:
    """One unpadded step on all ratings per epoch; validation in one forward pass."""
    train_arrays = edge_arrays(train)
    val_arrays = edge_arrays(val) if val is not None else None

    def epoch(state, _epoch, key, loss):
        return train_step(state, graph, *train_arrays, key, loss=loss)

    def validate(state):
        return tuple(float(v) for v in eval_step(state, graph, *val_arrays))

    return _Steps(state, graph, epoch, validate if val is not None else None)


_EVAL_BATCH = 1 << 18  # pairs decoded per evaluation batch


def _batched(state, graph, train, val, batch_size, devices, seed) -> _Steps:
    """Padded ``[B]`` steps (``B`` a multiple of the devices), optionally split over a mesh."""
    mesh = data_mesh(devices) if devices is not None else None
    n_dev = 1 if mesh is None else mesh.devices.size
    size = round_up(batch_size if batch_size is not None else len(train), n_dev)

    def place(*arrays):
        return shard_batch(mesh, *arrays) if mesh is not None else arrays

    if mesh is not None:
        state, graph = replicate(mesh, (state, graph))

    def epoch(state, number, key, loss):
        data_loss = None
        for batch in epoch_batches(
            train.users, train.movies, train.ratings, size, seed=seed, epoch=number
        ):
            key, step_key = jax.random.split(key)
            state, data_loss = masked_train_step(state, graph, *place(*batch), step_key, loss=loss)
        return state, data_loss

    def validate(state):
        eval_size = round_up(min(len(val), _EVAL_BATCH), n_dev)
        return evaluate_batches(
            state, graph, val.users, val.movies, val.ratings, eval_size, shard=place
        )

    return _Steps(state, graph, epoch, validate if val is not None else None)


def _run_epochs(
    state: TrainState,
    step: _Steps,
    key: jax.Array,
    config: TrainConfig,
    record: _Record,
    bar: Any,
    known_lr: float | None,
) -> tuple[TrainState, int, bool]:
    """The epoch loop of :func:`fit`; returns ``(last state, epochs run, stopped early)``."""
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        key, epoch_key = jax.random.split(key)
        state, loss_value = step.epoch(state, epoch, epoch_key, config.loss)
        bar.update(1)
        if not _evaluated(epoch, config):
            continue
        train_loss = float(loss_value)
        if not math.isfinite(train_loss):
            raise _diverged(epoch, train_loss, known_lr)
        val = step.validate(state) if step.validate is not None else None
        record.add(epoch, train_loss, val, state.params)
        bar.set_postfix(record.postfix(), refresh=False)
        if val is not None and config.patience is not None:
            if epoch - record.best_epoch >= config.patience:
                return state, epoch, True
    return state, epoch, False
