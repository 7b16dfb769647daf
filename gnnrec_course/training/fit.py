"""The ``fit`` loop: full-batch training with a progress bar and early stopping.

Every epoch is one gradient step on all training ratings, which on ml-100k (~80k ratings,
~2.6k nodes) takes milliseconds once compiled. The defaults of :func:`fit` are
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
from ..progress import finish, progress_bar
from .losses import get_loss
from .state import (
    TrainState,
    as_device_graph,
    as_prng_key,
    create_train_state,
    edge_arrays,
    eval_step,
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
    seed: int = 0,
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
      epochs, learning_rate, weight_decay, patience, loss, eval_every: the fields of
        :class:`~gnnrec_course.config.TrainConfig` (same defaults); pass ``tx`` to use another
        optax optimizer than Adam / AdamW.
      seed: seeds initialisation and dropout; the same seed gives the same result.
      progress: show a ``tqdm`` bar with the loss and validation RMSE.
      state: continue from this ``TrainState`` instead of initialising a new one.
      desc: label of the progress bar.

    Raises:
      ConfigError: for an unknown loss or a setting out of range (``epochs < 1``, ...).
      TrainingDivergedError: when the loss becomes NaN or infinite.
    """
    config = TrainConfig(epochs, learning_rate, weight_decay, patience, loss, eval_every)
    get_loss(config.loss)  # fail fast on a bad name
    graph = as_device_graph(graph)
    init_key, key = jax.random.split(as_prng_key(seed))
    if state is None:
        state = create_train_state(
            model, graph, train, learning_rate=learning_rate, weight_decay=weight_decay,
            seed=init_key, tx=tx,
        )  # fmt: skip
    val_arrays = edge_arrays(val) if val is not None and len(val) > 0 else None
    record = _Record(state.params)
    start = time.perf_counter()
    with progress_bar(config.epochs, desc, disable=not progress) as bar:
        state, epochs_run, stopped = _run_epochs(
            state, graph, edge_arrays(train), val_arrays, key, config, record, bar,
            known_lr=learning_rate if tx is None else None,
        )  # fmt: skip
        if stopped:
            finish(bar, epochs_run, stopped="early", best_epoch=record.best_epoch)
    return FitResult(
        state=state.replace(params=record.params),
        history=record.history,
        best_epoch=record.best_epoch,
        best_val_rmse=record.best_rmse if val_arrays is not None else math.nan,
        epochs_run=epochs_run,
        seconds=time.perf_counter() - start,
        stopped_early=stopped,
    )


def _run_epochs(
    state: TrainState,
    graph: jraph.GraphsTuple,
    train_arrays: tuple,
    val_arrays: tuple | None,
    key: jax.Array,
    config: TrainConfig,
    record: _Record,
    bar: Any,
    known_lr: float | None,
) -> tuple[TrainState, int, bool]:
    """The epoch loop of :func:`fit`; returns ``(last state, epochs run, stopped early)``."""
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        key, dropout_key = jax.random.split(key)
        state, loss_value = train_step(state, graph, *train_arrays, dropout_key, loss=config.loss)
        bar.update(1)
        if not _evaluated(epoch, config):
            continue
        train_loss = float(loss_value)
        if not math.isfinite(train_loss):
            raise _diverged(epoch, train_loss, known_lr)
        val = None
        if val_arrays is not None:
            val = tuple(float(v) for v in eval_step(state, graph, *val_arrays))
        record.add(epoch, train_loss, val, state.params)
        bar.set_postfix(record.postfix(), refresh=False)
        if val is not None and config.patience is not None:
            if epoch - record.best_epoch >= config.patience:
                return state, epoch, True
    return state, epoch, False
