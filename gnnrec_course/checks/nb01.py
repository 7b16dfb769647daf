"""Self-checks for notebook 01: graphs, message passing and the three graph tasks.

Each check runs the learner's function on a small hand-made case and returns the function the
rest of the notebook should use (see :func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import jraph
import numpy as np

from gnnrec_course.checks.common import as_array, as_number, expect, run_check
from gnnrec_course.reference import graph_tasks as ref

__all__ = ["check_auc", "check_degrees", "check_mean_aggregate"]

# A small directed graph: 0->1, 0->2, 1->2, 3->2, 2->0; node 4 has no edges at all and
# node 3 only sends. In-degrees [1, 1, 3, 0, 0] differ from out-degrees [2, 1, 1, 1, 0].
_SENDERS = np.array([0, 0, 1, 3, 2], dtype=np.int32)
_RECEIVERS = np.array([1, 2, 2, 2, 0], dtype=np.int32)
_FEATURES = np.array(
    [[1.0, 10.0], [2.0, 20.0], [4.0, 40.0], [8.0, 80.0], [16.0, 160.0]], dtype=np.float32
)


def _small_graph() -> jraph.GraphsTuple:
    """The 5-node directed test graph as a ``GraphsTuple`` (nodes ``[5, 2]``, 5 edges)."""
    return jraph.GraphsTuple(
        nodes=jnp.asarray(_FEATURES),
        edges=jnp.ones((len(_SENDERS), 1), dtype=jnp.float32),
        senders=jnp.asarray(_SENDERS),
        receivers=jnp.asarray(_RECEIVERS),
        n_node=jnp.array([5]),
        n_edge=jnp.array([len(_SENDERS)]),
        globals=None,
    )


def _test_degrees(fn: Callable) -> None:
    graph = _small_graph()
    expected = np.asarray(ref.degrees(graph))  # [1, 1, 3, 0, 0]
    out = as_array(fn(graph), "degrees(graph)")
    if out.shape != expected.shape:
        raise AssertionError(
            f"on a graph with 5 nodes (the last one without edges) degrees(graph) has shape "
            f"{out.shape}, expected (5,): one entry per node. Pass "
            f"num_segments=graph.nodes.shape[0] to jax.ops.segment_sum so that nodes "
            f"without edges get 0."
        )
    mistakes = {
        "you counted the edges each node SENDS (out-degree). Count the edges each node "
        "receives: segment over graph.receivers.": np.bincount(_SENDERS, minlength=5),
    }
    expect(
        out,
        expected,
        mistakes=mistakes,
        otherwise=(
            f"for edges 0->1, 0->2, 1->2, 3->2, 2->0 on 5 nodes expected in-degrees "
            f"{expected.astype(int).tolist()}, got {out.tolist()}. Hint: "
            f"jax.ops.segment_sum(jnp.ones(num_edges), graph.receivers, num_segments=num_nodes)."
        ),
    )


def check_degrees(fn: Callable) -> Callable:
    """Check Exercise 1.1 ``degrees(graph) -> [N]`` and return the function to use."""
    return run_check(
        "1.1",
        fn,
        ref.degrees,
        _test_degrees,
        "degrees(graph) counts the incoming edges of every node, isolated nodes included.",
    )


def _test_mean_aggregate(fn: Callable) -> None:
    features = jnp.asarray(_FEATURES)
    senders, receivers = jnp.asarray(_SENDERS), jnp.asarray(_RECEIVERS)
    expected = np.asarray(ref.mean_aggregate(features, senders, receivers, 5))
    out = as_array(fn(features, senders, receivers, 5), "mean_aggregate(...)")
    if out.shape != expected.shape:
        raise AssertionError(
            f"with features of shape (5, 2) the result has shape {out.shape}, expected "
            f"(5, 2): one row per node (num_segments=num_nodes), and keep the feature axis."
        )
    summed = np.zeros_like(expected)
    np.add.at(summed, _RECEIVERS, _FEATURES[_SENDERS])
    mistakes = {
        "the result contains NaN: nodes that receive no message divide 0 by 0. Divide by "
        "jnp.maximum(count, 1) so that they get zeros.": lambda answer: np.isnan(answer).any(),
        "this is the SUM of the incoming messages; divide each row by the number of "
        "messages the node receives (its in-degree) to get the mean.": summed,
        "messages go the wrong way: an edge carries features[senders[e]] TO receivers[e], "
        "so gather with senders and segment over receivers.": np.asarray(
            ref.mean_aggregate(features, receivers, senders, 5)
        ),
    }
    expect(
        out,
        expected,
        mistakes=mistakes,
        otherwise=(
            f"on the 5-node test graph expected\n{expected.tolist()}\ngot\n{out.tolist()}.\n"
            f"Hint: gather messages = features[senders], sum them per receiver with "
            f"jax.ops.segment_sum, then divide by the number of messages per receiver."
        ),
    )


def check_mean_aggregate(fn: Callable) -> Callable:
    """Check Exercise 1.2 ``mean_aggregate(features, senders, receivers, num_nodes)``."""
    return run_check(
        "1.2",
        fn,
        ref.mean_aggregate,
        _test_mean_aggregate,
        "every node now holds the mean of its in-neighbours' features (zeros if it has none).",
    )


_AUC_CASES = [
    # (positives, negatives, what the case is about)
    ([0.9, 0.8, 0.3], [0.1, 0.4, 0.8, 0.2], "a mixed case with one tie (P=3, N=4)"),
    ([3.0, 2.0], [1.0, 0.0, -1.0], "a perfect ranking"),
    ([0.0, -1.0, -2.0], [1.0, 2.0], "a reversed ranking"),
    ([0.5, 0.5], [0.5, 0.5, 0.5], "all scores equal"),
]


def _auc_mistakes(pos: np.ndarray, neg: np.ndarray, expected: float) -> dict:
    """Hint -> what that mistake gives for one AUC case (``pos`` [P], ``neg`` [N])."""
    without_ties = (
        np.mean(pos[:, None] > neg[None, :]),  # ties count 0
        np.mean(pos[:, None] >= neg[None, :]),  # ties count 1
    )
    pairs = pos.size * neg.size
    return {
        f"An AUC lies in [0, 1]: divide the count by the number of pairs P*N={pairs}.": (
            lambda value: not 0.0 <= value <= 1.0
        ),
        "You counted the pairs where the NEGATIVE scores higher; flip the comparison.": (
            1.0 - expected
        ),
        "A tie (positive score == negative score) counts one half, not 0 or 1.": (
            lambda value: any(np.isclose(value, w, atol=1e-6) for w in without_ties)
        ),
    }


def _test_auc(fn: Callable) -> None:
    for pos, neg, what in _AUC_CASES:
        pos_a, neg_a = np.array(pos, dtype=np.float32), np.array(neg, dtype=np.float32)
        expected = ref.auc(pos_a, neg_a)
        out = as_number(fn(pos_a, neg_a), "auc(...)")
        expect(
            out,
            expected,
            atol=1e-6,
            context=f"for {what}, pos={pos}, neg={neg}: expected {expected:.4f}, got {out:.4f}. ",
            mistakes=_auc_mistakes(pos_a, neg_a, expected),
            otherwise="Compare EVERY positive with EVERY negative (they can have different "
            "lengths), e.g. pos[:, None] > neg[None, :], and take the mean.",
        )


def check_auc(fn: Callable) -> Callable:
    """Check Exercise 1.3 ``auc(pos_scores, neg_scores) -> float``."""
    return run_check(
        "1.3",
        fn,
        ref.auc,
        _test_auc,
        "auc(pos, neg) is the fraction of (positive, negative) pairs ranked correctly.",
    )
