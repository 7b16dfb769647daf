"""Notebook 07's self-checks: the references are right and the checks tell right from wrong.

The padding of Exercise 7.2 only shows with more than one device, and ``XLA_FLAGS`` must be set
before JAX starts, so the padding mistakes are checked in a subprocess with 3 forced CPU
devices; the rest runs here on whatever devices this process has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gnnrec_course.checks import nb07
from gnnrec_course.reference import scaling as ref

# --- deliberately wrong answers, Exercise 7.1 ---------------------------------------------


def counts_numbers(users, movies, ratings, width):
    return users * movies, 2 * ratings * width


def float64(users, movies, ratings, width):
    return users * movies * 8, 2 * ratings * width * 8


def one_direction(users, movies, ratings, width):
    return users * movies * 4, ratings * width * 4


def swapped(users, movies, ratings, width):
    return 2 * ratings * width * 4, users * movies * 4


def int32_overflow(users, movies, ratings, width):
    u = np.array([users], np.int32)  # int32 arrays wrap around silently
    return int((u * movies * 4)[0]), int((np.array([ratings], np.int32) * 2 * width * 4)[0])


def in_gib(users, movies, ratings, width):
    return users * movies * 4 / 2**30, 2 * ratings * width * 4 / 2**30


def nodes_squared(users, movies, ratings, width):
    return (users + movies) ** 2 * 4, 2 * ratings * width * 4


def messages_and_nodes(users, movies, ratings, width):
    return users * movies * 4, (2 * ratings + users + movies) * width * 4


def no_width(users, movies, ratings, width):
    return users * movies * 4, 2 * ratings * 4


def as_dict(users, movies, ratings, width):
    return {"dense": users * movies * 4, "messages": 2 * ratings * width * 4}


# --- deliberately wrong answers, Exercise 7.2 (visible on one device) ---------------------


def not_placed(mesh, users, movies, ratings):
    n = len(users)
    size = -(-n // mesh.devices.size) * mesh.devices.size
    pad = size - n
    mask = np.r_[np.ones(n), np.zeros(pad)].astype(np.float32)
    return tuple(np.pad(np.asarray(a), (0, pad), mode="edge") for a in (users, movies, ratings)) + (
        mask,
    )


def replicated(mesh, users, movies, ratings):
    out = ref.pad_and_shard(mesh, users, movies, ratings)
    return tuple(jax.device_put(x, NamedSharding(mesh, PartitionSpec())) for x in out)


def no_mask(mesh, users, movies, ratings):
    return ref.pad_and_shard(mesh, users, movies, ratings)[:3]


def inverted_mask(mesh, users, movies, ratings):
    *arrays, mask = ref.pad_and_shard(mesh, users, movies, ratings)
    return (*arrays, 1.0 - mask)


def reordered(mesh, users, movies, ratings):
    return ref.pad_and_shard(mesh, users[::-1], movies[::-1], ratings[::-1])


def float_ids(mesh, users, movies, ratings):
    users, movies, ratings, mask = ref.pad_and_shard(mesh, users, movies, ratings)
    return users.astype(np.float32), movies, ratings, mask


# --- padding mistakes (need two or more devices; run in the subprocess below) -------------


def no_padding(mesh, users, movies, ratings):
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    mask = np.ones(len(users), np.float32)
    return tuple(jax.device_put(np.asarray(a), sharding) for a in (users, movies, ratings, mask))


def always_pads(mesh, users, movies, ratings):
    n_dev = mesh.devices.size
    extra = n_dev - len(users) % n_dev  # a whole extra row of devices when B is a multiple
    n = len(users) + extra
    idx = np.r_[np.arange(len(users)), np.zeros(extra, int)]
    mask = (np.arange(n) < len(users)).astype(np.float32)
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    arrays = (np.asarray(users)[idx], np.asarray(movies)[idx], np.asarray(ratings)[idx], mask)
    return tuple(jax.device_put(a, sharding) for a in arrays)


def pads_with_minus_one(mesh, users, movies, ratings):
    users, movies, ratings, mask = (
        np.asarray(x) for x in ref.pad_and_shard(mesh, users, movies, ratings)
    )
    users = np.where(mask > 0, users, -1).astype(np.int32)
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    return tuple(jax.device_put(a, sharding) for a in (users, movies, ratings, mask))


def mask_all_ones(mesh, users, movies, ratings):
    *arrays, mask = ref.pad_and_shard(mesh, users, movies, ratings)
    return (*arrays, jax.device_put(np.ones(mask.shape, np.float32), mask.sharding))


def uses_all_devices(mesh, users, movies, ratings):
    n, n_dev = len(users), len(jax.devices())  # not the mesh's devices
    size = -(-n // n_dev) * n_dev
    idx = np.r_[np.arange(n), np.zeros(size - n, int)]
    mask = (np.arange(size) < n).astype(np.float32)
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    arrays = (np.asarray(users)[idx], np.asarray(movies)[idx], np.asarray(ratings)[idx], mask)
    return tuple(jax.device_put(a, sharding) for a in arrays)


CHECKS = [
    ("7.1", nb07.check_memory_bytes, ref.memory_bytes),
    ("7.2", nb07.check_pad_and_shard, ref.pad_and_shard),
]
WRONG = [
    ("7.1", nb07.check_memory_bytes, counts_numbers, "not bytes"),
    ("7.1", nb07.check_memory_bytes, float64, "float64"),
    ("7.1", nb07.check_memory_bytes, one_direction, "two directed edges"),
    ("7.1", nb07.check_memory_bytes, swapped, "swapped"),
    ("7.1", nb07.check_memory_bytes, int32_overflow, "overflowed"),
    ("7.1", nb07.check_memory_bytes, in_gib, "return bytes"),
    ("7.1", nb07.check_memory_bytes, nodes_squared, "not nodes x nodes"),
    ("7.1", nb07.check_memory_bytes, messages_and_nodes, "count the messages only"),
    ("7.1", nb07.check_memory_bytes, no_width, "vector of `width` numbers"),
    ("7.1", nb07.check_memory_bytes, as_dict, "return a pair"),
    ("7.2", nb07.check_pad_and_shard, not_placed, "not a jax.Array"),
    ("7.2", nb07.check_pad_and_shard, replicated, "replicated"),
    ("7.2", nb07.check_pad_and_shard, no_mask, "four arrays"),
    ("7.2", nb07.check_pad_and_shard, inverted_mask, "wrong way round"),
    ("7.2", nb07.check_pad_and_shard, reordered, "unchanged and in order"),
    ("7.2", nb07.check_pad_and_shard, float_ids, "node ids stay int32"),
    ("7.2", nb07.check_pad_and_shard, always_pads, "no padding if B already is one"),
]
# Need 2+ devices to show: checked by test_padding_mistakes_on_three_devices.
PADDING_WRONG = [
    (no_padding, "Pad the batch"),
    (always_pads, "the smallest multiple"),
    (pads_with_minus_one, "not node ids of the batch"),
    (mask_all_ones, "1.0 for a real pair, 0.0 for padding"),
    (uses_all_devices, "the devices of the mesh"),
]

# The promise every check keeps (fallback with a hint, strict mode, stubs, the reference
# passes) is tested with the tables above in tests/test_checks_contract.py.


# --- the references ------------------------------------------------------------------------


def test_memory_bytes_is_what_numpy_allocates():
    users, movies, ratings = ref.DATASET_SIZES["ml-100k"]
    dense, messages = ref.memory_bytes(users, movies, ratings, 16)
    assert dense == np.zeros((users, movies), np.float32).nbytes
    assert messages == np.zeros((2 * ratings, 16), np.float32).nbytes


def test_memory_bytes_does_not_overflow_at_ml_25m():
    users, movies, ratings = ref.DATASET_SIZES["ml-25m"]
    dense, messages = ref.memory_bytes(users, movies, ratings, 64)
    assert dense == 162_541 * 59_047 * 4 > 2**32  # ~38 GB: the reason for edge lists
    assert messages == 2 * 25_000_095 * 64 * 4


def test_pad_and_shard_on_this_process_devices():
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    users, movies, ratings, mask = ref.pad_and_shard(mesh, [3, 1], [7, 9], [4.0, 2.0])
    assert users.dtype == np.int32 and ratings.dtype == np.float32 and mask.dtype == np.float32
    assert users.sharding.spec == PartitionSpec("data")
    np.testing.assert_array_equal(mask, [1.0, 1.0])


_SCRIPT = r"""
import contextlib, io, json, sys
sys.path.insert(0, {tests!r})
import jax
import numpy as np
from jax.sharding import Mesh
import test_checks_nb07 as t
from gnnrec_course.checks import nb07
from gnnrec_course.reference import scaling as ref

out = {{"devices": len(jax.devices("cpu")), "wrong": {{}}}}
for fn, _hint in t.PADDING_WRONG:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        returned = nb07.check_pad_and_shard(fn)
    fell_back = returned is ref.pad_and_shard
    out["wrong"][fn.__name__] = {{"text": buf.getvalue(), "fell_back": fell_back}}
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    out["reference_passes"] = nb07.check_pad_and_shard(ref.pad_and_shard) is ref.pad_and_shard
out["passed_text"] = buf.getvalue()
mesh = Mesh(np.array(jax.devices("cpu")[:2]), ("data",))
users, movies, ratings, mask = ref.pad_and_shard(mesh, [5, 6, 7], [8, 9, 10], [1.0, 2.0, 3.0])
out["padded"] = {{"users": np.asarray(users).tolist(), "mask": np.asarray(mask).tolist(),
                 "shards": [s.data.shape[0] for s in users.addressable_shards],
                 "devices": sorted(d.id for d in users.sharding.device_set)}}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_padding_mistakes_on_three_devices():
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=3"}
    env.pop("GNNREC_STRICT_CHECKS", None)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(tests=tests)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["devices"] == 3
    for fn, hint in PADDING_WRONG:
        result = out["wrong"][fn.__name__]
        assert result["fell_back"], fn.__name__
        assert result["text"].startswith("❌ Exercise 7.2:"), result["text"]
        assert hint in result["text"], (fn.__name__, result["text"])
    assert out["reference_passes"]
    assert "meshes of 1 to 3 CPU devices" in out["passed_text"]
    padded = out["padded"]
    assert padded["users"] == [5, 6, 7, 5] and padded["mask"] == [1.0, 1.0, 1.0, 0.0]
    assert padded["shards"] == [2, 2] and padded["devices"] == [0, 1]
