"""One typed config per model and for training, and the registry of named models.

Every tuned number of the package lives here, once: the model classes in
:mod:`gnnrec_course.models` read their field defaults from these configs, and the command line,
the notebooks, the benchmark and the doctor pick a model by its name in :data:`MODELS`::

    entry = get_model_entry("default")          # ModelEntry: configs, objective, description
    model = build_model("default", num_nodes=2625, num_users=943,
                        rating_min=1.0, rating_max=5.0, rating_mean=3.53)
    faster = with_overrides(entry.train, epochs=50)   # a new frozen TrainConfig

Configs are frozen dataclasses: change one with :func:`with_overrides`, which rejects an
unknown key with a one-line message listing the valid ones.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .errors import CourseError

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    import flax.linen as nn
    import pandas as pd

    from .data import MovieLens
    from .graph import IdMaps

__all__ = [
    "ConfigError",
    "DataFacts",
    "LightGCNConfig",
    "MODELS",
    "ModelEntry",
    "OBJECTIVES",
    "Objective",
    "RankingTrainConfig",
    "RatingModelConfig",
    "TrainConfig",
    "TutorialModelConfig",
    "as_dict",
    "build_model",
    "get_model_entry",
    "with_overrides",
]

Objective = Literal["rating", "ranking"]
OBJECTIVES: tuple[str, ...] = ("rating", "ranking")

Config = TypeVar("Config")


class ConfigError(CourseError, ValueError):
    """An unknown model name, setting or loss, or a setting outside its range."""


# --------------------------------------------------------------------------------------------
# Model configs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingModelConfig:
    """Hyper-parameters of :class:`~gnnrec_course.models.GCNRecommender` (the default model).

    Chosen on the *validation* RMSE of ml-100k u1 and random seed 0 (see
    ``benchmarks/RESULTS.md``): K = 3 beat 0-2 and 4; D = 64 or dropout changed less than
    0.001 at twice the cost; l2 = 0.01 beat 0.003-0.03; k = 300 / rating_l2 = 30 beat
    100-500 / 10-100; w = 0.6 was a hair better than 0.5 or 0.7. The meaning of each field is
    in the ``GCNRecommender`` docstring.
    """

    embed_dim: int = 32
    num_layers: int = 3
    l2: float = 0.01
    bias_l2: float = 0.001
    dropout: float = 0.0
    init_std: float = 0.1
    rating_hidden: int = 300
    rating_l2: float = 30.0
    rating_weight: float = 0.6
    chunk_elems: int = 2**20  # message block; 2**18..2**22 equally fast on 2 CPU cores


@dataclass(frozen=True)
class TutorialModelConfig:
    """Hyper-parameters of :class:`~gnnrec_course.models.TutorialGCN` (the tutorial's model).

    ``hidden`` are the layer sizes of the MLP node update; ``mlp_activate_final`` reproduces
    the tutorial's ReLU after the last MLP layer.
    """

    embed_dim: int = 64
    hidden: tuple[int, ...] = (64,)
    mlp_activate_final: bool = False


@dataclass(frozen=True)
class LightGCNConfig:
    """Hyper-parameters of :class:`~gnnrec_course.models.LightGCN` (the ranking model).

    Chosen on a validation part carved from the stratified training part of ml-100k (seed 0,
    ``scratch/ranking/REPORT.md``): K = 2 matched K = 3 at two thirds of the cost and beat
    K = 1; D = 128 was no better than 64. ``init_std`` is the paper's 0.1.
    """

    embed_dim: int = 64
    num_layers: int = 2
    init_std: float = 0.1


# --------------------------------------------------------------------------------------------
# Training config
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`gnnrec_course.training.fit` trains; the defaults are the default model's.

    Attributes:
      epochs: maximum number of full-batch steps (early stopping may end sooner), >= 1.
      learning_rate, weight_decay: Adam, or AdamW when ``weight_decay > 0``. Learning rate
        1e-2 reaches the default model's best epoch (~130) in about as many steps as 5e-3
        needs for 200+.
      patience: stop after this many epochs without a better validation RMSE (None: never).
      loss: ``"mse"`` or ``"l1"`` (:data:`gnnrec_course.training.LOSSES`).
      eval_every: evaluate the validation RMSE every this many epochs.
      batch_size: ratings per gradient step (``None``: all of them, one step per epoch, the
        faster choice on one CPU; every step encodes the whole graph either way).
    """

    epochs: int = 500
    learning_rate: float = 1e-2
    weight_decay: float = 0.0
    patience: int | None = 30
    loss: str = "mse"
    eval_every: int = 1
    batch_size: int | None = None

    def __post_init__(self) -> None:
        _at_least_one(self, "epochs", self.epochs)
        _at_least_one(self, "eval_every", self.eval_every)
        if self.batch_size is not None:
            _at_least_one(self, "batch_size", self.batch_size)
        if self.patience is not None:
            _at_least_one(self, "patience", self.patience)


@dataclass(frozen=True)
class RankingTrainConfig:
    """How :func:`gnnrec_course.training.fit_ranking` trains LightGCN with BPR.

    Chosen on validation NDCG@10 (see :class:`LightGCNConfig`): big batches with a high Adam
    step size need 10-30x fewer steps than the paper's batch 1024 / 1e-3; with them the
    paper's L2 of 1e-4 overfits within 30 epochs, 3e-3 does not; 4 negatives per positive
    beat 1.

    Attributes:
      batch_size: (user, positive, negative) triples per step.
      learning_rate: Adam's step size.
      l2: weight of the L2 penalty on the batch's layer-0 embeddings.
      num_negatives: negatives per positive and epoch.
      epochs: maximum epochs (early stopping may end sooner when validating).
      eval_every: epochs between validation NDCG@k evaluations.
      patience: evaluations without a better validation NDCG@k before stopping.
      k: cut-off of the validation metric.
    """

    batch_size: int = 16384
    learning_rate: float = 0.05
    l2: float = 3e-3
    num_negatives: int = 4
    epochs: int = 100
    eval_every: int = 5
    patience: int = 4
    k: int = 10

    def __post_init__(self) -> None:
        for key in ("batch_size", "num_negatives", "epochs", "eval_every", "patience", "k"):
            _at_least_one(self, key, getattr(self, key))


def _at_least_one(config: Any, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(
            f"{type(config).__name__}.{key} must be a whole number >= 1, got {value!r}."
        )


# --------------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------------


def as_dict(config: Any) -> dict[str, Any]:
    """The fields of a config dataclass as a plain ``{name: value}`` dict (not deep-copied)."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def with_overrides(config: Config, **overrides: Any) -> Config:
    """A copy of the frozen ``config`` with some fields changed.

    Raises:
      ConfigError: for a key that is not a field of the config (the message lists the fields),
        or a value the config rejects.
    """
    valid = [f.name for f in dataclasses.fields(config)]
    for key in overrides:
        if key not in valid:
            raise ConfigError(
                f"Unknown setting {key!r} for {type(config).__name__}: "
                f"use one of {', '.join(valid)}."
            )
    return dataclasses.replace(config, **overrides)


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataFacts:
    """What a model needs to know about the data to be built.

    Attributes:
      num_nodes: users + movies ``N`` (``IdMaps.num_nodes``).
      num_users: ``U``; users are nodes ``0..U-1`` (``IdMaps.num_users``).
      rating_min, rating_max: the rating scale of the data.
      rating_mean: mean training rating (a starting value for a global bias), or None.
    """

    num_nodes: int
    num_users: int
    rating_min: float
    rating_max: float
    rating_mean: float | None = None

    @classmethod
    def from_training(cls, maps: IdMaps, dataset: MovieLens, train: pd.DataFrame) -> DataFacts:
        """The facts of a model trained on the ratings ``train`` of ``dataset`` (its rating
        scale), with the node counts of ``maps``."""
        return cls(
            num_nodes=maps.num_nodes, num_users=maps.num_users,
            rating_min=float(dataset.rating_min), rating_max=float(dataset.rating_max),
            rating_mean=float(train["rating"].mean()),
        )  # fmt: skip


@dataclass(frozen=True)
class ModelEntry:
    """One named model of :data:`MODELS`.

    Attributes:
      name: the registry key (``gnnrec-course train --model NAME``).
      objective: ``"rating"`` (predicts ratings, trained with :attr:`train`'s loss) or
        ``"ranking"`` (scores for top-N lists).
      description: one line for ``--help`` and reports.
      model: the model's config (a frozen dataclass such as :class:`RatingModelConfig`).
      train: how to train it (:class:`TrainConfig`, or :class:`RankingTrainConfig` for a
        ranking model).
      build: ``build(model_config, facts) -> flax module``.
    """

    name: str
    objective: Objective
    description: str
    model: Any
    train: TrainConfig | RankingTrainConfig
    build: Callable[[Any, DataFacts], nn.Module]


def _build_rating_model(config: RatingModelConfig, facts: DataFacts) -> nn.Module:
    from .models import GCNRecommender

    return GCNRecommender(
        num_nodes=int(facts.num_nodes),
        rating_min=float(facts.rating_min),
        rating_max=float(facts.rating_max),
        num_users=int(facts.num_users),
        rating_mean=None if facts.rating_mean is None else float(facts.rating_mean),
        **as_dict(config),
    )


def _build_tutorial_model(config: TutorialModelConfig, facts: DataFacts) -> nn.Module:
    from .models import TutorialGCN

    return TutorialGCN(
        num_nodes=int(facts.num_nodes),
        rating_min=float(facts.rating_min),
        rating_max=float(facts.rating_max),
        **as_dict(config),
    )


def _build_lightgcn(config: LightGCNConfig, facts: DataFacts) -> nn.Module:
    from .models import LightGCN

    return LightGCN(num_nodes=int(facts.num_nodes), **as_dict(config))


#: The named models: two rating models and the ranking model.
MODELS: dict[str, ModelEntry] = {
    "default": ModelEntry(
        name="default",
        objective="rating",
        description=(
            "GCNRecommender: LightGCN-style propagation (A + I) with biases, blended with a "
            "rating-weighted GCN"
        ),
        model=RatingModelConfig(),
        train=TrainConfig(),
        build=_build_rating_model,
    ),
    "tutorial": ModelEntry(
        name="tutorial",
        objective="rating",
        description="TutorialGCN: the tutorial's first model, corrected, trained as it was",
        model=TutorialModelConfig(),
        # as the tutorial did: Adam 1e-3, L1 loss, 100 epochs, no early stopping
        train=TrainConfig(epochs=100, learning_rate=1e-3, patience=None, loss="l1"),
        build=_build_tutorial_model,
    ),
    "lightgcn": ModelEntry(
        name="lightgcn",
        objective="ranking",
        description="LightGCN trained with BPR on implicit feedback: top-N lists",
        model=LightGCNConfig(),
        train=RankingTrainConfig(),
        build=_build_lightgcn,
    ),
}


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry called ``name``.

    Raises:
      ConfigError: for an unknown name (the message lists the valid names).
    """
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"Unknown model {name!r}: use one of {', '.join(MODELS)}.") from None


def build_model(
    name: str,
    *,
    num_nodes: int,
    num_users: int,
    rating_min: float,
    rating_max: float,
    rating_mean: float | None = None,
    **model_overrides: Any,
) -> nn.Module:
    """The flax module of the registry's model ``name`` for the given data.

    Args:
      name: a key of :data:`MODELS`.
      num_nodes, num_users, rating_min, rating_max, rating_mean: see :class:`DataFacts`.
      **model_overrides: fields of the entry's model config to change (``embed_dim=16``, ...).

    Raises:
      ConfigError: for an unknown name or an unknown override key.
    """
    entry = get_model_entry(name)
    config = with_overrides(entry.model, **model_overrides)
    facts = DataFacts(num_nodes, num_users, rating_min, rating_max, rating_mean)
    return entry.build(config, facts)
