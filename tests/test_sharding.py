"""Data-parallel training (``fit`` and ``fit_ranking`` with ``devices=N``) on 2 forced CPU
devices equals 1 device.

The check runs in a subprocess: ``XLA_FLAGS`` must be set before JAX starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gnnrec_course.training.sharding import DeviceCountError, data_mesh, round_up, shard_batch

_SCRIPT = r"""
import json
import jax
import numpy as np
from gnnrec_course import models, training
from gnnrec_course.data import synthetic_ratings
from gnnrec_course.graph import build_graph, build_id_maps, rating_edges, split_ratings

ratings = synthetic_ratings(n_users=60, n_movies=40, seed=3)
maps = build_id_maps(ratings)
split = split_ratings(ratings, seed=0)
graph = build_graph(split.train, maps)
train, val, test = (rating_edges(getattr(split, n), maps) for n in ("train", "val", "test"))
out = {"jax_devices": len(jax.devices())}
for devices in (1, 2):
    model = models.default_model(maps.num_nodes, 1.0, 5.0, num_users=maps.num_users,
                                 embed_dim=8, rating_hidden=16)
    result = training.fit(model, graph, train, val, epochs=6, batch_size=50, devices=devices,
                          patience=None, progress=False, seed=0)
    leaf = result.state.params["user_in"]
    out[devices] = {
        "loss": result.history["train_loss"], "val": result.history["val_rmse"],
        "test": training.evaluate(result.state, graph, test)["rmse"],
        "param_devices": len(leaf.sharding.device_set),
    }
print(json.dumps(out))
"""


def _run_on_two_devices(script: str) -> dict:
    """The JSON line ``script`` prints, run in a fresh process with 2 forced CPU devices."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_devices_match_one():
    out = _run_on_two_devices(_SCRIPT)
    one, two = out["1"], out["2"]
    assert out["jax_devices"] == 2
    assert (one["param_devices"], two["param_devices"]) == (1, 2)  # really on two devices
    assert one["loss"][0] > one["loss"][-1]  # it trained
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    assert two["val"] == pytest.approx(one["val"], rel=1e-4)
    assert two["test"] == pytest.approx(one["test"], rel=1e-4)


_RANKING_SCRIPT = r"""
import json
import jax
import numpy as np
from gnnrec_course import training
from gnnrec_course.data import synthetic_ratings
from gnnrec_course.graph import build_id_maps, ranking_split

ratings = synthetic_ratings(n_users=60, n_movies=40, seed=3)
maps = build_id_maps(ratings)
split = ranking_split(ratings, "stratified", seed=0)
out = {"jax_devices": len(jax.devices())}
for devices, batch in ((1, 64), (2, 64), (2, 37)):  # 37: rounded up to 38, padding weighted 0
    result = training.fit_ranking(split.fit, maps, val=split.val, seed=0, progress=False,
                                  devices=devices, batch_size=batch, epochs=4, eval_every=2,
                                  embed_dim=8)
    leaf = result.params["embedding"]["embedding"]
    out[f"{devices}-{batch}"] = {
        "loss": [row["loss"] for row in result.history],
        "ndcg": [row["val_ndcg"] for row in result.history if "val_ndcg" in row],
        "z": np.asarray(result.embeddings()).ravel()[:50].tolist(),
        "param_devices": len(leaf.sharding.device_set),
    }
print(json.dumps(out))
"""


@pytest.mark.slow
def test_ranking_on_two_devices_matches_one():
    out = _run_on_two_devices(_RANKING_SCRIPT)
    one, two, padded = out["1-64"], out["2-64"], out["2-37"]
    assert out["jax_devices"] == 2
    assert (one["param_devices"], two["param_devices"], padded["param_devices"]) == (1, 2, 2)
    assert one["loss"][0] > one["loss"][-1]  # it trained
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    assert two["ndcg"] == pytest.approx(one["ndcg"], abs=1e-6)
    np.testing.assert_allclose(two["z"], one["z"], atol=1e-4)
    assert np.all(np.isfinite(padded["loss"])) and padded["loss"][0] > padded["loss"][-1]


def test_mesh_refuses_more_devices_than_jax_sees():
    import jax

    with pytest.raises(DeviceCountError, match="--devices"):
        data_mesh(len(jax.devices()) + 1)
    with pytest.raises(DeviceCountError):
        data_mesh(0)


def test_shard_batch_needs_a_multiple_of_the_devices():
    mesh = data_mesh(1)
    (x,) = shard_batch(mesh, np.arange(3))
    assert x.shape == (3,)
    assert round_up(5, 2) == 6 and round_up(6, 2) == 6 and round_up(1, 4) == 4
