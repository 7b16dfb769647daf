"""Reference answers of notebook 07 (Scaling up): memory arithmetic and a sharded batch.

* :func:`memory_bytes` (Exercise 7.1): bytes of a dense ``[U, M]`` float32 score matrix and
  of float32 messages of width ``k`` on every directed edge of the rating graph.
* :func:`pad_and_shard` (Exercise 7.2): a batch padded to a multiple of the mesh's devices,
  with a mask, each array split over the mesh axis ``"data"``.

:data:`DATASET_SIZES` are the sizes of the MovieLens ratings files: users and movies with at
least one rating (the nodes of the graph) and the number of ratings.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["BYTES_PER_FLOAT32", "DATASET_SIZES", "DatasetSize", "memory_bytes", "pad_and_shard"]

BYTES_PER_FLOAT32 = 4


class DatasetSize(NamedTuple):
    """Users and movies that appear in the ratings file, and the number of ratings."""

    users: int
    movies: int
    ratings: int


#: Counted from the ratings files of each release (GroupLens, Harper & Konstan 2015).
DATASET_SIZES: dict[str, DatasetSize] = {
    "ml-100k": DatasetSize(943, 1_682, 100_000),
    "ml-1m": DatasetSize(6_040, 3_706, 1_000_209),
    "ml-10m": DatasetSize(69_878, 10_677, 10_000_054),
    "ml-25m": DatasetSize(162_541, 59_047, 25_000_095),
}


def memory_bytes(num_users: int, num_movies: int, num_ratings: int, width: int) -> tuple[int, int]:
    """``(dense, messages)``: bytes of the two ways to hold a GCN's work on float32 numbers.

    ``dense`` is one ``[U, M]`` float32 matrix (a score, or a rating, for every pair);
    ``messages`` one float32 message of ``width`` numbers on every directed edge of the graph,
    which stores each rating twice (user -> movie and movie -> user): ``[2 R, width]``.
    Python ints, so nothing overflows at ml-25m's size.
    """
    dense = int(num_users) * int(num_movies) * BYTES_PER_FLOAT32
    messages = 2 * int(num_ratings) * int(width) * BYTES_PER_FLOAT32
    return dense, messages


def pad_and_shard(
    mesh: Mesh, users: Any, movies: Any, ratings: Any
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """A batch padded to a multiple of the mesh's devices and split over its ``"data"`` axis.

    Args:
      mesh: a 1-D mesh with axis ``"data"`` (``gnnrec_course.training.sharding.data_mesh``).
      users, movies: node ids ``[B]``; ratings: ``[B]``.

    Returns:
      ``(users int32, movies int32, ratings float32, mask float32)``, each ``[B']`` with
      ``B'`` the smallest multiple of the number of devices ``>= B``; the padding repeats the
      first pair and has ``mask = 0``. Each array is placed with
      ``NamedSharding(mesh, PartitionSpec("data"))``: device ``i`` holds the ``i``-th slice.
    """
    users = np.asarray(users, np.int32)
    movies = np.asarray(movies, np.int32)
    ratings = np.asarray(ratings, np.float32)
    n = len(ratings)
    n_dev = mesh.devices.size
    size = -(-n // n_dev) * n_dev
    idx = np.zeros(size, np.int64)  # padding repeats pair 0: valid ids, masked out
    idx[:n] = np.arange(n)
    mask = np.zeros(size, np.float32)
    mask[:n] = 1.0
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    arrays = (users[idx], movies[idx], ratings[idx], mask)
    return tuple(jax.device_put(a, sharding) for a in arrays)  # type: ignore[return-value]
