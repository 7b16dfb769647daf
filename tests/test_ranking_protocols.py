import numpy as np
import pandas as pd
import pytest

from gnnrec_course.errors import CourseError
from gnnrec_course.graph import (
    implicit_feedback,
    ranking_split,
    stratified_split,
    temporal_split,
)


def _frame(counts: list[int], seed: int = 0) -> pd.DataFrame:
    """User i + 1 has counts[i] interactions with distinct movies and shuffled timestamps."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, len(counts) + 1), counts)
    movies = np.concatenate([rng.permutation(50)[:c] + 1 for c in counts])
    frame = pd.DataFrame({
        "user_id": users, "movie_id": movies,
        "rating": rng.integers(1, 6, len(users)).astype(np.float32),
        "timestamp": rng.permutation(len(users)) + 1000,
    })  # fmt: skip
    return frame.sample(frac=1.0, random_state=1)  # rows not grouped by user


def _reference_stratified(data: pd.DataFrame, ratio: float, seed: int):
    """Microsoft Recommenders' documented algorithm, written with pandas as an oracle."""
    data = data.copy()
    data["random"] = np.random.RandomState(seed).rand(len(data))
    data = data.sort_values(["user_id", "random"])
    groups = data.groupby("user_id")
    data["rank"] = (groups.cumcount() + 1) / groups["user_id"].transform("count")
    return data[data["rank"] <= ratio].index, data[data["rank"] > ratio].index


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_stratified_matches_the_reference_algorithm(seed):
    data = _frame([1, 2, 3, 4, 5, 8, 13, 20, 37])
    train, test = stratified_split(data, 0.75, seed)
    ref_train, ref_test = _reference_stratified(data, 0.75, seed)
    assert sorted(train.index) == sorted(ref_train)
    assert sorted(test.index) == sorted(ref_test)


def test_stratified_keeps_floor_of_ratio_per_user():
    counts = [1, 2, 3, 4, 5, 8, 13, 20, 37]
    train, test = stratified_split(_frame(counts), 0.75, seed=3)
    per_user = train.groupby("user_id").size().reindex(range(1, 10), fill_value=0)
    assert per_user.tolist() == [int(np.floor(0.75 * c)) for c in counts]
    assert len(train) + len(test) == sum(counts)
    assert not set(train.index) & set(test.index)


def test_stratified_is_seeded():
    data = _frame([10, 20, 30])
    a, _ = stratified_split(data, seed=1)
    b, _ = stratified_split(data, seed=1)
    c, _ = stratified_split(data, seed=2)
    assert a.index.equals(b.index)
    assert not a.index.equals(c.index)


def test_stratified_leaves_global_random_state_alone():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    stratified_split(_frame([10, 20]), seed=5)
    assert np.random.rand() == expected


def test_stratified_min_interactions_drops_small_users():
    train, test = stratified_split(_frame([2, 3, 10]), seed=0, min_interactions=3)
    assert set(pd.concat([train, test])["user_id"]) == {2, 3}


def test_stratified_by_item_stratifies_movies():
    data = _frame([30, 30, 30, 30])
    train, _ = stratified_split(data, 0.5, seed=0, by="item")
    counts = data.groupby("movie_id").size()
    kept = train.groupby("movie_id").size().reindex(counts.index, fill_value=0)
    assert (kept == np.floor(0.5 * counts)).all()


def test_temporal_puts_the_latest_in_test():
    data = _frame([4, 9, 20])
    train, test = temporal_split(data, 0.75)
    for user in (1, 2, 3):
        tr = train[train.user_id == user].timestamp
        te = test[test.user_id == user].timestamp
        assert tr.max() < te.min()
        assert len(tr) == int(np.floor(0.75 * (len(tr) + len(te))))


def test_implicit_feedback_threshold():
    data = _frame([10, 10])
    assert len(implicit_feedback(data)) == len(data)
    kept = implicit_feedback(data, min_rating=4)
    assert (kept.rating >= 4).all()
    assert len(kept) == int((data.rating >= 4).sum())


@pytest.mark.parametrize("protocol", ["stratified", "temporal"])
def test_ranking_split_carves_validation_from_train(protocol):
    data = _frame([8, 12, 20, 40])
    split = ranking_split(data, protocol, seed=0)
    assert set(split.fit.index) | set(split.val.index) == set(split.train.index)
    assert not set(split.fit.index) & set(split.val.index)
    assert not (set(split.fit.index) | set(split.val.index)) & set(split.test.index)
    assert len(split.train) + len(split.test) == len(data)


def test_bad_arguments():
    data = _frame([4])
    with pytest.raises(CourseError):
        stratified_split(data, 1.5)
    with pytest.raises(CourseError):
        stratified_split(data, by="movie")
    with pytest.raises(CourseError):
        ranking_split(data, "random")
