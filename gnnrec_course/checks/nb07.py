"""Self-checks for notebook 07 (Scaling up).

* Exercise 7.1 :func:`check_memory_bytes`: bytes of a dense score matrix and of edge messages,
  at ml-100k's and ml-25m's sizes (the second overflows 32-bit integers).
* Exercise 7.2 :func:`check_pad_and_shard`: a batch padded to a multiple of the devices, with
  a mask, split over a 1-D mesh. It is run on meshes over 1, 2, ... of the CPU devices JAX
  sees (``XLA_FLAGS=--xla_force_host_platform_device_count=2`` makes two), so the padding is
  tested even where the default device is one GPU; with one CPU device only the placement is.

Each check returns the function the rest of the notebook should use (see
:func:`gnnrec_course.checks.common.run_check`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gnnrec_course.checks.common import as_array, as_number, match_known_mistake, run_check
from gnnrec_course.reference import scaling as ref

__all__ = ["check_memory_bytes", "check_pad_and_shard"]

# --- Exercise 7.1 ---------------------------------------------------------------------------

_MEMORY_CASES = (  # (name, users, movies, ratings, width)
    ("ml-100k", *ref.DATASET_SIZES["ml-100k"], 64),
    ("ml-25m", *ref.DATASET_SIZES["ml-25m"], 32),
)
_GIB, _GB = 2.0**30, 1e9


def _wrapped_int32(value: int) -> int:
    """What ``value`` becomes in int32 arithmetic (two's complement wrap-around)."""
    return (value + 2**31) % 2**32 - 2**31


def _overflowed(expected: int) -> Callable[[float], bool]:
    def hit(answer: float) -> bool:
        return answer != expected and (
            answer < 0 or answer == _wrapped_int32(expected) or answer == expected % 2**32
        )

    return hit


def _in_units(expected: int) -> Callable[[float], bool]:
    def hit(answer: float) -> bool:
        return any(np.isclose(answer, expected / unit, rtol=1e-3) for unit in (_GIB, _GB, 2**20))

    return hit


_OVERFLOW_HINT = (
    "the number overflowed: int32 holds at most 2,147,483,647. Compute with Python ints "
    "(int(num_users) * int(num_movies) * 4), or np.int64."
)
_UNITS_HINT = "return bytes, not MiB, GiB or GB (convert only when you print)."


def _dense_mistakes(users: int, movies: int, ratings: int, width: int) -> dict[str, Any]:
    expected = users * movies * 4
    return {
        _OVERFLOW_HINT: _overflowed(expected),
        _UNITS_HINT: _in_units(expected),
        "you counted numbers, not bytes: each float32 takes 4 bytes.": users * movies,
        "8 bytes per number is float64; JAX computes in float32, 4 bytes.": users * movies * 8,
        "the score matrix is users x movies, [U, M], not nodes x nodes [N, N].": (
            (users + movies) ** 2 * 4
        ),
        "a score is one number per (user, movie) pair: the dense matrix has no width.": (
            users * movies * width * 4
        ),
    }


def _message_mistakes(users: int, movies: int, ratings: int, width: int) -> dict[str, Any]:
    expected = 2 * ratings * width * 4
    nodes = (users + movies) * width * 4
    return {
        _OVERFLOW_HINT: _overflowed(expected),
        _UNITS_HINT: _in_units(expected),
        "the graph stores every rating as two directed edges (user -> movie and movie -> "
        "user), so there are 2 R messages.": ratings * width * 4,
        "you counted numbers, not bytes: each float32 takes 4 bytes.": 2 * ratings * width,
        "8 bytes per number is float64; JAX computes in float32, 4 bytes.": expected * 2,
        "each message is a vector of `width` numbers: 2 R x width x 4 bytes.": 2 * ratings * 4,
        "count the messages only: the node features [N, width] are a separate array.": (
            expected + nodes
        ),
        "that is the node features [N, width]; the messages live on the 2 R edges.": nodes,
    }


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}"


def _as_pair(out: object, call: str) -> tuple[float, float]:
    if isinstance(out, dict) or not isinstance(out, tuple | list) or len(out) != 2:
        raise AssertionError(
            f"{call} should return a pair (dense_bytes, message_bytes), got {out!r:.80}."
        )
    return (
        as_number(out[0], f"{call}[0] (dense bytes)"),
        as_number(out[1], f"{call}[1] (message bytes)"),
    )


def _test_memory_bytes(fn: Callable) -> None:
    for name, users, movies, ratings, width in _MEMORY_CASES:
        call = f"memory_bytes({users}, {movies}, {ratings}, width={width})"
        dense, messages = _as_pair(fn(users, movies, ratings, width), call)
        want_dense, want_messages = ref.memory_bytes(users, movies, ratings, width)
        context = f"at {name}'s size, {call}: "
        if (dense, messages) == (want_messages, want_dense):
            raise AssertionError(f"{context}the two numbers are swapped: return (dense, messages).")
        for got, want, mistakes, what in (
            (dense, want_dense, _dense_mistakes, "dense"),
            (messages, want_messages, _message_mistakes, "message"),
        ):
            if got == want:
                continue
            try:
                match_known_mistake(got, mistakes(users, movies, ratings, width), rtol=1e-9)
            except AssertionError as error:
                raise AssertionError(f"{context}{what} bytes {_fmt(got)}: {error}") from None
            raise AssertionError(
                f"{context}{what} bytes {_fmt(got)}, expected {want:,}. Dense: U x M float32 "
                f"numbers; messages: 2 R edges x width float32 numbers; 4 bytes each."
            )


def check_memory_bytes(fn: Callable) -> Callable:
    """Check Exercise 7.1, ``memory_bytes(num_users, num_movies, num_ratings, width)``."""
    return run_check(
        "7.1",
        fn,
        ref.memory_bytes,
        _test_memory_bytes,
        "a dense [U, M] float32 matrix and float32 messages on the 2 R directed edges, in "
        "bytes, right at ml-100k's size and at ml-25m's (no overflow).",
    )


# --- Exercise 7.2 ---------------------------------------------------------------------------

_DATA_SPEC = PartitionSpec("data")
_BATCH_SIZES = (7, 8, 1)


def _meshes() -> list[Mesh]:
    """1-D meshes ``"data"`` over the first 1, 2, ... CPU devices (at most 4)."""
    cpus = jax.devices("cpu")
    return [Mesh(np.array(cpus[:n]), ("data",)) for n in range(1, min(len(cpus), 4) + 1)]


def _batch(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    users = np.arange(10, 10 + n, dtype=np.int32)
    movies = np.arange(100, 100 + n, dtype=np.int32)[::-1].copy()
    ratings = (np.arange(n) % 5 + 1).astype(np.float32)
    return users, movies, ratings


def _call(fn: Callable, mesh: Mesh, arrays: tuple, call: str) -> tuple:
    try:
        out = fn(mesh, *arrays)
    except ValueError as error:
        if "divide" in str(error) or "multiple" in str(error):
            raise AssertionError(
                f"{call} could not place the batch ({type(error).__name__}): {len(arrays[0])} "
                f"pairs do not split evenly over {mesh.devices.size} devices. Pad the batch "
                "to a multiple of mesh.devices.size first."
            ) from error
        raise
    if not isinstance(out, tuple | list) or len(out) != 4:
        raise AssertionError(
            f"{call} should return four arrays (users, movies, ratings, mask), got "
            f"{type(out).__name__}{f' of {len(out)}' if isinstance(out, tuple | list) else ''}."
        )
    return tuple(out)


def _check_placement(out: tuple, mesh: Mesh, call: str) -> None:
    for name, x in zip(("users", "movies", "ratings", "mask"), out, strict=True):
        if not isinstance(x, jax.Array):
            raise AssertionError(
                f"{call}: {name} is a {type(x).__module__}.{type(x).__name__}, not a jax.Array "
                "on the mesh. Place it with "
                "jax.device_put(x, NamedSharding(mesh, PartitionSpec('data')))."
            )
        sharding = x.sharding
        if not isinstance(sharding, NamedSharding):
            raise AssertionError(
                f"{call}: {name} has a {type(sharding).__name__}; place it with "
                "jax.device_put(x, NamedSharding(mesh, PartitionSpec('data')))."
            )
        if sharding.mesh != mesh:
            raise AssertionError(f"{call}: {name} is on another mesh; use the `mesh` argument.")
        if sharding.spec != _DATA_SPEC:
            hint = f"{call}: {name} has PartitionSpec {sharding.spec}; "
            if all(axis is None for axis in sharding.spec):
                hint += "that copies the whole batch to every device (replicated). "
            raise AssertionError(hint + "Split it along the mesh axis: PartitionSpec('data').")


def _check_values(out: tuple, arrays: tuple, n_dev: int, call: str) -> None:
    n = len(arrays[0])
    size = -(-n // n_dev) * n_dev
    got = [np.asarray(x) for x in out]
    lengths = {x.shape for x in got}
    if lengths != {(size,)}:
        shapes = ", ".join(str(x.shape) for x in got)
        hint = f"{call} returned shapes {shapes}; expected ({size},) each: "
        if lengths == {(n,)}:
            hint += f"pad {n} pairs to a multiple of {n_dev} devices."
        else:
            hint += (
                f"the smallest multiple of {n_dev} (mesh.devices.size: the devices of the mesh "
                f"you were given) that is >= {n}; no padding if B already is one."
            )
        raise AssertionError(hint)
    for name, x, want in zip(("users", "movies", "ratings"), got, arrays, strict=False):
        if not np.array_equal(x[:n], want):
            raise AssertionError(
                f"{call}: the first {n} {name} must be the batch itself, unchanged and in order "
                "(put the padding at the end)."
            )
    for name, x in zip(("users", "movies"), got, strict=False):
        if not np.issubdtype(x.dtype, np.integer):
            raise AssertionError(f"{call}: {name} has dtype {x.dtype}; node ids stay int32.")
        allowed = np.concatenate([arrays[0 if name == "users" else 1], [0]])
        if not np.all(np.isin(x[n:], allowed)):
            raise AssertionError(
                f"{call}: padding {name} {x[n:].tolist()} are not node ids of the batch. Pad "
                "with copies of a real pair (e.g. the first one): padding is masked out, but "
                "its ids are still looked up."
            )
    mask = as_array(got[3], f"{call} mask")
    want_mask = (np.arange(size) < n).astype(np.float64)
    if not np.array_equal(mask, want_mask):
        hint = f"{call}: mask {mask.tolist()}, expected {want_mask.tolist()}: "
        if np.array_equal(mask, 1.0 - want_mask):
            hint += "it is the wrong way round. "
        raise AssertionError(hint + "1.0 for a real pair, 0.0 for padding.")
    if not np.all(np.isfinite(as_array(got[2], f"{call} ratings"))):
        raise AssertionError(f"{call}: padded ratings must be finite numbers (they are masked).")


def _test_pad_and_shard(fn: Callable) -> None:
    for mesh in _meshes():
        n_dev = mesh.devices.size
        for n in (*_BATCH_SIZES, 2 * n_dev):
            arrays = _batch(n)
            call = f"pad_and_shard(mesh of {n_dev} device{'s' * (n_dev > 1)}, batch of {n})"
            out = _call(fn, mesh, arrays, call)
            _check_values(out, arrays, n_dev, call)
            _check_placement(out, mesh, call)


def check_pad_and_shard(fn: Callable) -> Callable:
    """Check Exercise 7.2, ``pad_and_shard(mesh, users, movies, ratings)``."""
    n_cpu = len(_meshes())
    tested = (
        f"on meshes of 1 to {n_cpu} CPU devices"
        if n_cpu > 1
        else "on 1 CPU device (only the placement: one device needs no padding; with "
        "XLA_FLAGS=--xla_force_host_platform_device_count=2 the padding is tested too)"
    )
    return run_check(
        "7.2",
        fn,
        ref.pad_and_shard,
        _test_pad_and_shard,
        f"batches padded to a multiple of the devices with mask 0 on the padding, each array "
        f"split PartitionSpec('data') over the mesh; tested {tested}.",
    )
