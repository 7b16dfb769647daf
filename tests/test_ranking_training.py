"""BPR loss, negative sampling, epoch batches and fit_ranking."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnrec_course.config import ConfigError
from gnnrec_course.data import synthetic_dataset
from gnnrec_course.errors import CourseError
from gnnrec_course.graph import build_id_maps, ranking_split
from gnnrec_course.models import LightGCN
from gnnrec_course.training import (
    PositiveIndex,
    bpr_epoch_batches,
    bpr_loss,
    fit_ranking,
    fit_rating_for_ranking,
    layer0_embeddings,
    sample_negatives,
    train_ranking,
)


def test_bpr_loss_hand_computed():
    pos, neg = jnp.array([2.0, 0.0, -1.0]), jnp.array([0.0, 0.0, 1.0])
    per_pair = [np.log1p(np.exp(-2.0)), np.log(2.0), np.log1p(np.exp(2.0))]
    np.testing.assert_allclose(bpr_loss(pos, neg), np.mean(per_pair), rtol=1e-6)
    weighted = bpr_loss(pos, neg, jnp.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(weighted, np.mean(per_pair[:2]), rtol=1e-6)
    # The loss falls as the positive pulls ahead of the negative.
    assert bpr_loss(jnp.array([3.0]), jnp.array([0.0])) < bpr_loss(
        jnp.array([0.0]), jnp.array([0.0])
    )


def _dense_case():
    """4 users x 6 movies; user 0 has every movie but movie 5, user 3 has none."""
    dense = np.array([
        [1, 1, 1, 1, 1, 0],
        [1, 0, 0, 0, 0, 1],
        [0, 1, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ], dtype=bool)  # fmt: skip
    users, movies = np.nonzero(dense)
    return dense, PositiveIndex(users, movies, 4, 6)


def test_positive_index_membership():
    dense, index = _dense_case()
    uu, mm = np.meshgrid(np.arange(4), np.arange(6), indexing="ij")
    np.testing.assert_array_equal(index.contains(uu.ravel(), mm.ravel()), dense.ravel())


def test_sampler_never_returns_a_positive_and_covers_the_negatives():
    dense, index = _dense_case()
    users = np.repeat(np.arange(4), 500)
    negatives = sample_negatives(np.random.default_rng(0), users, index)
    assert not dense[users, negatives].any()
    assert (negatives[users == 0] == 5).all()  # the only negative of user 0
    for u in range(4):
        assert set(negatives[users == u]) == set(np.flatnonzero(~dense[u]))


def test_sampler_is_seeded():
    _, index = _dense_case()
    users = np.repeat(np.arange(4), 50)
    a = sample_negatives(np.random.default_rng(3), users, index)
    b = sample_negatives(np.random.default_rng(3), users, index)
    c = sample_negatives(np.random.default_rng(4), users, index)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_user_with_every_movie_is_an_error():
    with pytest.raises(CourseError, match="every movie"):
        PositiveIndex(np.zeros(3, int), np.arange(3), 1, 3)


@pytest.mark.parametrize("num_negatives", [1, 3])
def test_epoch_batches_fixed_shape_every_positive_num_negatives_times(num_negatives):
    dense, index = _dense_case()
    users, movies = np.nonzero(dense)
    u, p, n, w = bpr_epoch_batches(np.random.default_rng(0), users, movies, index, 4, num_negatives)
    total = len(users) * num_negatives
    assert u.shape == p.shape == n.shape == w.shape == (-(-total // 4), 4)
    assert w.sum() == total
    real = w.ravel() > 0
    pairs = sorted(zip(u.ravel()[real], p.ravel()[real], strict=True))
    assert pairs == sorted(list(zip(users, movies, strict=True)) * num_negatives)
    assert dense[u.ravel(), p.ravel()].all() and not dense[u.ravel(), n.ravel()].any()


def _small():
    ds = synthetic_dataset(n_users=40, n_movies=30, density=0.3, seed=0)
    return build_id_maps(ds.ratings), ranking_split(ds.ratings, "stratified", seed=0)


def test_fit_is_reproducible_and_learns():
    maps, split = _small()
    cfg = dict(embed_dim=8, num_layers=2, batch_size=64, learning_rate=0.05,
               epochs=6, eval_every=2, patience=10)  # fmt: skip
    a = fit_ranking(split.fit, maps, val=split.val, seed=1, progress=False, **cfg)
    b = fit_ranking(split.fit, maps, val=split.val, seed=1, progress=False, **cfg)
    c = fit_ranking(split.fit, maps, val=split.val, seed=2, progress=False, **cfg)
    np.testing.assert_array_equal(a.embeddings(), b.embeddings())
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert not np.array_equal(a.embeddings(), c.embeddings())
    assert a.history[-1]["loss"] < a.history[0]["loss"]
    assert [h["epoch"] for h in a.history if "val_ndcg" in h] == [2, 4, 6]
    assert a.scores_fn()(np.array([0, 1])).shape == (2, maps.num_movies)
    assert isinstance(a.model, LightGCN) and a.model.num_layers == 2


def test_early_stopping_returns_best_epoch():
    maps, split = _small()
    cfg = dict(embed_dim=4, num_layers=1, batch_size=64, learning_rate=0.5,
               epochs=40, eval_every=1, patience=2)  # fmt: skip
    res = fit_ranking(split.fit, maps, val=split.val, seed=0, progress=False, **cfg)
    evals = {h["epoch"]: h["val_ndcg"] for h in res.history if "val_ndcg" in h}
    assert res.best_epoch == max(evals, key=evals.get)
    assert res.epochs_run <= 40
    if res.epochs_run < 40:
        assert res.epochs_run - res.best_epoch == 2


def test_l2_shrinks_layer0_embeddings():
    maps, split = _small()
    cfg = dict(embed_dim=8, num_layers=1, batch_size=64, learning_rate=0.05, epochs=5)
    norms = []
    for l2 in (0.0, 10.0):
        res = fit_ranking(split.train, maps, seed=0, progress=False, l2=l2, **cfg)
        e0 = layer0_embeddings(res.params)
        norms.append(float(jnp.linalg.norm(e0)))
    assert norms[1] < norms[0]


def test_epoch_compiles_once():
    maps, split = _small()
    jax.clear_caches()
    res = fit_ranking(split.train, maps, seed=0, progress=False, embed_dim=4, num_layers=1,
                      batch_size=32, epochs=3)  # fmt: skip
    assert res.epochs_run == 3 and res.best_epoch == 3


def test_scores_are_the_models_decode():
    maps, split = _small()
    res = fit_ranking(split.train, maps, seed=0, progress=False, embed_dim=4, epochs=2)
    z = res.model.apply({"params": res.params}, res.graph, method=res.model.encode)
    users, movies = np.array([0, 3, 5]), np.array([1, 2, 7]) + maps.num_users
    direct = res.model.apply({"params": res.params}, res.graph, users, movies)
    np.testing.assert_allclose(res.scores_fn()(users)[np.arange(3), movies - maps.num_users],
                               direct, rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(res.embeddings(), z, rtol=1e-5, atol=1e-7)


def test_unknown_setting_is_a_config_error():
    maps, split = _small()
    with pytest.raises(ConfigError, match="nope"):
        fit_ranking(split.train, maps, progress=False, nope=1)


@pytest.mark.parametrize("retrain", [False, True])
def test_rating_model_on_a_ranking_protocol(retrain):
    ds = synthetic_dataset(n_users=40, n_movies=30, density=0.3, seed=0)
    maps, split = build_id_maps(ds.ratings), ranking_split(ds.ratings, "stratified", seed=0)
    res = fit_rating_for_ranking(ds, split, maps, progress=False, retrain=retrain, epochs=4)
    assert res.epochs_run == (res.best_epoch if retrain else 4)
    users, movies = np.array([0, 3, 5]), np.array([1, 2, 7]) + maps.num_users
    z = res.model.apply({"params": res.params}, res.graph, method=res.model.encode)
    unclipped = res.model.apply(
        {"params": res.params}, z, users, movies, method=res.model.decode, clip=False
    )
    got = res.scores_fn()(users)[np.arange(3), movies - maps.num_users]
    np.testing.assert_allclose(got, unclipped, rtol=1e-5)
    assert int(np.asarray(res.graph.n_edge)[0]) == 2 * len(split.train if retrain else split.fit)


def test_train_ranking_summary_has_the_design_keys():
    ds = synthetic_dataset(n_users=40, n_movies=30, density=0.3, seed=0)
    run = train_ranking(ds, "stratified", seed=0, epochs=2, progress=False, embed_dim=4)
    out = run.summary()
    assert out["objective"] == "ranking" and out["model"] == "lightgcn" and out["k"] == 10
    assert out["epochs_run"] == 2 and out["selection_epochs"] == 0
    keys = {"precision", "recall", "ndcg", "map", "hit_rate", "coverage"}
    assert set(out["metrics"]) == keys
    assert set(out["baselines"]) == {"popularity", "random"}
    assert all(set(v) == keys for v in out["baselines"].values())
    assert int(np.asarray(run.graph.n_edge)[0]) == 2 * len(run.split.train)
