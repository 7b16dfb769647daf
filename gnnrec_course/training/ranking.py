"""Training LightGCN for ranking: :func:`fit_ranking` (BPR, negative sampling, early stopping).

Every step propagates the whole graph once (``model.encode``: LightGCN's propagation is
full-graph anyway) and scores its fixed-shape batch of (user, positive, negative) triples with
``model.decode``; an epoch is one jitted ``lax.scan`` over its batches, so it compiles once.
The L2 penalty is on the batch's layer-0 embeddings, as in the paper:
``l2 * 0.5 * (|e_u|^2 + |e_pos|^2 + |e_neg|^2)`` averaged over the batch. With a validation
part, NDCG@k ranking every movie outside the training part is measured every ``eval_every``
epochs, and the best parameters are kept (early stopping).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
import pandas as pd
from flax.training.train_state import TrainState

from ..config import (
    ConfigError,
    LightGCNConfig,
    RankingTrainConfig,
    get_model_entry,
    with_overrides,
)
from ..errors import TrainingDivergedError
from ..graph import IdMaps, build_graph
from ..models import LightGCN
from ..progress import finish, progress_bar
from ..ranking_eval import MatrixScoreFn, UserItems, evaluate_ranking
from .ranking_bpr import PositiveIndex, bpr_epoch_batches, bpr_loss
from .sharding import data_mesh, replicate, shard_batch
from .state import as_device_graph

__all__ = ["RankingResult", "fit_ranking", "interaction_graph", "layer0_embeddings"]

Array = jax.Array


def layer0_embeddings(params: Any) -> Array:
    """``E_0`` [N, D] of LightGCN parameters (bare params or ``{"params": ...}``)."""
    params = params.get("params", params) if hasattr(params, "get") else params
    return params["embedding"]["embedding"]


def interaction_graph(interactions: pd.DataFrame, maps: IdMaps) -> jraph.GraphsTuple:
    """The graph of :func:`gnnrec_course.graph.build_graph` for interactions (user_id,
    movie_id; a ``rating`` column is not needed: each edge then carries 1)."""
    if "rating" not in interactions:
        interactions = interactions.assign(rating=np.float32(1.0))
    return build_graph(interactions, maps)


def matrix_scores_fn(z: Array, num_users: int) -> MatrixScoreFn:
    """``users [B] -> z_users @ z_movies.T`` [B, M]: every movie's score ``z_u · z_m``."""
    movies = jnp.asarray(z)[num_users:]
    score = jax.jit(lambda z_all, users: z_all[users] @ movies.T)
    return lambda users: np.asarray(score(jnp.asarray(z), jnp.asarray(users, dtype=jnp.int32)))


@dataclass
class RankingResult:
    """A trained LightGCN and how the training went.

    Attributes:
      model: the module; params: its (best) parameters, the ``"params"`` collection.
      graph: the training graph (``model.encode`` reads it).
      maps: the id maps.
      model_config, train_config: the settings used (``epochs`` as asked).
      epochs_run: epochs trained; best_epoch: epoch of the returned parameters.
      history: one dict per epoch: ``epoch``, ``loss``, ``seconds`` and, on evaluated epochs,
        ``val_ndcg``.
      train_seconds: wall time of the whole fit (graph, compilation and validation included).
      eval_seconds: the part spent on validation.
      ms_per_epoch: median wall time of a training epoch after the first (compiling) one.
    """

    model: nn.Module
    params: Any
    graph: jraph.GraphsTuple
    maps: IdMaps
    model_config: LightGCNConfig
    train_config: RankingTrainConfig
    epochs_run: int
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    ms_per_epoch: float = float("nan")

    def embeddings(self) -> np.ndarray:
        """Final node embeddings Z [N, D] (``model.encode``)."""
        return np.asarray(_encode(self.model, self.params, self.graph))

    def scores_fn(self) -> MatrixScoreFn:
        """user nodes [B] -> scores [B, M] over every movie (for ``evaluate_ranking``)."""
        return matrix_scores_fn(_encode(self.model, self.params, self.graph), self.maps.num_users)


def _encode(model: nn.Module, params: Any, graph: jraph.GraphsTuple) -> Array:
    return jax.jit(lambda p, g: model.apply({"params": p}, g, method=model.encode))(params, graph)


def _split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Overrides of the model config and of the training config, by field name."""
    model_keys = {f.name for f in dataclasses.fields(LightGCNConfig)}
    train_keys = {f.name for f in dataclasses.fields(RankingTrainConfig)}
    unknown = sorted(set(overrides) - model_keys - train_keys)
    if unknown:
        raise ConfigError(
            f"Unknown setting {unknown[0]!r} for fit_ranking: use one of "
            f"{', '.join(sorted(model_keys | train_keys))}."
        )
    return (
        {k: v for k, v in overrides.items() if k in model_keys},
        {k: v for k, v in overrides.items() if k in train_keys},
    )


def _make_epoch_fn(model: nn.Module, l2: float, num_users: int):
    """Jitted ``(state, graph, u, p, n, w) -> (state, mean loss)`` over [S, B] batches."""

    def loss_fn(params, graph, u, p, n, w):
        z = model.apply({"params": params}, graph, method=model.encode)
        p_node, n_node = p + num_users, n + num_users
        pos = model.apply({"params": params}, z, u, p_node, method=model.decode)
        neg = model.apply({"params": params}, z, u, n_node, method=model.decode)
        e0 = layer0_embeddings(params)
        sq = jnp.sum(e0[u] ** 2, -1) + jnp.sum(e0[p_node] ** 2, -1) + jnp.sum(e0[n_node] ** 2, -1)
        reg = 0.5 * jnp.sum(w * sq) / jnp.maximum(jnp.sum(w), 1.0)
        return bpr_loss(pos, neg, w) + l2 * reg

    def step(carry, batch):
        state, graph = carry
        loss, grads = jax.value_and_grad(loss_fn)(state.params, graph, *batch)
        return (state.apply_gradients(grads=grads), graph), loss

    @jax.jit
    def run_epoch(state, graph, u, p, n, w):
        (state, _), losses = jax.lax.scan(step, (state, graph), (u, p, n, w))
        return state, jnp.mean(losses)

    return run_epoch


def fit_ranking(
    train: pd.DataFrame,
    maps: IdMaps,
    *,
    val: pd.DataFrame | None = None,
    seed: int = 0,
    progress: bool = True,
    model_config: LightGCNConfig | None = None,
    train_config: RankingTrainConfig | None = None,
    desc: str = "LightGCN",
    devices: int | None = None,
    **overrides: Any,
) -> RankingResult:
    """Train LightGCN with BPR on the interactions ``train``.

    With ``val``, NDCG@k on ``val`` (ranking every movie not in ``train``) is measured every
    ``eval_every`` epochs; training stops after ``patience`` evaluations without improvement
    and returns the best parameters. Without ``val`` it trains exactly ``epochs`` epochs (the
    way the reported model is retrained on the whole training part).

    Args:
      train: training interactions (user_id, movie_id); they also make the graph.
      maps: raw id <-> node id maps of the whole dataset.
      val: validation interactions for early stopping, or ``None``.
      seed: seeds the initial embeddings, the negatives and the shuffling; the same seed
        gives the same result.
      progress: show the progress bar with the loss and the best validation NDCG.
      model_config, train_config: the settings (default: the registry's ``lightgcn`` entry).
      desc: label of the progress bar.
      devices: split every batch of triples over this many devices (data parallel: the
        state and graph are replicated, every device encodes the whole graph and scores its
        share of the batch, jit all-reduces the gradients); ``None``: no mesh. The batch is
        rounded up to a multiple of the devices (padding weighted 0).
      **overrides: fields of either config to change (``num_layers=3``, ``epochs=30``, ...).

    Raises:
      ConfigError: for an unknown setting or one out of range.
      DeviceCountError: for more devices than JAX sees.
      TrainingDivergedError: when the loss becomes NaN or infinite.
    """
    model_over, train_over = _split_overrides(overrides)
    entry = get_model_entry("lightgcn")
    mcfg = with_overrides(model_config or entry.model, **model_over)
    tcfg = with_overrides(train_config or entry.train, **train_over)
    t_start = time.perf_counter()
    train_items = UserItems.from_frame(train, maps)
    positives = PositiveIndex.from_items(train_items)
    pos_users, pos_movies = train_items.users_and_movies()
    graph = as_device_graph(interaction_graph(train, maps))
    model = LightGCN(maps.num_nodes, mcfg.embed_dim, mcfg.num_layers, mcfg.init_std)
    probe = (jnp.zeros(1, jnp.int32), jnp.full(1, maps.num_users, jnp.int32))
    params = model.init(jax.random.key(seed), graph, *probe)["params"]
    state = TrainState.create(
        apply_fn=model.apply, params=params, tx=optax.adam(tcfg.learning_rate)
    )
    run_epoch = _make_epoch_fn(model, tcfg.l2, maps.num_users)
    mesh = data_mesh(devices) if devices is not None else None
    n_dev = 1 if mesh is None else mesh.devices.size
    if mesh is not None:
        state, graph = replicate(mesh, (state, graph))
    val_items = UserItems.from_frame(val, maps) if val is not None else None
    rng = np.random.default_rng(seed)

    history: list[dict[str, float]] = []
    best_ndcg, best_epoch, best_params = -np.inf, 0, state.params
    evals_without_gain, eval_seconds, epoch_times = 0, 0.0, []
    epoch, stopped = 0, False
    with progress_bar(tcfg.epochs, desc, disable=not progress) as bar:
        for epoch in range(1, tcfg.epochs + 1):
            t0 = time.perf_counter()
            batches = bpr_epoch_batches(
                rng,
                pos_users,
                pos_movies,
                positives,
                tcfg.batch_size,
                tcfg.num_negatives,
                multiple_of=n_dev,
            )
            if mesh is not None:
                batches = shard_batch(mesh, *batches, axis=1)
            state, loss = run_epoch(state, graph, *batches)
            loss = float(loss)  # waits for the epoch to finish
            epoch_times.append(time.perf_counter() - t0)
            if not np.isfinite(loss):
                raise TrainingDivergedError(
                    f"The BPR loss became {loss} at epoch {epoch}: lower the learning rate "
                    f"(now {tcfg.learning_rate})."
                )
            row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": epoch_times[-1]}
            if val_items is not None and (epoch % tcfg.eval_every == 0 or epoch == tcfg.epochs):
                t1 = time.perf_counter()
                scores = matrix_scores_fn(_encode(model, state.params, graph), maps.num_users)
                ndcg = evaluate_ranking(scores, train_items, val_items, k=tcfg.k)["ndcg"]
                eval_seconds += time.perf_counter() - t1
                row["val_ndcg"] = ndcg
                if ndcg > best_ndcg:
                    best_ndcg, best_epoch, best_params = ndcg, epoch, state.params
                    evals_without_gain = 0
                else:
                    evals_without_gain += 1
            history.append(row)
            bar.update(1)
            postfix = {"loss": f"{loss:.4f}"}
            if val_items is not None:
                postfix[f"best val ndcg@{tcfg.k}"] = f"{best_ndcg:.4f}"
            bar.set_postfix(postfix, refresh=False)
            if val_items is not None and evals_without_gain >= tcfg.patience:
                stopped = True
                break
        if stopped:
            finish(bar, epoch, stopped=f"no better val ndcg@{tcfg.k} since epoch {best_epoch}")

    if val_items is None:
        best_params, best_epoch = state.params, epoch
    steady = epoch_times[1:] or epoch_times
    return RankingResult(
        model=model,
        params=best_params,
        graph=graph,
        maps=maps,
        model_config=mcfg,
        train_config=tcfg,
        epochs_run=epoch,
        best_epoch=best_epoch,
        history=history,
        train_seconds=time.perf_counter() - t_start,
        eval_seconds=eval_seconds,
        ms_per_epoch=float(np.median(steady) * 1000.0),
    )
