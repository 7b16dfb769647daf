"""Self-checks for notebook 02: recommendation as link prediction on the rating graph.

Each check runs the learner's function on a small hand-made case and returns the function the
rest of the notebook should use (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from gnnrec_course.checks.common import as_array, expect, run_check, same
from gnnrec_course.reference import recsys_data as ref

__all__ = ["check_bias_baseline_predict", "check_bipartite_edges", "check_node_ids"]


def _as_int_array(x: object, what: str) -> np.ndarray:
    """``x`` as a 1-D integer array of node ids, with a hint when it is not one."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise AssertionError(f"{what} should be a 1-D array of node ids, got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.integer):
        raise AssertionError(
            f"{what} has dtype {arr.dtype}; node ids are integers (use int32): they index "
            f"the node arrays."
        )
    return arr


# --- Exercise 2.1: raw ids to node ids --------------------------------------------------------

# Raw ids with gaps (users 3, 7, 8; movies 10, 20, 50, 51), as in many real datasets, and
# ratings that are not sorted by id. U = 3, so the movie nodes are 3..6.
_RAW_USERS = np.array([7, 3, 8, 3, 7], dtype=np.int64)
_RAW_MOVIES = np.array([51, 10, 20, 50, 10], dtype=np.int64)
_ALL_USERS = np.array([3, 7, 8], dtype=np.int64)
_ALL_MOVIES = np.array([10, 20, 50, 51], dtype=np.int64)


def _node_pair(out: object) -> tuple[np.ndarray, np.ndarray]:
    """The learner's ``(user_nodes, movie_nodes)`` as two integer arrays ``[E]``, with hints."""
    if out is None:
        raise AssertionError("node_ids(...) returned None: did you forget the `return`?")
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise AssertionError(
            f"node_ids(...) should return a pair (user_nodes, movie_nodes), got {type(out)}."
        )
    pair = (_as_int_array(out[0], "user_nodes"), _as_int_array(out[1], "movie_nodes"))
    for arr, what in zip(pair, ("user_nodes", "movie_nodes"), strict=True):
        if arr.shape != _RAW_USERS.shape:
            raise AssertionError(
                f"{what} should have shape {_RAW_USERS.shape}, one node id per rating; "
                f"got {arr.shape}."
            )
    return pair


def _test_node_ids(fn: Callable) -> None:
    out = fn(_RAW_USERS.copy(), _RAW_MOVIES.copy(), _ALL_USERS.copy(), _ALL_MOVIES.copy())
    users, movies = _node_pair(out)
    exp_u, exp_m = ref.node_ids(_RAW_USERS, _RAW_MOVIES, _ALL_USERS, _ALL_MOVIES)
    u_count = len(_ALL_USERS)

    def either(raw_u: np.ndarray, raw_m: np.ndarray) -> Callable:
        return lambda pair: same(pair[0], raw_u) or same(pair[1], raw_m)

    mistakes = {
        "you returned raw ids. Node ids must be 0..U-1 for users and U..U+M-1 for movies: "
        "look each raw id up in all_users / all_movies (np.searchsorted).": either(
            _RAW_USERS, _RAW_MOVIES
        ),
        "you subtracted 1 from the raw ids. That only works when the ids are 1, 2, 3, ... "
        "without gaps; here they have gaps. Use the position of each id in all_users / "
        "all_movies (np.searchsorted).": either(_RAW_USERS - 1, _RAW_MOVIES - 1),
        f"the movie nodes start at 0, so movie node 0 is the same node as user node 0. "
        f"Movies come after the users: add U = len(all_users) = {u_count}.": (
            exp_u,
            exp_m - u_count,
        ),
        "users and movies are swapped: return (user_nodes, movie_nodes).": (exp_m, exp_u),
    }
    expect(
        (users, movies),
        (exp_u, exp_m),
        atol=0,
        rtol=0,
        context=(
            f"for users {_RAW_USERS.tolist()} and movies {_RAW_MOVIES.tolist()}, with "
            f"all_users {_ALL_USERS.tolist()} and all_movies {_ALL_MOVIES.tolist()}: "
        ),
        mistakes=mistakes,
        otherwise=(
            f"expected user nodes {exp_u.tolist()} and movie nodes {exp_m.tolist()}, got "
            f"{users.tolist()} and {movies.tolist()}. Hint: np.searchsorted(all_users, "
            f"user_ids), and len(all_users) + np.searchsorted(all_movies, movie_ids)."
        ),
    )


def check_node_ids(fn: Callable) -> Callable:
    """Check Exercise 2.1 ``node_ids(user_ids, movie_ids, all_users, all_movies)``."""
    return run_check(
        "2.1",
        fn,
        ref.node_ids,
        _test_node_ids,
        "users are nodes 0..U-1 and movies U..U+M-1, in the order of their raw ids.",
    )


# --- Exercise 2.2: bipartite edges -------------------------------------------------------------

# 3 users (nodes 0..2) and 3 movies (nodes 3..5); user 0 rated movies 3 and 4, and so on.
_USERS = np.array([0, 0, 1, 2], dtype=np.int32)
_MOVIES = np.array([3, 4, 4, 5], dtype=np.int32)


def _edge_lists(out: object) -> tuple[np.ndarray, np.ndarray]:
    """The learner's ``(senders, receivers)`` as two 1-D integer arrays, with hints."""
    assert out is not None, "bipartite_edges(...) returned None: did you forget the `return`?"
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise AssertionError(
            f"bipartite_edges(...) should return a pair (senders, receivers), got {type(out)}."
        )
    return _as_int_array(out[0], "senders"), _as_int_array(out[1], "receivers")


def _test_bipartite_edges(fn: Callable) -> None:
    senders, receivers = _edge_lists(fn(_USERS.copy(), _MOVIES.copy()))
    exp_s, exp_r = ref.bipartite_edges(_USERS, _MOVIES)
    e = len(_USERS)
    where = "users [0, 0, 1, 2] and movies [3, 4, 4, 5]"
    if len(senders) != len(receivers):
        raise AssertionError(
            f"senders has {len(senders)} entries and receivers {len(receivers)}: edge k goes "
            f"from senders[k] to receivers[k], so they must have the same length."
        )
    if len(senders) == e:
        raise AssertionError(
            f"for {where} you returned {e} edges, one per rating. Add each rating in BOTH "
            f"directions (2E = {2 * e} edges): with user→movie edges only, users never receive "
            f"a message and learn nothing from the movies they rated."
        )
    if len(senders) != 2 * e:
        raise AssertionError(
            f"for {where} expected 2E = {2 * e} edges (each rating in both directions), got "
            f"{len(senders)}."
        )
    if np.any(senders == receivers):
        raise AssertionError(
            "some edges go from a node to itself: pair each user with the movie they rated "
            "(senders = users then movies, receivers = movies then users)."
        )
    got_pairs = list(zip(senders.tolist(), receivers.tolist(), strict=True))
    exp_pairs = list(zip(exp_s.tolist(), exp_r.tolist(), strict=True))
    mistakes = {
        f"the edges are right but in another order. Put the E user→movie edges first and "
        f"then the E movie→user edges, each in the order of the ratings: expected "
        f"senders {exp_s.tolist()} and receivers {exp_r.tolist()}.": (
            lambda pairs: Counter(pairs) == Counter(exp_pairs)
        ),
    }
    expect(
        got_pairs,
        exp_pairs,
        mistakes=mistakes,
        otherwise=(
            f"for {where} expected senders {exp_s.tolist()} and receivers {exp_r.tolist()}, "
            f"got {senders.tolist()} and {receivers.tolist()}. Hint: "
            f"np.concatenate([users, movies]) and np.concatenate([movies, users])."
        ),
    )


def check_bipartite_edges(fn: Callable) -> Callable:
    """Check Exercise 2.2 ``bipartite_edges(users, movies) -> (senders, receivers)``."""
    return run_check(
        "2.2",
        fn,
        ref.bipartite_edges,
        _test_bipartite_edges,
        "every rating is now two directed edges, user→movie and movie→user.",
    )


# --- Exercise 2.3: bias baseline ---------------------------------------------------------------

# Train: 3 users, 3 movies. Test: a known pair, an unknown user (9) and an unknown movie (99).
# The test table also holds ratings, like a real test split: they must not be used.
_BIAS_TRAIN = pd.DataFrame(
    {
        "user_id": [1, 1, 1, 2, 2, 3],
        "movie_id": [10, 20, 30, 10, 20, 10],
        "rating": [5.0, 4.0, 3.0, 4.0, 2.0, 5.0],
    }
)
_BIAS_TEST = pd.DataFrame(
    {
        "user_id": [3, 2, 9, 1],
        "movie_id": [20, 30, 10, 99],
        "rating": [1.0, 1.0, 1.0, 1.0],
    }
)


def _variant(reg: float, *, mu: float | None = None, user_from_residual: bool = True) -> np.ndarray:
    """The bias baseline on the test case, with one common mistake switched on.

    ``mu``: use this global mean instead of the train mean (e.g. one that includes the test
    ratings). ``user_from_residual=False``: user biases from ``r - mu``, not ``r - mu - b_m``.
    """
    mu = float(_BIAS_TRAIN["rating"].mean()) if mu is None else mu
    dev = _BIAS_TRAIN["rating"] - mu
    g_m = dev.groupby(_BIAS_TRAIN["movie_id"])
    b_m = g_m.sum() / (g_m.count() + reg)
    if user_from_residual:
        dev = dev - _BIAS_TRAIN["movie_id"].map(b_m)
    g_u = dev.groupby(_BIAS_TRAIN["user_id"])
    b_u = g_u.sum() / (g_u.count() + reg)
    return (
        mu
        + _BIAS_TEST["user_id"].map(b_u).fillna(0.0).to_numpy()
        + _BIAS_TEST["movie_id"].map(b_m).fillna(0.0).to_numpy()
    )


def _bias_answer(fn: Callable, reg: float) -> np.ndarray:
    """The learner's predictions ``[4]`` for the test rows, with hints for shape and NaN."""
    raw = fn(_BIAS_TRAIN.copy(), _BIAS_TEST.copy(), reg)
    out = as_array(raw, "bias_baseline_predict(...)").reshape(-1)
    if out.shape != (len(_BIAS_TEST),):
        raise AssertionError(
            f"with 4 test rows expected 4 predictions (one per row of test, in order), "
            f"got shape {out.shape}."
        )
    if np.isnan(out).any():
        raise AssertionError(
            "some predictions are NaN: a user or movie that is not in train has no bias. "
            "Give it bias 0, e.g. test['user_id'].map(user_bias).fillna(0.0)."
        )
    return out


def _bias_mistakes(reg: float) -> dict:
    """Hint -> the predictions that mistake gives with shrinkage ``reg``."""
    leaky_mu = pd.concat([_BIAS_TRAIN, _BIAS_TEST])["rating"].mean()
    mistakes = {
        "Every prediction is the global mean: add the user and movie biases.": np.full(
            len(_BIAS_TEST), _BIAS_TRAIN["rating"].mean()
        ),
        "Your global mean includes the test ratings: compute mu, and everything else, from "
        "train only. The test ratings are what we try to predict.": _variant(reg, mu=leaky_mu),
        "The user bias should use what the movie bias leaves unexplained: average "
        "r - mu - b_m over the user's ratings, not r - mu.": _variant(
            reg, user_from_residual=False
        ),
    }
    if reg > 0:
        mistakes[
            "reg has no effect: divide each sum by (reg + number of ratings), not by the "
            "number of ratings alone."
        ] = ref.bias_baseline_predict(_BIAS_TRAIN, _BIAS_TEST, 0.0)
    return mistakes


def _test_bias_baseline_predict(fn: Callable) -> None:
    for reg in (0.0, 2.0):
        expected = ref.bias_baseline_predict(_BIAS_TRAIN, _BIAS_TEST, reg)
        out = _bias_answer(fn, reg)
        expect(
            out,
            expected,
            atol=1e-4,
            context=(
                f"with reg={reg:g}, expected {np.round(expected, 4).tolist()}, "
                f"got {np.round(out, 4).tolist()}. "
            ),
            mistakes=_bias_mistakes(reg),
            otherwise=(
                "Steps: mu = train mean; b_m = sum(r - mu) / (reg + n_m) per movie; "
                "b_u = sum(r - mu - b_m) / (reg + n_u) per user; predict mu + b_u + b_m."
            ),
        )


def check_bias_baseline_predict(fn: Callable) -> Callable:
    """Check Exercise 2.3 ``bias_baseline_predict(train, test, reg) -> [T]``."""
    return run_check(
        "2.3",
        fn,
        ref.bias_baseline_predict,
        _test_bias_baseline_predict,
        "mu + user bias + movie bias, learned from train only, with shrinkage reg.",
    )
