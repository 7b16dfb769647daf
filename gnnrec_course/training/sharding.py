"""Data-parallel training with ``jax.sharding``: a 1-D mesh, batches split, the rest replicated.

Nothing here changes a training step: a step jitted once is partitioned by the shardings of its
inputs. Put the batch arrays on the mesh with :func:`shard_batch` (split along the mesh axis
``"data"``) and the train state and graph with :func:`replicate`; jit then runs each device on
its slice of the batch and inserts the all-reduce of the gradients itself. With the package's
rating model every device encodes the whole graph (replicated work) and decodes and
differentiates its slice of the batch; the edge list itself is not split.

Typical use::

    mesh = data_mesh(2)
    state, graph = replicate(mesh, (state, graph))
    users, movies, ratings, mask = shard_batch(mesh, users, movies, ratings, mask)
    state, loss = masked_train_step(state, graph, users, movies, ratings, mask)

APIs used (present in jax 0.7.2 and in the newest releases): ``jax.sharding.Mesh``,
``NamedSharding``, ``PartitionSpec``, ``jax.device_put``. ``Mesh(np.array(devices), ("data",))``
is used instead of ``jax.make_mesh`` because ``make_mesh``'s keyword arguments and default axis
types changed between those versions. On several hosts call ``jax.distributed.initialize()``
first; ``jax.devices()`` then lists every host's devices and the same code runs on each host.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import CourseError

__all__ = [
    "DATA_AXIS",
    "DeviceCountError",
    "data_mesh",
    "device_count",
    "replicate",
    "round_up",
    "shard_batch",
]

DATA_AXIS = "data"


class DeviceCountError(CourseError, ValueError):
    """More devices asked for than JAX sees (or fewer than one)."""


def device_count() -> int:
    """How many devices JAX sees (all hosts)."""
    return len(jax.devices())


def data_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``num_devices`` devices (default: all), axis ``"data"``.

    Raises :class:`DeviceCountError` when ``num_devices`` is not in ``1..device_count()``.
    """
    devices = jax.devices()
    n = len(devices) if num_devices is None else int(num_devices)
    if not 1 <= n <= len(devices):
        raise DeviceCountError(
            f"Asked for {n} devices but JAX sees {len(devices)}: use --devices 1..{len(devices)} "
            "(on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N devices)."
        )
    return Mesh(np.array(devices[:n]), (DATA_AXIS,))


def round_up(size: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ``>= size`` (a batch the mesh can split)."""
    return -(-int(size) // int(multiple)) * int(multiple)


def shard_batch(mesh: Mesh, *arrays: Any, axis: int = 0) -> tuple[jax.Array, ...]:
    """Each array split along its batch axis ``axis`` over the mesh.

    ``axis=0`` for ``[B, ...]`` batches; ``axis=1`` for an epoch of ``[S, B, ...]`` batches that
    one jitted ``lax.scan`` runs step by step (every step gets its batch already split). ``B``
    must be a multiple of the number of devices (pad with :func:`round_up` and a mask).
    """
    size = mesh.devices.size
    for a in arrays:
        if np.shape(a)[axis] % size:
            raise ValueError(f"Batch size {np.shape(a)[axis]} is not a multiple of {size} devices.")
    sharding = NamedSharding(mesh, PartitionSpec(*([None] * axis), DATA_AXIS))
    return tuple(jax.device_put(a, sharding) for a in arrays)


def replicate(mesh: Mesh, tree: Any) -> Any:
    """Every array of ``tree`` (a train state, a graph) copied to every device of the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))
