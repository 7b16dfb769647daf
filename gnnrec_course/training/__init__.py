"""Training: losses, the train state and jitted steps, the ``fit`` loop, the one-call pipeline.

Modules, each with one job:

* :mod:`~gnnrec_course.training.losses`: masked MSE / L1 losses and :data:`LOSSES`;
* :mod:`~gnnrec_course.training.state`: ``TrainState``, optimizer, jitted ``train_step`` /
  ``eval_step``, ``predict``, ``evaluate``;
* :mod:`~gnnrec_course.training.fit`: :func:`fit` (full batch or ``batch_size``, ``devices``,
  early stopping) and :class:`FitResult`;
* :mod:`~gnnrec_course.training.batches`: fixed-shape padded mini-batches (``epoch_batches``);
* :mod:`~gnnrec_course.training.sharding`: data parallelism over a 1-D device mesh;
* :mod:`~gnnrec_course.training.ranking_bpr`: the BPR loss, :class:`PositiveIndex`, uniform
  negatives and fixed-shape epochs of triples; :mod:`~gnnrec_course.training.ranking`:
  :func:`fit_ranking` (LightGCN with BPR, early stopping on validation NDCG@k);
  :mod:`~gnnrec_course.training.ranking_rating`: :func:`fit_rating_for_ranking` (the rating
  model on a ranking protocol);
* :mod:`~gnnrec_course.training.timing`: :func:`epoch_seconds`, the epoch timing of the doctor
  and the benchmark;
* :mod:`~gnnrec_course.training.pipeline`: :func:`train_default` (data to tested model, with a
  model of the registry :data:`gnnrec_course.config.MODELS`) and :class:`TrainResult`.

Typical use::

    result = fit(model, graph, train_edges, val_edges, epochs=300, learning_rate=1e-2)
    preds = predict(result.state, graph, test_edges.users, test_edges.movies)
"""

from . import batches, sharding
from .fit import FitResult, fit
from .losses import LOSSES, get_loss, masked_l1_loss, masked_mse_loss
from .pipeline import (
    DEFAULT_HPARAMS,
    MODEL_NAMES,
    TUTORIAL_HPARAMS,
    TrainResult,
    build_model,
    train_default,
)
from .ranking import RankingResult, fit_ranking, interaction_graph, layer0_embeddings
from .ranking_bpr import PositiveIndex, bpr_epoch_batches, bpr_loss, sample_negatives
from .ranking_pipeline import RankingRun, train_ranking
from .ranking_rating import RatingRankingResult, fit_rating_for_ranking
from .state import (
    TrainState,
    as_device_graph,
    create_train_state,
    edge_arrays,
    eval_step,
    evaluate,
    evaluate_batches,
    make_optimizer,
    masked_error_sums,
    masked_train_step,
    predict,
    train_step,
)
from .timing import EpochTiming, epoch_seconds

__all__ = [
    "DEFAULT_HPARAMS",
    "EpochTiming",
    "FitResult",
    "LOSSES",
    "MODEL_NAMES",
    "PositiveIndex",
    "RankingResult",
    "RankingRun",
    "RatingRankingResult",
    "TUTORIAL_HPARAMS",
    "TrainResult",
    "TrainState",
    "as_device_graph",
    "batches",
    "bpr_loss",
    "build_model",
    "create_train_state",
    "edge_arrays",
    "bpr_epoch_batches",
    "epoch_seconds",
    "eval_step",
    "evaluate",
    "evaluate_batches",
    "fit",
    "fit_ranking",
    "fit_rating_for_ranking",
    "get_loss",
    "interaction_graph",
    "layer0_embeddings",
    "make_optimizer",
    "masked_error_sums",
    "masked_l1_loss",
    "masked_mse_loss",
    "masked_train_step",
    "predict",
    "sample_negatives",
    "sharding",
    "train_default",
    "train_ranking",
    "train_step",
]
