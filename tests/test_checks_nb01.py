"""The self-checks of notebook 01 reject wrong answers, skip stubs and pass the reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnnrec_course.checks import nb01
from gnnrec_course.reference import graph_tasks as ref

# --- deliberately wrong implementations -------------------------------------------------


def degrees_out(graph):
    """Counts outgoing edges instead of incoming ones."""
    n = graph.nodes.shape[0]
    return jax.ops.segment_sum(jnp.ones_like(graph.senders), graph.senders, num_segments=n)


def degrees_no_num_segments(graph):
    """Forgets num_segments: the isolated last node disappears."""
    return jax.ops.segment_sum(jnp.ones_like(graph.receivers), graph.receivers)


def degrees_no_return(graph):
    jax.ops.segment_sum(jnp.ones_like(graph.receivers), graph.receivers)


def mean_sum(features, senders, receivers, num_nodes):
    """Sum instead of mean."""
    return jax.ops.segment_sum(features[senders], receivers, num_segments=num_nodes)


def mean_nan(features, senders, receivers, num_nodes):
    """Divides 0 by 0 for nodes without incoming edges."""
    summed = jax.ops.segment_sum(features[senders], receivers, num_segments=num_nodes)
    counts = jax.ops.segment_sum(jnp.ones_like(receivers), receivers, num_segments=num_nodes)
    return summed / counts[:, None]


def mean_swapped(features, senders, receivers, num_nodes):
    """Messages flow from receivers to senders."""
    return ref.mean_aggregate(features, receivers, senders, num_nodes)


def auc_ties_zero(pos, neg):
    """Ties count as losses."""
    return float(np.mean(np.asarray(pos)[:, None] > np.asarray(neg)[None, :]))


def auc_flipped(pos, neg):
    return 1.0 - ref.auc(pos, neg)


def auc_unnormalised(pos, neg):
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((pos > neg).sum() + 0.5 * (pos == neg).sum())


def auc_zip(pos, neg):
    """Compares only aligned pairs."""
    return float(np.mean([p > n for p, n in zip(pos, neg, strict=False)]))


CHECKS = [
    ("1.1", nb01.check_degrees, ref.degrees),
    ("1.2", nb01.check_mean_aggregate, ref.mean_aggregate),
    ("1.3", nb01.check_auc, ref.auc),
]

WRONG = [
    ("1.1", nb01.check_degrees, degrees_out, "SENDS"),
    ("1.1", nb01.check_degrees, degrees_no_num_segments, "num_segments"),
    ("1.1", nb01.check_degrees, degrees_no_return, "return"),
    ("1.2", nb01.check_mean_aggregate, mean_sum, "SUM"),
    ("1.2", nb01.check_mean_aggregate, mean_nan, "NaN"),
    ("1.2", nb01.check_mean_aggregate, mean_swapped, "wrong way"),
    ("1.3", nb01.check_auc, auc_ties_zero, "one half"),
    ("1.3", nb01.check_auc, auc_flipped, "NEGATIVE"),
    ("1.3", nb01.check_auc, auc_unnormalised, "number of pairs"),
    ("1.3", nb01.check_auc, auc_zip, "EVERY"),
]


def test_reference_values():
    import jraph

    graph = jraph.GraphsTuple(
        nodes=jnp.zeros((3, 1)),
        edges=None,
        senders=jnp.array([0, 1, 1, 2]),
        receivers=jnp.array([1, 0, 2, 1]),
        n_node=jnp.array([3]),
        n_edge=jnp.array([4]),
        globals=None,
    )
    np.testing.assert_allclose(ref.degrees(graph), [1.0, 2.0, 1.0])
    feats = jnp.array([[1.0], [2.0], [3.0]])
    np.testing.assert_allclose(
        ref.mean_aggregate(feats, graph.senders, graph.receivers, 3), [[2.0], [2.0], [2.0]]
    )
    assert ref.auc([1.0, 0.5], [0.5, 0.0]) == pytest.approx(0.875)
