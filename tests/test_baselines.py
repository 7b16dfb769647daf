"""Tests for gnnrec_course.baselines on synthetic data with planted structure (and ml-100k u1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnrec_course.baselines import (
    BiasBaseline,
    GlobalMean,
    MatrixFactorization,
    evaluate_baselines,
)
from gnnrec_course.errors import CourseError, NotFittedError
from gnnrec_course.graph import RatingSplit
from gnnrec_course.metrics import mae, rmse


def planted(
    n_users: int = 120,
    n_movies: int = 90,
    density: float = 0.4,
    rank: int = 0,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Ratings mu + b_u + b_i (+ p_u . q_i of the given rank) + noise, on raw ids 1.. ."""
    rng = np.random.default_rng(seed)
    mu = 3.5
    bu = rng.normal(0.0, 0.5, n_users)
    bi = rng.normal(0.0, 0.5, n_movies)
    p = rng.normal(0.0, 0.8, (n_users, rank))
    q = rng.normal(0.0, 0.8, (n_movies, rank))
    mask = rng.random((n_users, n_movies)) < density
    u, i = np.nonzero(mask)
    r = mu + bu[u] + bi[i] + np.sum(p[u] * q[i], axis=1) + rng.normal(0.0, noise, len(u))
    df = pd.DataFrame(
        {
            "user_id": (u + 1).astype(np.int64),
            "movie_id": (i + 101).astype(np.int64),  # movie ids differ from user ids
            "rating": r.astype(np.float32),
            "timestamp": np.arange(len(u), dtype=np.int64),
        }
    )
    truth = {
        "mu": mu,
        "user_bias": pd.Series(bu, index=np.arange(1, n_users + 1)),
        "movie_bias": pd.Series(bi, index=np.arange(101, n_movies + 101)),
    }
    return df, truth


def holdout(df: pd.DataFrame, frac: float = 0.2, seed: int = 0):
    test = df.sample(frac=frac, random_state=seed)
    return df.drop(test.index), test


def score(model, train: pd.DataFrame, test: pd.DataFrame) -> float:
    return rmse(model.fit(train).predict(test), test["rating"].to_numpy())


def test_global_mean_predicts_the_training_mean():
    df, _ = planted()
    pred = GlobalMean().fit(df).predict(df.head(7))
    assert pred.dtype == np.float32 and pred.shape == (7,)
    np.testing.assert_allclose(pred, df["rating"].mean(), rtol=1e-6)


def test_bias_baseline_recovers_planted_biases():
    df, truth = planted(noise=0.1)
    model = BiasBaseline(reg=1.0).fit(df)
    assert model.mu == pytest.approx(df["rating"].mean())
    bu = model.user_bias.reindex(truth["user_bias"].index)
    bi = model.movie_bias.reindex(truth["movie_bias"].index)
    assert np.corrcoef(bu, truth["user_bias"])[0, 1] > 0.95
    assert np.corrcoef(bi, truth["movie_bias"])[0, 1] > 0.95
    # biases are identified up to a constant shared with mu: compare them centred
    for fitted, planted_bias in ((bu, truth["user_bias"]), (bi, truth["movie_bias"])):
        gap = (fitted - fitted.mean()) - (planted_bias - planted_bias.mean())
        assert gap.abs().mean() < 0.1
    # and the noise-free ratings mu + b_u + b_i are recovered
    u, i = df["user_id"], df["movie_id"]
    clean = truth["mu"] + truth["user_bias"][u].to_numpy() + truth["movie_bias"][i].to_numpy()
    assert rmse(model.predict(df), clean) < 0.1
    # the default, stronger regularisation still ranks the biases right
    default = BiasBaseline().fit(df)
    assert np.corrcoef(default.movie_bias.reindex(bi.index), truth["movie_bias"])[0, 1] > 0.95


def test_regularisation_shrinks_biases():
    df, _ = planted()
    weak = BiasBaseline(reg=0.5).fit(df).user_bias.abs().mean()
    strong = BiasBaseline(reg=100.0).fit(df).user_bias.abs().mean()
    assert strong < weak
    sep = BiasBaseline(reg_user=0.0, reg_movie=1e9).fit(df)
    assert sep.movie_bias.abs().max() < 1e-3  # movie biases shrunk to nothing


def test_bias_beats_global_mean():
    train, test = holdout(planted()[0])
    assert score(BiasBaseline(), train, test) < 0.8 * score(GlobalMean(), train, test)


def test_mf_beats_bias_on_low_rank_data():
    train, test = holdout(planted(rank=3, density=0.4)[0])
    bias = score(BiasBaseline(), train, test)
    mf = score(MatrixFactorization(dim=10, epochs=8), train, test)
    assert mf < 0.8 * bias


def test_mf_training_error_decreases_and_is_deterministic():
    train, test = holdout(planted(rank=2)[0])
    a = MatrixFactorization(dim=8, epochs=5, seed=3).fit(train)
    b = MatrixFactorization(dim=8, epochs=5, seed=3).fit(train)
    np.testing.assert_array_equal(a.predict(test), b.predict(test))
    assert a.history[-1] <= a.history[0] + 1e-9
    assert a.user_factors.shape == (train["user_id"].nunique(), 8)
    assert a.movie_factors.shape == (train["movie_id"].nunique(), 8)


@pytest.mark.parametrize("cls", [BiasBaseline, MatrixFactorization])
def test_unknown_ids_fall_back_to_mu_plus_known_bias(cls):
    df, _ = planted()
    model = cls().fit(df)
    known_user, known_movie = int(df["user_id"].iloc[0]), int(df["movie_id"].iloc[0])
    query = pd.DataFrame(
        {"user_id": [99999, known_user, 99999], "movie_id": [known_movie, 88888, 88888]}
    )
    pred = model.predict(query)
    lo, hi = df["rating"].min(), df["rating"].max()
    expected = np.clip(
        [
            model.mu + model.movie_bias[known_movie],
            model.mu + model.user_bias[known_user],
            model.mu,
        ],
        lo,
        hi,
    )
    np.testing.assert_allclose(pred, expected, rtol=1e-5)


@pytest.mark.parametrize("cls", [BiasBaseline, MatrixFactorization])
def test_predictions_are_clipped_to_training_range(cls):
    df, _ = planted(rank=2)
    df["rating"] = np.clip(np.round(df["rating"]), 1, 5).astype(np.float32)
    pred = cls().fit(df).predict(df)
    assert pred.dtype == np.float32
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_predict_before_fit_and_bad_frames_raise():
    df, _ = planted()
    with pytest.raises(NotFittedError, match=r"call \.fit\(train_df\)"):
        BiasBaseline().predict(df)
    with pytest.raises(NotFittedError, match=r"call \.fit\(train_df\)"):
        GlobalMean().predict(df)
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = BiasBaseline().user_bias
    with pytest.raises(CourseError, match="rating"):
        BiasBaseline().fit(df.drop(columns="rating"))
    with pytest.raises(CourseError, match="empty"):
        MatrixFactorization().fit(df.iloc[:0])
    with pytest.raises(CourseError, match="must be positive"):
        MatrixFactorization(dim=0)


def test_evaluate_baselines_returns_rmse_and_mae_for_each():
    df, _ = planted(rank=2)
    train, test = holdout(df)
    train, val = holdout(train, frac=0.1, seed=1)
    split = RatingSplit(train=train, val=val, test=test, name="random", seed=0)
    out = evaluate_baselines(split)
    assert set(out) == {"global_mean", "bias", "mf"}
    for name, scores in out.items():
        assert set(scores) == {"rmse", "mae"}, name
        assert all(isinstance(v, float) and np.isfinite(v) for v in scores.values())
    assert out["mf"]["rmse"] < out["bias"]["rmse"] < out["global_mean"]["rmse"]
    expected = rmse(GlobalMean().fit(train).predict(test), test["rating"])
    assert out["global_mean"]["rmse"] == pytest.approx(expected)


@pytest.mark.realdata
def test_baselines_on_ml100k_u1(movielens_dir):
    from gnnrec_course.data import load_fold

    train, test = load_fold("u1", root=movielens_dir)
    target = test["rating"].to_numpy()
    gm = rmse(GlobalMean().fit(train).predict(test), target)
    bias_pred = BiasBaseline().fit(train).predict(test)
    bias = rmse(bias_pred, target)
    assert bias < 1.0 and bias < gm
    assert mae(bias_pred, target) < 0.8
    mf = rmse(MatrixFactorization().fit(train).predict(test), target)
    assert mf < 0.95 and mf < bias
