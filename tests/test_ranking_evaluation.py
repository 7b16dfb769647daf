"""Ranking evaluation: metrics from hits, evaluate_ranking over unseen movies, baselines."""

import numpy as np
import pandas as pd
import pytest

from gnnrec_course.errors import CourseError
from gnnrec_course.graph import build_id_maps
from gnnrec_course.metrics import metrics_from_hits
from gnnrec_course.ranking_eval import (
    UserItems,
    evaluate_ranking,
    popularity_scores,
    random_scores,
    top_k_unseen,
)


def test_metrics_from_hits_hand_computed():
    hits = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=bool)
    n_rel = np.array([2, 1, 5])
    got = metrics_from_hits(hits, n_rel)
    ndcg0 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    ndcg2 = (1 / np.log2(3)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    assert got["precision"] == pytest.approx((2 / 3 + 0 + 1 / 3) / 3)
    assert got["recall"] == pytest.approx((1 + 0 + 1 / 5) / 3)
    assert got["ndcg"] == pytest.approx((ndcg0 + ndcg2) / 3)
    # AP denominators min(k, |relevant|): 2 and 3.
    assert got["map"] == pytest.approx(((1 + 2 / 3) / 2 + 0 + (1 / 2) / 3) / 3)
    assert got["hit_rate"] == pytest.approx(2 / 3)


def test_map_denominator_is_min_k_relevant():
    assert metrics_from_hits(np.ones((1, 3), bool), np.array([10]))["map"] == pytest.approx(1.0)
    assert metrics_from_hits(np.array([[1, 0, 0]], bool), np.array([1]))["map"] == 1.0
    assert metrics_from_hits(np.array([[0, 1, 0]], bool), np.array([1]))["map"] == 0.5


def test_perfect_ranking_scores_one():
    got = metrics_from_hits(np.array([[1, 1, 0]], bool), np.array([2]))
    assert got["ndcg"] == pytest.approx(1.0) and got["recall"] == 1.0


def _case():
    """2 users x 5 movies."""
    train = pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [10, 20, 10]})
    test = pd.DataFrame({"user_id": [1, 2, 2], "movie_id": [30, 20, 50]})
    maps = build_id_maps(pd.concat([train, test, pd.DataFrame({"user_id": [1], "movie_id": [40]})]))
    return maps, UserItems.from_frame(train, maps), UserItems.from_frame(test, maps)


def test_user_items_and_mask():
    maps, train, _ = _case()
    assert train.counts.tolist() == [2, 1] and train.num_movies == 5
    np.testing.assert_array_equal(train.mask(np.array([1, 0])),
                                  [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]])  # fmt: skip


def test_evaluate_ranking_skips_training_movies():
    maps, train, test = _case()
    # Movie index order 10, 20, 30, 40, 50; a score function that prefers low indices.
    fn = lambda users: np.tile(-np.arange(5.0), (len(users), 1))  # noqa: E731
    got = evaluate_ranking(fn, train, test, k=2)
    # user 1: top 2 unseen = [30, 40] -> hit at 1; user 2: [20, 30] -> hit at 1.
    assert got["precision"] == pytest.approx(0.5)
    assert got["recall"] == pytest.approx((1 + 0.5) / 2)
    assert got["coverage"] == pytest.approx(3 / 5)
    np.testing.assert_array_equal(top_k_unseen(fn(np.array([0])), train.mask(np.array([0])), 2),
                                  [[2, 3]])  # fmt: skip


def test_batching_does_not_change_results():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"user_id": rng.integers(1, 30, 400), "movie_id": rng.integers(1, 40, 400)}
    )
    frame = frame.drop_duplicates()
    maps = build_id_maps(frame)
    train = UserItems.from_frame(frame.iloc[::2], maps)
    test = UserItems.from_frame(frame.iloc[1::2], maps)
    fn = random_scores(maps.num_movies, seed=3)
    assert evaluate_ranking(fn, train, test, batch_size=1) == evaluate_ranking(fn, train, test)
    np.testing.assert_array_equal(fn(np.array([4, 5]))[1], fn(np.array([5]))[0])


def test_popularity_scores_are_training_counts():
    maps, train, test = _case()
    scores = popularity_scores(train)(np.array([0, 1]))
    np.testing.assert_array_equal(scores, [[2, 1, 0, 0, 0]] * 2)
    got = evaluate_ranking(popularity_scores(train), train, test, k=1)
    # user 1 gets movie 30 (ties -> lowest index): hit; user 2 gets movie 20: hit.
    assert got["precision"] == 1.0


def test_users_without_relevant_movies_are_skipped_and_k_is_checked():
    got = metrics_from_hits(np.array([[1, 0], [1, 1]], bool), np.array([1, 0]))
    assert got["precision"] == 0.5 and got["hit_rate"] == 1.0
    maps, train, test = _case()
    with pytest.raises(CourseError):
        evaluate_ranking(popularity_scores(train), train, test, k=0)


def test_a_user_with_few_unseen_movies_gets_no_seen_hits():
    maps, train, test = _case()
    # k = 5 > unseen movies of user 1 (3): seen movies fill the list but are never hits.
    everything = UserItems.from_frame(
        pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [10, 20, 10]}), maps
    )
    got = evaluate_ranking(popularity_scores(train), train, everything, k=5)
    assert got["precision"] == 0.0 and got["coverage"] == pytest.approx(4 / 5)
