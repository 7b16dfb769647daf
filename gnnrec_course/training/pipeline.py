"""One call from a dataset to a trained, tested model: split, graph, model, fit, test metrics.

The model and its training come from the registry (:data:`gnnrec_course.config.MODELS`), by
name: ``train_default(dataset, model="tutorial")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import flax.linen as nn
import jraph
import numpy as np

from ..config import MODELS, ConfigError, TrainConfig, as_dict, get_model_entry, with_overrides
from ..config import build_model as build_registered_model
from .fit import fit
from .state import evaluate, predict

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    import pandas as pd

    from ..data import MovieLens
    from ..graph import IdMaps, RatingEdges, RatingSplit

__all__ = [
    "DEFAULT_HPARAMS",
    "MODEL_NAMES",
    "TUTORIAL_HPARAMS",
    "TrainResult",
    "build_model",
    "train_default",
]

#: The registry's rating models: the names :func:`train_default` accepts.
MODEL_NAMES: tuple[str, ...] = tuple(n for n, e in MODELS.items() if e.objective == "rating")

#: Views of the registry's ``default`` and ``tutorial`` entries as plain dicts
#: (``{"model": {...}, "fit": {...}}``), for code written before the registry.
DEFAULT_HPARAMS: dict[str, Any] = {
    "model": as_dict(MODELS["default"].model),
    "fit": as_dict(MODELS["default"].train),
}
TUTORIAL_HPARAMS: dict[str, Any] = {
    "model": as_dict(MODELS["tutorial"].model),
    "fit": as_dict(MODELS["tutorial"].train),
}


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


class _Prepared(NamedTuple):
    """A dataset split and turned into what training reads."""

    maps: IdMaps
    split: RatingSplit
    graph: jraph.GraphsTuple
    train: RatingEdges
    val: RatingEdges
    test: RatingEdges


def _prepare(dataset: MovieLens, split: str, seed: int) -> _Prepared:
    """Id maps, the seeded split, the training graph and the rating edges of each part."""
    from ..graph import build_graph, build_id_maps, load_split, rating_edges

    maps = build_id_maps(dataset.ratings, name=dataset.name)
    rating_split = load_split(dataset, split, seed=seed)
    parts = (rating_split.train, rating_split.val, rating_split.test)
    edges = [rating_edges(part, maps) for part in parts]
    return _Prepared(maps, rating_split, build_graph(rating_split.train, maps), *edges)


def _train_config(name: str, epochs: int | None, fit_overrides: dict[str, Any]) -> TrainConfig:
    """The registry's training config of model ``name`` with the caller's changes."""
    entry = get_model_entry(name)
    if entry.objective != "rating":
        raise ConfigError(
            f"Model {name!r} is a {entry.objective} model; train_default trains rating models: "
            f"{', '.join(MODEL_NAMES)}."
        )
    if epochs is not None:
        fit_overrides = {**fit_overrides, "epochs": int(epochs)}
    return with_overrides(entry.train, **fit_overrides)


def train_default(
    dataset: MovieLens,
    split: str = "random",
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    model: str = "default",
    devices: int | None = None,
    **fit_overrides: Any,
) -> TrainResult:
    """Split ``dataset``, build the training graph, train a model and score it on the test set.

    Args:
      dataset: a loaded ``MovieLens`` (``gnnrec_course.data.load_dataset``).
      split: ``"random"`` (seeded 80/10/10) or, for ml-100k, ``"u1"``..``"u5"``.
      seed: seeds the split (random split, validation part of uN.base) and the training.
      epochs: maximum epochs (default: the model's tuned budget; early stopping may end sooner).
      progress: show a progress bar.
      model: a rating model of the registry (:data:`MODEL_NAMES`): ``"default"``
        (:class:`GCNRecommender`) or ``"tutorial"`` (:class:`TutorialGCN`).
      devices: split each batch over this many devices (``fit``'s ``devices``; ``None``: one).
      **fit_overrides: fields of :class:`~gnnrec_course.config.TrainConfig` to change
        (``learning_rate``, ``patience``, ...).

    Raises:
      ConfigError: for an unknown model name or an unknown override key.
    """
    train_config = _train_config(model, epochs, fit_overrides)
    data = _prepare(dataset, split, seed)
    rating_min, rating_max = float(dataset.rating_min), float(dataset.rating_max)
    net = build_registered_model(
        model, num_nodes=data.maps.num_nodes, num_users=data.maps.num_users,
        rating_min=rating_min, rating_max=rating_max,
        rating_mean=float(data.split.train["rating"].mean()),
    )  # fmt: skip
    result = fit(
        net, data.graph, data.train, data.val, seed=seed, progress=progress, devices=devices,
        desc=f"{model} on {dataset.name}/{split}", **as_dict(train_config),
    )  # fmt: skip
    test = evaluate(result.state, data.graph, data.test)
    val_rmse = result.best_val_rmse
    if not math.isfinite(val_rmse):
        val_rmse = evaluate(result.state, data.graph, data.val)["rmse"]
    return TrainResult(
        dataset=dataset.name,
        split_name=split,
        seed=seed,
        model_name=model,
        model=net,
        params=result.state.params,
        graph=data.graph,
        maps=data.maps,
        split=data.split,
        history=result.history,
        val_rmse=float(val_rmse),
        test_rmse=test["rmse"],
        test_mae=test["mae"],
        epochs_run=result.epochs_run,
        best_epoch=result.best_epoch,
        train_seconds=result.seconds,
        rating_min=rating_min,
        rating_max=rating_max,
        hparams={"model": as_dict(get_model_entry(model).model), "fit": as_dict(train_config)},
    )


def build_model(
    name: str,
    num_nodes: int,
    rating_min: float,
    rating_max: float,
    train_ratings: pd.DataFrame | None = None,
    *,
    num_users: int,
    **overrides: Any,
) -> nn.Module:
    """The registry's model ``name``, with the positional arguments of older callers.

    Prefer :func:`gnnrec_course.config.build_model`; this one takes the mean of
    ``train_ratings["rating"]`` as ``rating_mean``.
    """
    mean = None if train_ratings is None else float(train_ratings["rating"].mean())
    return build_registered_model(
        name, num_nodes=num_nodes, num_users=num_users, rating_min=rating_min,
        rating_max=rating_max, rating_mean=mean, **overrides,
    )  # fmt: skip
