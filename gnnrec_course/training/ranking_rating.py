"""The rating model scored on a ranking protocol: :func:`fit_rating_for_ranking`.

The registry's rating model (``"default"``) is trained as usual, on the star ratings of the
protocol's training part (a :class:`~gnnrec_course.graph.RankingSplit`): early stopping on the
RMSE of the validation part carved from it (``split.fit`` / ``split.val``), then, with
``retrain=True``, trained again on the whole training part for the best epoch count, as the
ranking model is. It ranks movies by its *unclipped* predicted rating (``decode(...,
clip=False)``): clipped to the rating scale, every movie predicted above 5 stars would tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jraph

from ..config import ConfigError, as_dict, get_model_entry, with_overrides
from ..config import build_model as build_registered_model
from ..graph import IdMaps, build_graph, rating_edges
from ..recommend import MatrixScoreFn, Recommender, pair_scores_fn
from .fit import fit

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from ..data import MovieLens
    from ..graph import RankingSplit

__all__ = ["RatingRankingResult", "fit_rating_for_ranking"]


@dataclass
class RatingRankingResult:
    """A rating model trained on a ranking protocol's training part.

    Attributes:
      model, params, graph, maps: the module, its parameters, the graph it reads, the id maps.
      model_name: its registry name.
      val_rmse: best validation RMSE (on ``split.val``, trained on ``split.fit``).
      best_epoch: the epoch of that RMSE; epochs_run: epochs of the reported model's training.
      train_seconds: wall time of the reported model's training; selection_seconds: that of
        the validation run when the model was trained again (``retrain``), else 0;
        selection_epochs: the epochs of that run (0 without ``retrain``).
      ms_per_epoch: mean wall time of a training epoch (compilation included).
    """

    model: nn.Module
    params: Any
    graph: jraph.GraphsTuple
    maps: IdMaps
    model_name: str
    val_rmse: float
    best_epoch: int
    epochs_run: int
    train_seconds: float
    selection_seconds: float
    selection_epochs: int
    ms_per_epoch: float

    def scores_fn(self) -> MatrixScoreFn:
        """user nodes [B] -> unclipped predicted ratings [B, M] (for ``evaluate_ranking``)."""
        rec = Recommender.from_model(self.model, self.params, self.graph, self.maps, clip=False)
        return pair_scores_fn(rec.score_fn, self.maps)


def fit_rating_for_ranking(
    dataset: MovieLens,
    split: RankingSplit,
    maps: IdMaps,
    *,
    seed: int = 0,
    progress: bool = True,
    model: str = "default",
    retrain: bool = True,
    devices: int | None = None,
    **fit_overrides: Any,
) -> RatingRankingResult:
    """Train the registry's rating model ``model`` on ``split`` and return it for ranking.

    Args:
      dataset: the loaded dataset (its rating scale).
      split: a ranking split (:func:`gnnrec_course.graph.ranking_split`); its frames must keep
        the ``rating`` column.
      maps: the id maps of the whole dataset.
      seed: seeds the training.
      progress: show the progress bars.
      model: a rating model of the registry.
      retrain: after early stopping on ``split.val``, train again on all of ``split.train``
        for the best epoch count (otherwise the model trained on ``split.fit`` is returned).
      devices: split every batch over this many devices (see :func:`fit`); ``None``: no mesh.
      **fit_overrides: fields of the model's :class:`~gnnrec_course.config.TrainConfig`.

    Raises:
      ConfigError: for a ranking model's name or an unknown setting.
    """
    entry = get_model_entry(model)
    if entry.objective != "rating":
        raise ConfigError(f"Model {model!r} is a {entry.objective} model; pass a rating model.")
    settings = as_dict(with_overrides(entry.train, **fit_overrides))

    def build(train_df):
        return build_registered_model(
            model, num_nodes=maps.num_nodes, num_users=maps.num_users,
            rating_min=float(dataset.rating_min), rating_max=float(dataset.rating_max),
            rating_mean=float(train_df["rating"].mean()),
        )  # fmt: skip

    graph = build_graph(split.fit, maps)
    net = build(split.fit)
    first = fit(
        net, graph, rating_edges(split.fit, maps), rating_edges(split.val, maps), seed=seed,
        progress=progress, desc=f"{model} on {split.protocol} fit/val", devices=devices,
        **settings,
    )  # fmt: skip
    result, selection_seconds, selection_epochs = first, 0.0, 0
    if retrain:
        graph = build_graph(split.train, maps)
        net = build(split.train)
        final = {**settings, "epochs": max(first.best_epoch, 1), "patience": None}
        result = fit(
            net, graph, rating_edges(split.train, maps), None, seed=seed, progress=progress,
            desc=f"{model} on {split.protocol} train", devices=devices, **final,
        )  # fmt: skip
        selection_seconds, selection_epochs = first.seconds, first.epochs_run
    return RatingRankingResult(
        model=net,
        params=result.state.params,
        graph=graph,
        maps=maps,
        model_name=model,
        val_rmse=float(first.best_val_rmse),
        best_epoch=int(first.best_epoch),
        epochs_run=int(result.epochs_run),
        train_seconds=float(result.seconds),
        selection_seconds=float(selection_seconds),
        selection_epochs=int(selection_epochs),
        ms_per_epoch=float(result.seconds / max(result.epochs_run, 1) * 1000.0),
    )
