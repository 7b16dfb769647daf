"""Self-checks for notebook 05: top-N unseen movies, NDCG@k and cosine-similar movies.

Each check runs the learner's function on a small hand-made case and returns the function the
rest of the notebook should use (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gnnrec_course.checks.common import as_indices, as_number, expect, run_check
from gnnrec_course.reference import inference as ref

__all__ = ["check_cosine_similar", "check_ndcg_at_k", "check_top_n_unseen"]


# --- Exercise 5.1 -------------------------------------------------------------------------

_SCORES = np.array([0.5, 2.0, 1.5, 3.0, -1.0, 2.5, 0.0, 1.0])
_SEEN = np.array([False, False, False, True, False, True, False, False])


def _top_n_mistakes(out: list[int], expected: list[int]) -> dict:
    """Hint -> the answer that mistake gives on the test scores (``out``: the learner's)."""
    return {
        f"returned {out}, but movies 3 and 5 are already seen. Set the scores of seen movies "
        "to -inf before sorting, so they can never be in the top n.": [3, 5, 1],
        f"returned {out}: these look like positions in the array of *unseen* scores, not in "
        "`scores`. Keep the full array and mask the seen movies with -inf instead of removing "
        "them, so that indices still match the movies.": [1, 2, 5],
        f"returned {out}: the *worst* unseen movies. np.argsort sorts ascending; sort -scores "
        "(or reverse the order) to put the highest score first.": (
            lambda answer: answer in ([4, 6, 0], [3, 5, 4])
        ),
        f"returned the right movies in the wrong order: {out}, expected {expected} "
        "(best first).": lambda answer: sorted(answer) == sorted(expected),
    }


def _test_top_n_unseen(fn: Callable) -> None:
    scores, seen = _SCORES.copy(), _SEEN.copy()
    what = "top_n_unseen(scores, seen_mask, 3)"
    out = as_indices(fn(scores, seen, 3), what)
    expected = ref.top_n_unseen(_SCORES, _SEEN, 3).tolist()  # [1, 2, 7]
    if not np.array_equal(scores, _SCORES):
        raise AssertionError(
            f"{what} changed the `scores` array it was given (now {scores.tolist()}). Later "
            "cells reuse the scores: mask a copy, e.g. np.where(seen_mask, -np.inf, scores)."
        )
    expect(
        out,
        expected,
        context=f"{what} ",
        mistakes=_top_n_mistakes(out, expected),
        otherwise=(
            f"returned {out} for scores {_SCORES.tolist()} and seen_mask "
            f"{_SEEN.astype(int).tolist()}, expected {expected}: the indices of the 3 highest "
            "scores among the unseen movies, best first."
        ),
    )
    few = [3.0, 1.0, 4.0, 2.0]
    few_seen = [True, False, True, False]
    out = as_indices(fn(np.array(few), np.array(few_seen), 5), "top_n_unseen(..., n=5)")
    expected = ref.top_n_unseen(few, few_seen, 5).tolist()  # [3, 1]
    if out != expected:
        raise AssertionError(
            f"with scores {few}, seen_mask {[int(s) for s in few_seen]} and n=5, only 2 movies "
            f"are unseen, so the answer is {expected}; got {out}. When fewer than n movies are "
            "unseen, return only those: never pad the list with seen movies."
        )


def check_top_n_unseen(fn: Callable) -> Callable:
    """Check Exercise 5.1 ``top_n_unseen(scores [M], seen_mask [M], n) -> int [<= n]``."""
    return run_check(
        "5.1",
        fn,
        ref.top_n_unseen,
        _test_top_n_unseen,
        "you rank every movie the user has not seen, best first: a recommender can now "
        "suggest something new.",
    )


# --- Exercise 5.2 -------------------------------------------------------------------------


def _fmt_set(items: set[int]) -> str:
    """A set printed in sorted order, e.g. ``{20, 50, 99}``."""
    return "{" + ", ".join(str(i) for i in sorted(items)) + "}"


def _disc(ranks: np.ndarray) -> np.ndarray:
    """1 / log2(rank + 1) for 1-based ranks."""
    return 1.0 / np.log2(np.asarray(ranks, dtype=np.float64) + 1.0)


def _ndcg_mistakes() -> dict:
    """Hint -> the value that mistake gives for the example below (hits at ranks 2 and 5)."""
    dcg = float(_disc(np.array([2, 5])).sum())
    return {
        "this is the DCG; divide it by the IDCG, the DCG of a perfect list, so that a perfect "
        "ranking scores 1.": dcg,
        "the ideal list can hold at most len(relevant) relevant movies: sum the IDCG over "
        "min(k, len(relevant)) ranks, not over all k.": dcg / float(_disc(np.arange(1, 6)).sum()),
        "the discount is off by one: rank 1 (index 0) has discount 1 / log2(1 + 1) = 1, rank 2 "
        "has 1 / log2(3). With 0-based positions i use 1 / log2(i + 2).": float(
            _disc(np.array([3, 6])).sum() / _disc(np.array([2, 3, 4])).sum()
        ),
        "that is precision@5 (hits / k); NDCG also rewards putting hits near the top.": 2 / 5,
        "that is recall@5 (hits / relevant); NDCG also rewards putting hits near the top.": 2 / 3,
    }


def _ndcg_example(fn: Callable) -> None:
    """The worked example: hits at ranks 2 and 5 of 5, three relevant movies."""
    recommended = np.array([10, 20, 30, 40, 50])
    relevant = {20, 50, 99}
    expected = ref.ndcg_at_k(recommended, relevant, 5)  # 0.4777
    what = "ndcg_at_k([10, 20, 30, 40, 50], {20, 50, 99}, k=5)"
    value = as_number(fn(recommended.copy(), set(relevant), 5), what)
    expect(
        value,
        expected,
        atol=1e-6,
        context=f"{what} returned {value:.4f}, expected {expected:.4f}: ",
        mistakes=_ndcg_mistakes(),
        otherwise=(
            "the hits are at ranks 2 and 5: DCG = 1/log2(3) + 1/log2(6); IDCG = 1/log2(2) + "
            "1/log2(3) + 1/log2(4) (three relevant movies); NDCG = DCG / IDCG."
        ),
    )


# (recommended, relevant, k, hint when the answer is wrong)
_NDCG_CASES = [
    (
        [10, 20, 30, 40, 50],
        {20, 50, 99},
        3,
        "only the first k recommendations count: with k=3 the hit at rank 5 is ignored.",
    ),
    (
        [7],
        {7},
        10,
        "a list shorter than k is fine: missing places are misses, and the ideal list holds "
        "min(k, len(relevant)) = 1 relevant movie, so one hit at rank 1 is perfect (1.0).",
    ),
    ([3, 1, 2], {1, 2, 3}, 3, "a list of only relevant movies is perfect: NDCG 1.0."),
    ([4, 5, 6], {1, 2}, 3, "a list without any relevant movie has NDCG 0.0."),
]


def _test_ndcg_at_k(fn: Callable) -> None:
    _ndcg_example(fn)
    for recs, rel, k, hint in _NDCG_CASES:
        expected = ref.ndcg_at_k(recs, rel, k)
        what = f"ndcg_at_k({recs}, {_fmt_set(rel)}, k={k})"
        value = as_number(fn(np.array(recs), set(rel), k), what)
        if not np.isclose(value, expected, atol=1e-6):
            raise AssertionError(f"{what} returned {value:.4f}, expected {expected:.4f}: {hint}")


def check_ndcg_at_k(fn: Callable) -> Callable:
    """Check Exercise 5.2 ``ndcg_at_k(recommended [L], relevant set, k) -> float``."""
    return run_check(
        "5.2",
        fn,
        ref.ndcg_at_k,
        _test_ndcg_at_k,
        "NDCG@k rewards relevant movies near the top of the list and is 1 for a perfect list.",
    )


# --- Exercise 5.3 -------------------------------------------------------------------------

# Row 0 is the query. Row 1 is long and at 45 degrees (wins with a plain dot product); row 2
# is short and nearly parallel (wins with cosine); row 3 is opposite; row 4 orthogonal.
_EMB = np.array(
    [
        [1.0, 0.0, 0.0],
        [10.0, 10.0, 0.0],
        [0.9, 0.1, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 0.0, 3.0],
        [0.3, -0.6, 0.0],
    ]
)


def _cosine_mistakes(out: list[int]) -> dict:
    """Hint -> the answer that mistake gives for row 0 of ``_EMB`` (``out``: the learner's)."""
    return {
        f"returned {out}: row 1 is long but points 45 degrees away. That is the plain dot "
        "product, which favours long vectors; divide each row by its length "
        "(np.linalg.norm(..., axis=1)) first, so only the angle counts.": [1, 2, 5],
        f"returned {out}: the *least* similar rows. np.argsort sorts ascending; sort by "
        "-similarity to get the largest first.": lambda answer: answer in ([3, 4, 5], [0, 3, 4]),
        f"returned {out}, which starts with the movie itself (cosine 1 with itself). Exclude "
        "`index` from the result, e.g. set its similarity to -inf before sorting.": (
            lambda answer: bool(answer) and answer[0] == 0
        ),
        f"returned {out}: the plain dot product, and the movie itself. Normalise the rows and "
        "exclude `index`.": [1, 0, 2],
        f"returned {out}: the nearest rows by Euclidean distance. Cosine similarity compares "
        "directions only: a . b / (|a| |b|), largest first.": [2, 5, 3],
    }


def _cosine_other_rows(fn: Callable) -> None:
    """Another query row, and ``n`` larger than the number of other rows."""
    out = as_indices(fn(_EMB.copy(), 3, 3), "cosine_similar(embeddings, 3, 3)")
    expected = ref.cosine_similar(_EMB, 3, 3).tolist()  # [4, 5, 1]
    if out != expected:
        raise AssertionError(
            f"cosine_similar(embeddings, 3, 3) returned {out}, expected {expected}: compare "
            "with row `index`, not always row 0."
        )
    out = as_indices(fn(_EMB.copy(), 0, 10), "cosine_similar(embeddings, 0, 10)")
    expected = ref.cosine_similar(_EMB, 0, 10).tolist()
    if out != expected:
        raise AssertionError(
            f"cosine_similar(embeddings, 0, 10) with 6 rows returned {out}, expected "
            f"{expected}: only 5 other rows exist, so return those 5 and never the row itself."
        )


def _test_cosine_similar(fn: Callable) -> None:
    emb = _EMB.copy()
    what = "cosine_similar(embeddings, 0, 3)"
    out = as_indices(fn(emb, 0, 3), what)
    expected = ref.cosine_similar(_EMB, 0, 3).tolist()  # [2, 1, 5]
    if not np.array_equal(emb, _EMB):
        raise AssertionError(
            f"{what} changed the `embeddings` array it was given. Normalise into a new array "
            "(unit = embeddings / norms[:, None]) rather than in place."
        )
    expect(
        out,
        expected,
        context=f"{what} ",
        mistakes=_cosine_mistakes(out),
        otherwise=(
            f"returned {out}, expected {expected}. The cosines with row 0 are "
            "[1, 0.707, 0.994, -1, 0, 0.447]: drop row 0 itself and take the 3 largest."
        ),
    )
    _cosine_other_rows(fn)


def check_cosine_similar(fn: Callable) -> Callable:
    """Check Exercise 5.3 ``cosine_similar(embeddings [M, D], index, n) -> int [<= n]``."""
    return run_check(
        "5.3",
        fn,
        ref.cosine_similar,
        _test_cosine_similar,
        "you find the movies whose embeddings point the same way, whatever their length.",
    )
