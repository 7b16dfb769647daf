"""Tests for gnnrec_course.config: typed configs, the model registry, one source of settings."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from gnnrec_course import config, models, training
from gnnrec_course.config import (
    MODELS,
    RatingModelConfig,
    TrainConfig,
    TutorialModelConfig,
    build_model,
    get_model_entry,
    with_overrides,
)
from gnnrec_course.data import synthetic_ratings
from gnnrec_course.errors import CourseError
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges, split_ratings


def one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message
    return message


# ----- names and keys ------------------------------------------------------------------------


def test_registry_has_the_default_and_tutorial_models():
    assert {"default", "tutorial"} <= set(MODELS)
    for name, entry in MODELS.items():
        assert entry.name == name
        assert entry.objective in config.OBJECTIVES
        assert entry.description and "\n" not in entry.description
        train_type = TrainConfig if entry.objective == "rating" else config.RankingTrainConfig
        assert isinstance(entry.train, train_type)


@pytest.mark.parametrize("name", ["nope", "Default", ""])
def test_unknown_model_name_lists_the_valid_names(name):
    with pytest.raises(CourseError) as info:
        get_model_entry(name)
    message = one_line(info.value)
    assert repr(name) in message
    for valid in MODELS:
        assert valid in message


@pytest.mark.parametrize("cfg", [RatingModelConfig(), TutorialModelConfig(), TrainConfig()])
def test_unknown_key_names_the_key_and_lists_the_valid_ones(cfg):
    with pytest.raises(CourseError) as info:
        with_overrides(cfg, embed_dimm=3)
    message = one_line(info.value)
    assert "'embed_dimm'" in message
    for f in dataclasses.fields(cfg):
        assert f.name in message


def test_with_overrides_returns_a_new_frozen_config():
    base = RatingModelConfig()
    changed = with_overrides(base, embed_dim=8, l2=0.5)
    assert (changed.embed_dim, changed.l2) == (8, 0.5)
    assert changed.num_layers == base.num_layers
    assert base == RatingModelConfig()  # unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.embed_dim = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad", [{"epochs": 0}, {"epochs": 2.5}, {"eval_every": 0}, {"patience": 0}]
)
def test_train_config_rejects_values_out_of_range(bad):
    with pytest.raises(CourseError) as info:
        with_overrides(TrainConfig(), **bad)
    assert next(iter(bad)) in one_line(info.value)
    assert TrainConfig(patience=None).patience is None


def test_build_model_rejects_unknown_model_override():
    with pytest.raises(CourseError, match="rating_hiden"):
        build_model(
            "default", num_nodes=6, num_users=3, rating_min=1.0, rating_max=5.0, rating_hiden=4
        )


def test_model_with_a_blend_weight_of_one_is_a_clear_error():
    model = models.default_model(6, num_users=3, rating_weight=1.0)
    graph = _tiny_problem()[2]
    with pytest.raises(CourseError, match="rating_weight"):
        model.init(jax.random.PRNGKey(0), graph, np.zeros(1, np.int32), np.zeros(1, np.int32))


# ----- one source of truth -------------------------------------------------------------------


def _fields_of(module, cfg) -> dict:
    return {f.name: getattr(module, f.name) for f in dataclasses.fields(cfg)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_built_module_has_the_config_numbers(name):
    entry = get_model_entry(name)
    module = build_model(
        name, num_nodes=50, num_users=20, rating_min=0.5, rating_max=5.0, rating_mean=3.2
    )
    assert _fields_of(module, entry.model) == config.as_dict(entry.model)
    assert module.num_nodes == 50
    if entry.objective == "rating":
        assert (module.rating_min, module.rating_max) == (0.5, 5.0)


def test_build_model_applies_overrides_and_data_facts():
    module = build_model(
        "default", num_nodes=50, num_users=20, rating_min=1.0, rating_max=5.0,
        rating_mean=3.2, embed_dim=7,
    )  # fmt: skip
    assert module.embed_dim == 7 and module.num_users == 20 and module.rating_mean == 3.2
    assert module.rating_hidden == RatingModelConfig().rating_hidden


def test_class_defaults_and_factories_read_the_configs():
    """GCNRecommender/TutorialGCN field defaults and default_model()/tutorial_model() agree."""
    rating, tutorial = RatingModelConfig(), TutorialModelConfig()
    assert _fields_of(models.GCNRecommender(num_nodes=4), rating) == config.as_dict(rating)
    assert _fields_of(models.default_model(4), rating) == config.as_dict(rating)
    assert _fields_of(models.TutorialGCN(num_nodes=4), tutorial) == config.as_dict(tutorial)
    assert _fields_of(models.tutorial_model(4), tutorial) == config.as_dict(tutorial)
    assert MODELS["default"].model == rating and MODELS["tutorial"].model == tutorial


def test_training_views_match_the_registry():
    assert training.DEFAULT_HPARAMS["model"] == config.as_dict(MODELS["default"].model)
    assert training.DEFAULT_HPARAMS["fit"] == config.as_dict(MODELS["default"].train)
    assert training.TUTORIAL_HPARAMS["fit"] == config.as_dict(MODELS["tutorial"].train)
    assert MODELS["default"].train == TrainConfig()


# ----- every entry builds and trains ---------------------------------------------------------


def _tiny_problem():
    ratings = synthetic_ratings(n_users=15, n_movies=12, seed=6)
    maps = build_id_maps(ratings)
    split = split_ratings(ratings, seed=0)
    return maps, split, build_graph(split.train, maps), rating_edges(split.train, maps)


@pytest.mark.parametrize("name", sorted(n for n, e in MODELS.items() if e.objective == "rating"))
def test_every_rating_entry_builds_and_runs_one_step(name):
    entry = get_model_entry(name)
    maps, split, graph, train = _tiny_problem()
    module = build_model(
        name, num_nodes=maps.num_nodes, num_users=maps.num_users, rating_min=1.0,
        rating_max=5.0, rating_mean=float(split.train["rating"].mean()),
    )  # fmt: skip
    state = training.create_train_state(
        module, graph, train, learning_rate=entry.train.learning_rate
    )
    new_state, loss = training.train_step(
        state, graph, train.users, train.movies, train.ratings, jax.random.PRNGKey(0),
        loss=entry.train.loss,
    )  # fmt: skip
    assert np.isfinite(float(loss)) and int(new_state.step) == 1
    moved = jax.tree_util.tree_map(
        lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))), state.params, new_state.params
    )
    assert any(jax.tree_util.tree_leaves(moved))
    preds = training.predict(new_state, graph, train.users, train.movies)
    assert preds.shape == (len(train),) and np.all((preds >= 1.0) & (preds <= 5.0))
