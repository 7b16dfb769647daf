"""Save and load a trained model with its config, id maps and metadata.

A checkpoint is a folder with two files::

    checkpoint.json    what the model is: registry name, model config, data facts, dataset,
                       split, seed, test metrics, package version, SHA-256 of params.msgpack
    params.msgpack     the parameters and the id maps (raw user and movie ids), written with
                       ``flax.serialization.msgpack_serialize``

Design notes. The format is ``flax.serialization`` (msgpack) rather than orbax-checkpoint:
the parameters of these models are a few MiB and live on one host, so a single file written
synchronously is all that is needed, it reads back on every flax version the course supports,
and a learner can open ``checkpoint.json`` in an editor to see what was saved. A folder is
written under a temporary name beside the target and renamed into place, so a crash never
leaves a folder that looks complete; ``checkpoint.json`` records the SHA-256 of the parameter
file, so a damaged or truncated file is found on load. On load the parameter shapes are
compared with the shapes the registry's model would have, so an incompatible checkpoint (an
older model layout, another config) is a one-line error, not a flax traceback.

The message-passing graph is not stored: it is rebuilt from the dataset, the split and the seed
(splits are seeded and reproducible), and its number of training ratings is checked against
the saved one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import jraph
import numpy as np
from flax import serialization

from .config import DataFacts, as_dict, get_model_entry, with_overrides
from .errors import CourseError, one_line
from .graph import IdMaps

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "cached_model_dir",
    "load_checkpoint",
    "package_version",
    "save_checkpoint",
]

FORMAT_VERSION = 1
META_FILE = "checkpoint.json"
PARAMS_FILE = "params.msgpack"


class CheckpointError(CourseError):
    """A checkpoint folder that is missing, partial, damaged or made for another model."""


def package_version() -> str:
    """The installed version of gnnrec-course (``"0+unknown"`` when it is not installed)."""
    try:
        return metadata.version("gnnrec-course")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gnnrec-course`` (``~/.cache/gnnrec-course`` without it)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gnnrec-course"


def cached_model_dir(dataset: str, objective: str, seed: int, model: str) -> Path:
    """Where ``gnnrec-course recommend`` keeps the model it trained for these settings.

    ``$XDG_CACHE_HOME/gnnrec-course/models/<dataset>-<objective>-<model>-seed<seed>-v<version>``
    (``~/.cache`` without ``XDG_CACHE_HOME``): one folder per dataset, objective, model, seed
    and package version, so a new version of the package never reads an old model.
    """
    name = f"{dataset}-{objective}-{model}-seed{seed}-v{package_version()}"
    return user_cache_dir() / "models" / name


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
      model_name: the registry name (``gnnrec_course.config.MODELS``).
      model_config: the model config's fields (``{"embed_dim": 32, ...}``).
      facts: the data facts the model was built with.
      params: the parameters (nested dicts of numpy arrays), ready for ``model.apply``.
      maps: raw ids <-> node ids of the data it was trained on.
      dataset, split, seed: what it was trained on.
      num_train_ratings: the number of training ratings (a check on the rebuilt split).
      metrics: test metrics measured after training.
      package_version: the gnnrec-course version that wrote it.
      path: the folder it was read from.
    """

    model_name: str
    model_config: dict[str, Any]
    facts: DataFacts
    params: Any
    maps: IdMaps
    dataset: str
    split: str
    seed: int
    num_train_ratings: int
    metrics: dict[str, Any] = field(default_factory=dict)
    package_version: str = ""
    path: Path | None = None

    @property
    def objective(self) -> str:
        return get_model_entry(self.model_name).objective

    def build_model(self) -> Any:
        """The flax module this checkpoint's parameters belong to."""
        entry = get_model_entry(self.model_name)
        return entry.build(with_overrides(entry.model, **self.model_config), self.facts)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(
        one_line(
            f"The checkpoint in {path} {what}. Train and save it again "
            f"(gnnrec-course train --save {path}), or use --retrain."
        )
    )


def save_checkpoint(
    directory: str | os.PathLike,
    *,
    model_name: str,
    model_config: Any,
    facts: DataFacts,
    params: Any,
    maps: IdMaps,
    dataset: str,
    split: str,
    seed: int,
    num_train_ratings: int,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder (replacing one that is there) and return its path.

    ``model_config`` is the config dataclass (or its dict of fields); ``params`` the
    parameters (``state.params`` or the ``{"params": ...}`` variables).
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    config = model_config if isinstance(model_config, dict) else as_dict(model_config)
    params = params.get("params", params) if hasattr(params, "get") else params
    payload = serialization.msgpack_serialize(
        {
            "params": serialization.to_state_dict(jax.device_get(params)),
            "user_ids": np.asarray(maps.user_ids),
            "movie_ids": np.asarray(maps.movie_ids),
        }
    )
    meta = {
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "model": model_name,
        "model_config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
        "facts": as_dict(facts),
        "dataset": dataset,
        "split": split,
        "seed": int(seed),
        "num_train_ratings": int(num_train_ratings),
        "maps_name": maps.name,
        "metrics": metrics or {},
        "params_sha256": _sha256(payload),
    }
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        (tmp / PARAMS_FILE).write_bytes(payload)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise CheckpointError(
            one_line(
                f"There is no checkpoint folder {path}. Save one with "
                f"'gnnrec-course train --save {path}'."
            )
        )
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, f"has no {META_FILE} (it is partial, or not a checkpoint)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _fail(path, f"has an unreadable {META_FILE} ({err})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise _fail(path, f"has format version {version!r}, this package reads {FORMAT_VERSION}")
    return meta


def _read_payload(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = (path / PARAMS_FILE).read_bytes()
    except OSError:
        raise _fail(path, f"has no readable {PARAMS_FILE} (it is partial)") from None
    if _sha256(payload) != meta.get("params_sha256"):
        raise _fail(path, f"is damaged: {PARAMS_FILE} does not match its recorded SHA-256")
    try:
        return serialization.msgpack_restore(payload)
    except Exception as err:  # msgpack raises several unrelated types on bad bytes
        raise _fail(path, f"is damaged: {PARAMS_FILE} cannot be decoded ({err})") from None


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(k): tuple(np.shape(v)) for k, v in flat}


def _probe_graph(num_nodes: int, num_users: int) -> jraph.GraphsTuple:
    """A one-rating graph with ``num_nodes`` nodes: enough to trace a model's parameter shapes."""
    return jraph.GraphsTuple(
        nodes=np.arange(num_nodes, dtype=np.int32)[:, None],
        edges=np.ones((2, 1), np.float32),
        senders=np.array([0, num_users], np.int32),
        receivers=np.array([num_users, 0], np.int32),
        n_node=np.array([num_nodes], np.int32),
        n_edge=np.array([2], np.int32),
        globals=None,
    )


def _check_compatible(checkpoint: Checkpoint) -> None:
    """Compare the saved parameter shapes with those of the model the registry builds."""
    model = checkpoint.build_model()
    n, u = checkpoint.facts.num_nodes, checkpoint.facts.num_users
    graph = _probe_graph(n, u)
    pair = np.zeros(1, np.int32), np.full(1, u, np.int32)
    expected = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), graph, *pair))["params"]
    if _shapes(expected) != _shapes(checkpoint.params):
        raise _fail(
            checkpoint.path,
            f"does not fit the model '{checkpoint.model_name}' of this package version "
            f"(saved by {checkpoint.package_version or 'an unknown version'})",
        )


def load_checkpoint(directory: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint folder written by :func:`save_checkpoint`.

    Raises:
      CheckpointError: the folder is missing, partial, damaged, or holds parameters that do
        not fit the model its metadata names (one line naming the folder).
    """
    path = Path(directory)
    meta = _read_meta(path)
    payload = _read_payload(path, meta)
    try:
        entry = get_model_entry(meta["model"])
        config = {
            k: tuple(v) if isinstance(v, list) else v for k, v in meta["model_config"].items()
        }
        with_overrides(entry.model, **config)
        checkpoint = Checkpoint(
            model_name=entry.name,
            model_config=config,
            facts=DataFacts(**meta["facts"]),
            params=payload["params"],
            maps=IdMaps(payload["user_ids"], payload["movie_ids"], name=meta["maps_name"]),
            dataset=meta["dataset"],
            split=meta["split"],
            seed=int(meta["seed"]),
            num_train_ratings=int(meta["num_train_ratings"]),
            metrics=dict(meta.get("metrics", {})),
            package_version=str(meta.get("package_version", "")),
            path=path,
        )
    except CourseError as err:
        raise _fail(path, f"names a model this package cannot build ({err})") from None
    except (KeyError, TypeError, ValueError) as err:
        raise _fail(path, f"has incomplete metadata ({type(err).__name__}: {err})") from None
    _check_compatible(checkpoint)
    return checkpoint
