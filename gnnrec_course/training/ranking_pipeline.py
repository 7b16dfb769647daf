"""One call from a dataset to a tested ranking model: protocol, epochs chosen on validation,
the reported model trained on the whole training part, top-k metrics beside the baselines.

``train_ranking(dataset, "stratified", seed=0)`` is what ``gnnrec-course train --objective
ranking`` and the benchmark run. The epoch count is chosen by early stopping on the
validation part carved from the training part (``split.fit`` / ``split.val``); the reported
model is then trained on all of ``split.train`` for that many epochs and scored once on
``split.test``. No test interaction enters any choice. With ``epochs`` given, the validation
run is skipped and the model is trained for exactly that many epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jraph

from ..config import DataFacts, as_dict, get_model_entry
from ..graph import IdMaps, RankingSplit, build_id_maps, ranking_split
from ..ranking_eval import MatrixScoreFn, UserItems, evaluate_ranking
from .ranking import fit_ranking
from .ranking_rating import fit_rating_for_ranking

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from ..data import MovieLens

__all__ = ["RankingRun", "train_ranking"]


@dataclass
class RankingRun:
    """What :func:`train_ranking` returns (and ``gnnrec-course train --objective ranking``
    prints).

    Attributes:
      dataset, protocol, seed, model_name: what was trained.
      model, params, graph, maps, split: the module, its parameters, the graph it reads, the
        id maps and the ranking split.
      model_config: the model's config (for a checkpoint); facts: the data facts.
      epochs_run: epochs of the reported model; selection_epochs: epochs of the validation run
        (0 when ``epochs`` was given).
      train_seconds: training of the reported model; selection_seconds: the validation run.
      ms_per_epoch: time per training epoch of the reported model.
      k: the cut-off; metrics: the model's test metrics; baselines: popularity's and random's.
      scores_fn: user nodes [B] -> scores [B, M] of the reported model.
    """

    dataset: str
    protocol: str
    seed: int
    model_name: str
    model: nn.Module
    params: Any
    graph: jraph.GraphsTuple
    maps: IdMaps
    split: RankingSplit
    model_config: Any
    facts: DataFacts
    epochs_run: int
    selection_epochs: int
    train_seconds: float
    selection_seconds: float
    ms_per_epoch: float
    k: int
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    scores_fn: MatrixScoreFn | None = None

    def summary(self) -> dict[str, Any]:
        """The JSON of ``gnnrec-course train --objective ranking --json``."""

        def rounded(scores: dict[str, float]) -> dict[str, float]:
            return {name: round(float(value), 4) for name, value in scores.items()}

        return {
            "dataset": self.dataset,
            "split": self.protocol,
            "seed": self.seed,
            "objective": "ranking",
            "model": self.model_name,
            "epochs_run": self.epochs_run,
            "train_seconds": round(self.train_seconds, 3),
            "selection_epochs": self.selection_epochs,
            "selection_seconds": round(self.selection_seconds, 3),
            "k": self.k,
            "metrics": rounded(self.metrics),
            "baselines": {name: rounded(scores) for name, scores in self.baselines.items()},
        }


def _fit_lightgcn(split, maps, seed, epochs, progress, devices, overrides):
    """(result, selection epochs, selection seconds) of LightGCN on the protocol."""
    selection_epochs, selection_seconds = 0, 0.0
    if epochs is None:
        chosen = fit_ranking(
            split.fit, maps, val=split.val, seed=seed, progress=progress, devices=devices,
            desc="LightGCN fit/val (choosing epochs)", **overrides,
        )  # fmt: skip
        selection_epochs, selection_seconds = chosen.epochs_run, chosen.train_seconds
        epochs = max(chosen.best_epoch, 1)
    result = fit_ranking(
        split.train, maps, seed=seed, progress=progress, devices=devices, desc="LightGCN train",
        **{**overrides, "epochs": int(epochs)},
    )  # fmt: skip
    return result, selection_epochs, selection_seconds


def train_ranking(
    dataset: MovieLens,
    protocol: str = "stratified",
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    model: str = "lightgcn",
    *,
    baselines: bool = True,
    devices: int | None = None,
    **overrides: Any,
) -> RankingRun:
    """Split ``dataset`` by a ranking protocol, train ``model`` and score its top-k lists.

    Args:
      dataset: a loaded ``MovieLens``.
      protocol: ``"stratified"`` or ``"temporal"`` (:data:`gnnrec_course.graph.PROTOCOLS`).
      seed: seeds the split and the training.
      epochs: LightGCN: train the reported model this many epochs, without the validation
        run (default: chosen on validation); a rating model: its maximum epochs.
      progress: show progress bars.
      model: ``"lightgcn"`` (BPR) or a rating model of the registry (trained on the ratings
        of the training part, ranking by its unclipped predicted rating).
      baselines: also score popularity and random on the same split.
      devices: split every training batch over this many devices (data parallel, see
        :mod:`gnnrec_course.training.sharding`); ``None``: no mesh.
      **overrides: settings of the model's configs (see :func:`fit_ranking`, or the
        ``TrainConfig`` of a rating model).

    Raises:
      ConfigError: for an unknown model or setting. UnknownSplitError: for another protocol.
    """
    entry = get_model_entry(model)
    split = ranking_split(dataset.ratings, protocol, seed=seed)
    maps = build_id_maps(dataset.ratings, name=dataset.name)
    train_items = UserItems.from_frame(split.train, maps)
    test_items = UserItems.from_frame(split.test, maps)
    if entry.objective == "ranking":
        result, sel_epochs, sel_seconds = _fit_lightgcn(
            split, maps, seed, epochs, progress, devices, overrides
        )
        model_config, k = result.model_config, result.train_config.k
        train_seconds, epochs_run, ms = result.train_seconds, result.epochs_run, result.ms_per_epoch
    else:
        if epochs is not None:
            overrides = {**overrides, "epochs": int(epochs)}
        result = fit_rating_for_ranking(
            dataset,
            split,
            maps,
            seed=seed,
            progress=progress,
            model=model,
            devices=devices,
            **overrides,
        )
        model_config, k = entry.model, get_model_entry("lightgcn").train.k
        sel_epochs, sel_seconds = result.selection_epochs, result.selection_seconds
        train_seconds, epochs_run, ms = result.train_seconds, result.epochs_run, result.ms_per_epoch
    scores_fn = result.scores_fn()
    metrics = evaluate_ranking(scores_fn, train_items, test_items, k=k)
    run_baselines = {}
    if baselines:
        from ..baselines import ranking_baselines

        run_baselines = ranking_baselines(train_items, test_items, k=k, seed=seed)
    facts = DataFacts.from_training(maps, dataset, split.train)
    return RankingRun(
        dataset=dataset.name,
        protocol=protocol,
        seed=int(seed),
        model_name=model,
        model=result.model,
        params=result.params,
        graph=result.graph,
        maps=maps,
        split=split,
        model_config=as_dict(model_config),
        facts=facts,
        epochs_run=int(epochs_run),
        selection_epochs=int(sel_epochs),
        train_seconds=float(train_seconds),
        selection_seconds=float(sel_seconds),
        ms_per_epoch=float(ms),
        k=int(k),
        metrics=metrics,
        baselines=run_baselines,
        scores_fn=scores_fn,
    )
