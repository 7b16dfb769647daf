"""Tests for gnnrec_course.metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnnrec_course.errors import CourseError
from gnnrec_course.metrics import (
    hits_at_k,
    mae,
    ndcg_at_k,
    precision_at_k,
    ranking_from_hits,
    recall_at_k,
    rmse,
)


def test_rmse_and_mae_hand_computed():
    pred = [3.0, 4.0, 5.0, 1.0]
    target = [4.0, 4.0, 3.0, 1.0]
    # errors: -1, 0, 2, 0 -> squared 1, 0, 4, 0
    assert rmse(pred, target) == pytest.approx(math.sqrt(5 / 4))
    assert mae(pred, target) == pytest.approx(3 / 4)
    assert isinstance(rmse(np.array(pred, np.float32), target), float)


def test_rmse_zero_for_perfect_prediction_and_shape_mismatch_raises():
    assert rmse([1, 2, 3], [1, 2, 3]) == 0.0
    with pytest.raises(CourseError, match="must match"):
        rmse([1, 2], [1, 2, 3])
    with pytest.raises(CourseError, match="empty"):
        mae([], [])


# One user: recommended [1, 2, 3, 4], relevant {2, 4, 9}, k = 3 -> one hit at rank 2.
# Another: recommended [5, 6, 7], relevant {5, 7}, k = 3 -> hits at ranks 1 and 3.
RECS = [[1, 2, 3, 4], [5, 6, 7]]
REL = [{2, 4, 9}, {5, 7}]


def test_precision_and_recall_hand_computed():
    assert precision_at_k(RECS, REL, 3) == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert recall_at_k(RECS, REL, 3) == pytest.approx((1 / 3 + 2 / 2) / 2)


def test_ndcg_hand_computed():
    # user 1: DCG = 1/log2(3); IDCG over min(3, 3) = 1 + 1/log2(3) + 1/2
    u1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 0.5)
    # user 2: DCG = 1 + 1/log2(4) = 1.5; IDCG over min(3, 2) = 1 + 1/log2(3)
    u2 = 1.5 / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RECS, REL, 3) == pytest.approx((u1 + u2) / 2)


def test_perfect_ranking_scores_one_and_ideal_uses_min_k_relevant():
    recs = [[7, 8, 1, 2]]
    rel = [{7, 8}]
    assert ndcg_at_k(recs, rel, 4) == pytest.approx(1.0)
    assert recall_at_k(recs, rel, 4) == pytest.approx(1.0)
    assert precision_at_k(recs, rel, 4) == pytest.approx(0.5)
    # more relevant items than k: the ideal list is k hits long, so k hits give NDCG 1
    assert ndcg_at_k([[1, 2]], [{1, 2, 3, 4}], 2) == pytest.approx(1.0)
    assert recall_at_k([[1, 2]], [{1, 2, 3, 4}], 2) == pytest.approx(0.5)


def test_users_without_relevant_items_are_skipped():
    recs = [[1, 2], [3, 4]]
    assert precision_at_k(recs, [{1}, set()], 2) == pytest.approx(0.5)
    assert ndcg_at_k(recs, [{1}, set()], 2) == pytest.approx(1.0)
    assert math.isnan(recall_at_k(recs, [set(), set()], 2))


def test_short_lists_duplicates_and_array_input():
    # a list shorter than k: missing places are misses (precision still divides by k)
    assert precision_at_k([[1]], [{1}], 4) == pytest.approx(0.25)
    # a repeated item counts once
    assert precision_at_k([[1, 1]], [{1}], 2) == pytest.approx(0.5)
    arr = np.array([[1, 2, 3], [5, 6, 7]])
    assert precision_at_k(arr, REL, 2) == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_hits_and_ranking_from_hits_agree_with_wrappers():
    hits, n_rel = hits_at_k(RECS, REL, 3)
    assert hits.tolist() == [[False, True, False], [True, False, True]]
    assert n_rel.tolist() == [3, 2]
    out = ranking_from_hits(hits, n_rel)
    assert set(out) == {"precision@3", "recall@3", "ndcg@3"}
    assert out["ndcg@3"] == pytest.approx(ndcg_at_k(RECS, REL, 3))


def test_bad_k_and_mismatched_users_raise():
    with pytest.raises(CourseError, match="k must be"):
        precision_at_k(RECS, REL, 0)
    with pytest.raises(CourseError, match="one list and one set per user"):
        recall_at_k(RECS, REL[:1], 2)
    with pytest.raises(CourseError, match=r"hits must be \[users, k\]"):
        ranking_from_hits(np.zeros((2, 3), bool), np.ones(3))
