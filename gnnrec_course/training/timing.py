"""How long one training epoch takes: the number the doctor and the benchmark report."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import flax.linen as nn
import jax
import jraph

from ..config import ConfigError, TrainConfig
from ..models.edge_ops import sort_by_receiver
from .state import as_device_graph, create_train_state, edge_arrays, eval_step, train_step

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from ..graph import RatingEdges

__all__ = ["EpochTiming", "epoch_seconds"]


@dataclass(frozen=True)
class EpochTiming:
    """What :func:`epoch_seconds` measured.

    Attributes:
      compile_seconds: the first epoch, which compiles the train (and eval) step.
      seconds: median wall time of one compiled epoch.
      min_seconds: the fastest compiled epoch.
      epochs: how many compiled epochs were timed.
      train_ratings: ratings per full-batch step.
      final_loss: data loss of the last step.
      val_rmse: validation RMSE after the last step (NaN without ``val``).
    """

    compile_seconds: float
    seconds: float
    min_seconds: float
    epochs: int
    train_ratings: int
    final_loss: float
    val_rmse: float


def epoch_seconds(
    model: nn.Module,
    graph: jraph.GraphsTuple,
    train: RatingEdges,
    val: RatingEdges | None = None,
    *,
    epochs: int = 10,
    config: TrainConfig | None = None,
    seed: int = 0,
) -> EpochTiming:
    """Time compiled full-batch training epochs of ``model``, run as ``fit`` runs them.

    One epoch is one :func:`~gnnrec_course.training.train_step` on all of ``train`` and, when
    ``val`` is given, the validation RMSE after it (:func:`~gnnrec_course.training.eval_step`),
    each waited for. The first epoch compiles and is timed on its own; ``epochs`` more are
    timed after it.

    Args:
      model, graph, train, val: as for ``fit``.
      epochs: compiled epochs to time (>= 1).
      config: the optimizer and loss (``learning_rate``, ``weight_decay``, ``loss``);
        default ``TrainConfig()``.
      seed: seeds the initialisation and dropout.
    """
    config = config if config is not None else TrainConfig()
    if epochs < 1:
        raise ConfigError(f"epoch_seconds needs epochs >= 1, got {epochs}.")
    graph = as_device_graph(sort_by_receiver(graph))  # edge order: speed only
    state = create_train_state(
        model, graph, train, learning_rate=config.learning_rate,
        weight_decay=config.weight_decay, seed=seed,
    )  # fmt: skip
    train_arrays = edge_arrays(train)
    val_arrays = edge_arrays(val) if val is not None and len(val) > 0 else None
    keys = jax.random.split(jax.random.PRNGKey(seed), epochs + 1)

    def one_epoch(state, key):
        state, loss = train_step(state, graph, *train_arrays, key, loss=config.loss)
        rmse = eval_step(state, graph, *val_arrays)[0] if val_arrays is not None else loss
        jax.block_until_ready((loss, rmse))
        return state, float(loss), float(rmse) if val_arrays is not None else float("nan")

    start = time.perf_counter()
    state, loss, rmse = one_epoch(state, keys[0])
    compile_seconds = time.perf_counter() - start
    times = []
    for key in keys[1:]:
        start = time.perf_counter()
        state, loss, rmse = one_epoch(state, key)
        times.append(time.perf_counter() - start)
    return EpochTiming(
        compile_seconds=compile_seconds,
        seconds=statistics.median(times),
        min_seconds=min(times),
        epochs=epochs,
        train_ratings=len(train),
        final_loss=loss,
        val_rmse=rmse,
    )
