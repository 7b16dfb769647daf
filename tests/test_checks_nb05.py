"""The self-checks of notebook 05: tables for the shared contract test, and specific tests.

The promise every check keeps (wrong answers fall back with a hint, stubs fall back, the
reference passes) is tested once for all notebooks in ``tests/test_checks_contract.py``.
"""

from __future__ import annotations

import numpy as np

from gnnrec_course import metrics
from gnnrec_course.checks import nb05
from gnnrec_course.reference import inference as ref

# --- deliberately wrong implementations: Exercise 5.1 -------------------------------------


def top_n_no_mask(scores, seen_mask, n):
    return np.argsort(-np.asarray(scores))[:n]


def top_n_ascending(scores, seen_mask, n):
    masked = np.where(seen_mask, -np.inf, scores)
    return np.argsort(masked)[:n]


def top_n_filtered_positions(scores, seen_mask, n):
    unseen = np.asarray(scores)[~np.asarray(seen_mask)]
    return np.argsort(-unseen)[:n]


def top_n_padded(scores, seen_mask, n):
    masked = np.where(seen_mask, -np.inf, scores)
    return np.argsort(-masked)[:n]


def top_n_in_place(scores, seen_mask, n):
    scores[seen_mask] = -np.inf
    return np.argsort(-scores)[: min(n, int((~seen_mask).sum()))]


def top_n_scores(scores, seen_mask, n):
    masked = np.where(seen_mask, -np.inf, scores)
    return np.sort(masked)[::-1][:n]


def top_n_2d(scores, seen_mask, n):
    return ref.top_n_unseen(scores, seen_mask, n)[None, :]


def top_n_no_return(scores, seen_mask, n):
    np.where(seen_mask, -np.inf, scores)


# --- Exercise 5.2 ---------------------------------------------------------------------------


def _dcg(recommended, relevant, k):
    return sum(1 / np.log2(i + 2) for i, m in enumerate(list(recommended)[:k]) if m in relevant)


def ndcg_dcg_only(recommended, relevant, k):
    return _dcg(recommended, relevant, k)


def ndcg_ideal_over_k(recommended, relevant, k):
    return _dcg(recommended, relevant, k) / sum(1 / np.log2(i + 2) for i in range(k))


def ndcg_off_by_one(recommended, relevant, k):
    dcg = sum(1 / np.log2(i + 3) for i, m in enumerate(list(recommended)[:k]) if m in relevant)
    idcg = sum(1 / np.log2(i + 3) for i in range(min(k, len(relevant))))
    return dcg / idcg


def ndcg_no_cutoff(recommended, relevant, k):
    dcg = _dcg(recommended, relevant, len(recommended))
    return dcg / sum(1 / np.log2(i + 2) for i in range(min(k, len(relevant))))


def ndcg_precision(recommended, relevant, k):
    return len(set(list(recommended)[:k]) & set(relevant)) / k


def ndcg_natural_log(recommended, relevant, k):
    """Natural log instead of log2: the base cancels in DCG / IDCG, so this is correct."""
    dcg = sum(1 / np.log(i + 2) for i, m in enumerate(list(recommended)[:k]) if m in relevant)
    return dcg / sum(1 / np.log(i + 2) for i in range(min(k, len(relevant))))


# --- Exercise 5.3 ---------------------------------------------------------------------------


def _without(order, index, n):
    return [int(i) for i in order if i != index][:n]


def cos_dot_product(embeddings, index, n):
    return _without(np.argsort(-(embeddings @ embeddings[index]), kind="stable"), index, n)


def cos_includes_itself(embeddings, index, n):
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return np.argsort(-(unit @ unit[index]), kind="stable")[:n]


def cos_euclidean(embeddings, index, n):
    dist = np.linalg.norm(embeddings - embeddings[index], axis=1)
    return _without(np.argsort(dist, kind="stable"), index, n)


def cos_ascending(embeddings, index, n):
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return _without(np.argsort(unit @ unit[index], kind="stable"), index, n)


def cos_always_row_zero(embeddings, index, n):
    return ref.cosine_similar(embeddings, 0, n)


def cos_in_place(embeddings, index, n):
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return _without(np.argsort(-(embeddings @ embeddings[index]), kind="stable"), index, n)


def cos_padded_with_itself(embeddings, index, n):
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sim = unit @ unit[index]
    sim[index] = -np.inf
    return np.argsort(-sim, kind="stable")[:n]


CHECKS = [
    ("5.1", nb05.check_top_n_unseen, ref.top_n_unseen),
    ("5.2", nb05.check_ndcg_at_k, ref.ndcg_at_k),
    ("5.3", nb05.check_cosine_similar, ref.cosine_similar),
]

WRONG = [
    ("5.1", nb05.check_top_n_unseen, top_n_no_mask, "already seen"),
    ("5.1", nb05.check_top_n_unseen, top_n_ascending, "*worst* unseen"),
    ("5.1", nb05.check_top_n_unseen, top_n_filtered_positions, "positions in the array"),
    ("5.1", nb05.check_top_n_unseen, top_n_padded, "never pad the list"),
    ("5.1", nb05.check_top_n_unseen, top_n_in_place, "changed the `scores` array"),
    ("5.1", nb05.check_top_n_unseen, top_n_scores, "look like scores"),
    ("5.1", nb05.check_top_n_unseen, top_n_2d, "1-D array of indices"),
    ("5.1", nb05.check_top_n_unseen, top_n_no_return, "forget the `return`"),
    ("5.2", nb05.check_ndcg_at_k, ndcg_dcg_only, "this is the DCG"),
    ("5.2", nb05.check_ndcg_at_k, ndcg_ideal_over_k, "min(k, len(relevant))"),
    ("5.2", nb05.check_ndcg_at_k, ndcg_off_by_one, "off by one"),
    ("5.2", nb05.check_ndcg_at_k, ndcg_no_cutoff, "only the first k"),
    ("5.2", nb05.check_ndcg_at_k, ndcg_precision, "precision@5"),
    ("5.3", nb05.check_cosine_similar, cos_dot_product, "plain dot product"),
    ("5.3", nb05.check_cosine_similar, cos_includes_itself, "the movie itself"),
    ("5.3", nb05.check_cosine_similar, cos_euclidean, "Euclidean"),
    ("5.3", nb05.check_cosine_similar, cos_ascending, "*least* similar"),
    ("5.3", nb05.check_cosine_similar, cos_always_row_zero, "not always row 0"),
    ("5.3", nb05.check_cosine_similar, cos_in_place, "rather than in place"),
    ("5.3", nb05.check_cosine_similar, cos_padded_with_itself, "never the row itself"),
]


def test_equivalent_correct_answers_pass(capsys):
    """Other correct solutions pass: a natural-log NDCG, lists for 5.1 and 5.3."""
    assert nb05.check_ndcg_at_k(ndcg_natural_log) is ndcg_natural_log

    def top_n_list(scores, seen_mask, n):
        return ref.top_n_unseen(scores, seen_mask, n).tolist()

    assert nb05.check_top_n_unseen(top_n_list) is top_n_list
    capsys.readouterr()


def test_reference_ndcg_agrees_with_package_metrics():
    rng = np.random.default_rng(0)
    for _ in range(20):
        recommended = rng.permutation(30)[:10]
        relevant = set(rng.choice(30, size=rng.integers(1, 8), replace=False).tolist())
        for k in (1, 3, 5, 10, 15):
            ours = ref.ndcg_at_k(recommended, relevant, k)
            assert np.isclose(ours, metrics.ndcg_at_k([recommended], [relevant], k))


def test_reference_top_n_and_cosine_match_recommender_conventions():
    scores = np.array([1.0, 5.0, 5.0, 2.0, 4.0])
    seen = np.array([False, False, False, False, True])
    assert ref.top_n_unseen(scores, seen, 3).tolist() == [1, 2, 3]  # ties: smaller index first
    emb = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.1], [-1.0, 0.0]])
    assert ref.cosine_similar(emb, 0, 3).tolist() == [2, 1, 3]  # zero row: similarity 0
