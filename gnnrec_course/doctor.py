"""``gnnrec-course doctor``: a pre-flight check before a workshop (or before you start alone).

It reports the Python and library versions, the JAX backend and devices, which MovieLens
datasets are on disk (and whether they load), times a short training run of the default model
on ml-100k and extrapolates how long the course's notebooks take to execute on this machine.

The exit status is 0 when the course can run here (the libraries import and ml-100k is
present and loads), else 1, with one line per problem that says what to do. With ``--json``
the report is one JSON object on stdout and nothing else is printed there.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from gnnrec_course.errors import one_line

# (distribution name, module to import) of every library the course needs.
REQUIRED_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("jax", "jax"),
    ("jaxlib", "jaxlib"),
    ("flax", "flax"),
    ("optax", "optax"),
    ("jraph", "jraph"),
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("matplotlib", "matplotlib"),
    ("networkx", "networkx"),
    ("tqdm", "tqdm"),
)
# Reported when installed; not needed on Colab or to run the package from a script.
OPTIONAL_LIBRARIES: tuple[str, ...] = ("jupyterlab", "ipykernel", "nbval", "pytest")
# The course's own modules: they import the libraries above the way the notebooks do.
COURSE_MODULES: tuple[str, ...] = (
    "gnnrec_course.data",
    "gnnrec_course.graph",
    "gnnrec_course.models",
    "gnnrec_course.training",
)

MIN_PYTHON = (3, 10)
REQUIRED_DATASET = "ml-100k"

# Sizes of the official files: a dataset that loads with other counts is not the real one
# (e.g. a synthetic stand-in); the course still runs, but its numbers will differ.
OFFICIAL_COUNTS: dict[str, dict[str, int]] = {
    "ml-100k": {"ratings": 100_000, "users": 943, "movies": 1_682},
    "ml-latest-small": {"ratings": 100_836, "users": 610, "movies": 9_724},
    "ml-1m": {"ratings": 1_000_209, "users": 6_040, "movies": 3_706},
}

# The timed run: full-batch training epochs of the registry's default model on ml-100k,
# after one warm-up epoch that compiles the step.
TIMED_MODEL = "default"
TIMING_EPOCHS = 10
# The reference machine: 2 CPU cores, the budget of the design (every notebook <= 90 s, the
# whole course <= 5 min). Both numbers were measured on one quiet 2-core development machine
# on 2026-11-29: REFERENCE_EPOCH_SECONDS is `timing.epoch_seconds` of
# `gnnrec-course doctor --json`, REFERENCE_COURSE_SECONDS the total of `make course`.
REFERENCE_EPOCH_SECONDS = 0.076
REFERENCE_COURSE_SECONDS = 107.0

REPORT_VERSION = 1


# ---------------------------------------------------------------------------------------------
# Checks: each returns plain data (JSON-ready) and appends to `problems` / `warnings`
# ---------------------------------------------------------------------------------------------


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def check_python(problems: list[str]) -> dict[str, Any]:
    """The interpreter: version, executable and platform."""
    version = platform.python_version()
    if sys.version_info[:2] < MIN_PYTHON:
        needed = ".".join(map(str, MIN_PYTHON))
        problems.append(
            f"Python {version} is too old: the course needs Python {needed} or newer "
            "(see README, 'Quick start', or use environment.yml with conda)."
        )
    return {
        "version": version,
        "executable": sys.executable,
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def _declared_ranges() -> dict[str, Any]:
    """The installed course package's dependency ranges, by canonical name (empty if unknown)."""
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        requires = metadata.requires("gnnrec-course") or []
    except (ImportError, metadata.PackageNotFoundError):
        return {}
    ranges = {}
    for line in requires:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            ranges[canonicalize_name(requirement.name)] = requirement.specifier
    return ranges


def check_libraries(problems: list[str], warnings: list[str]) -> dict[str, Any]:
    """Versions of the libraries; each required one must import, within the declared range."""
    ranges = _declared_ranges()
    required: dict[str, Any] = {}
    for distribution, module in REQUIRED_LIBRARIES:
        version = _version(distribution)
        entry: dict[str, Any] = {"version": version, "imports": False}
        try:
            importlib.import_module(module)
            entry["imports"] = True
        except Exception as error:  # noqa: BLE001 - any failure to import is the finding
            entry["error"] = one_line(f"{type(error).__name__}: {error}")
            problems.append(
                f"{distribution} cannot be imported ({entry['error']}): install the course's "
                'libraries with `make lab` (or `pip install -e ".[lab]"` in the repository).'
            )
        wanted = ranges.get(distribution)
        if version is not None and wanted is not None and str(wanted):
            entry["required"] = str(wanted)
            if not wanted.contains(version, prereleases=True):
                warnings.append(
                    f"{distribution} {version} is outside the tested range {wanted}: "
                    f"`pip install '{distribution}{wanted}'` if a notebook fails."
                )
        required[distribution] = entry
    optional = {name: _version(name) for name in OPTIONAL_LIBRARIES}
    if optional["jupyterlab"] is None and optional["ipykernel"] is None:
        warnings.append(
            "JupyterLab is not installed here: `make lab` installs it (not needed on Google Colab)."
        )
    course: dict[str, Any] = {"version": _version("gnnrec-course")}
    for module in COURSE_MODULES:
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001
            message = one_line(f"{type(error).__name__}: {error}")
            course[module] = message
            if all(entry["imports"] for entry in required.values()):
                problems.append(
                    f"{module} cannot be imported ({message}): reinstall the course with "
                    '`pip install -e ".[lab]"` in the repository.'
                )
    return {"required": required, "optional": optional, "gnnrec_course": course}


def check_jax() -> dict[str, Any]:
    """JAX's default backend and its devices (CPU is fine for this course)."""
    try:
        import jax

        devices = jax.devices()
        return {
            "backend": jax.default_backend(),
            "devices": [f"{d.platform}:{d.id} ({d.device_kind})" for d in devices],
            "sharded_step": check_sharded_step(),
        }
    except Exception as error:  # noqa: BLE001
        return {"backend": None, "devices": [], "error": one_line(error)}


def check_sharded_step() -> str:
    """``"ok on N devices"`` if a jitted step over a batch split on every device runs right."""
    try:
        import jax
        import numpy as np

        from .training.sharding import data_mesh, shard_batch

        mesh = data_mesh()
        n = mesh.devices.size
        (batch,) = shard_batch(mesh, np.arange(4 * n, dtype=np.float32))
        total = float(jax.jit(lambda x: (2.0 * x).sum())(batch))
        if total != float(4 * n * (4 * n - 1)):
            return f"wrong result {total} on {n} devices"
        return f"ok on {n} device{'s' if n > 1 else ''}"
    except Exception as error:  # noqa: BLE001
        return f"failed: {one_line(error)}"


def _where_data_dir_comes_from() -> str:
    if os.environ.get("GNNREC_DATA_DIR", "").strip():
        return "GNNREC_DATA_DIR"
    if os.environ.get("XDG_CACHE_HOME", "").strip():
        return "XDG_CACHE_HOME"
    return "default"


def check_datasets(problems: list[str], warnings: list[str]) -> dict[str, Any]:
    """Which datasets are extracted in the data folder, and whether their ratings load."""
    try:
        from gnnrec_course import data
    except Exception as error:  # noqa: BLE001 - reported by check_libraries already
        return {"dir": None, "source": None, "error": one_line(error), "datasets": {}}
    root = data.data_dir()
    datasets: dict[str, Any] = {}
    for name, spec in data.DATASETS.items():
        folder = data.dataset_path(name, root)
        entry: dict[str, Any] = {
            "path": str(folder),
            "present": data.is_present(name, root),
            "verified": False,
            "redistributable": spec.redistributable,
        }
        if entry["present"]:
            try:
                dataset = data.load_dataset(name, root)
                counts = {
                    "ratings": int(dataset.num_ratings),
                    "users": int(dataset.num_users),
                    "movies": int(dataset.num_movies),
                }
                entry.update(counts)
                entry["rating_scale"] = [float(dataset.rating_min), float(dataset.rating_max)]
                entry["official"] = counts == OFFICIAL_COUNTS.get(name)
                entry["verified"] = True
                if not entry["official"]:
                    expected = OFFICIAL_COUNTS.get(name, {})
                    warnings.append(
                        f"{name} in {folder} has {counts['ratings']:,} ratings, "
                        f"{counts['users']:,} users and {counts['movies']:,} movies, not the "
                        f"official {expected.get('ratings', 0):,} / {expected.get('users', 0):,}"
                        f" / {expected.get('movies', 0):,}: results will differ from the "
                        f"course's; delete the folder and run "
                        f"`gnnrec-course data download --dataset {name}`."
                    )
                if name == "ml-100k":
                    missing = [f for f in data.FOLDS if not (folder / f"{f}.base").is_file()]
                    entry["folds"] = [f for f in data.FOLDS if f not in missing]
                    if missing:
                        warnings.append(
                            f"ml-100k in {folder} lacks the official folds {', '.join(missing)}"
                            " (uN.base/uN.test): split='u1'..'u5' will fail."
                        )
            except Exception as error:  # noqa: BLE001 - a broken copy is the finding
                entry["error"] = one_line(error)
                if name == REQUIRED_DATASET:
                    problems.append(
                        f"{name} in {folder} cannot be read ({entry['error']}): delete that "
                        f"folder and run `gnnrec-course data download`, or set GNNREC_DATA_DIR "
                        f"to a folder with a good copy."
                    )
        elif name == REQUIRED_DATASET:
            problems.append(
                f"{name} is missing from {root}: run `gnnrec-course data download` or set "
                f"GNNREC_DATA_DIR to a folder that holds {name}/ (README, 'Data')."
            )
        datasets[name] = entry
    return {"dir": str(root), "source": _where_data_dir_comes_from(), "datasets": datasets}


def _timing_problem(root: str | Path | None) -> tuple:
    """The default model and ml-100k's seeded random split, as training reads them.

    Returns ``(model, graph, train_edges, val_edges)``.
    """
    from gnnrec_course import config, data, graph

    dataset = data.load_dataset(REQUIRED_DATASET, root)
    split = graph.load_split(dataset, "random", seed=0, root=root)
    maps = graph.build_id_maps(dataset.ratings, name=dataset.name)
    model = config.build_model(
        TIMED_MODEL,
        num_nodes=maps.num_nodes,
        num_users=maps.num_users,
        rating_min=dataset.rating_min,
        rating_max=dataset.rating_max,
        rating_mean=float(split.train["rating"].mean()),
    )
    edges = (graph.rating_edges(split.train, maps), graph.rating_edges(split.val, maps))
    return model, graph.build_graph(split.train, maps), *edges


def time_training(epochs: int = TIMING_EPOCHS, root: str | Path | None = None) -> dict[str, Any]:
    """Time full-batch training epochs of the default model on ml-100k, as ``fit`` runs them.

    One epoch is a training step plus the validation RMSE
    (:func:`gnnrec_course.training.epoch_seconds`, with the model's training config). The
    first epoch compiles both and is timed on its own (``compile_seconds``);
    ``epoch_seconds`` is the median of the ``epochs`` epochs after it.
    """
    from gnnrec_course import config, training

    model, train_graph, train_edges, val_edges = _timing_problem(root)
    timing = training.epoch_seconds(
        model,
        train_graph,
        train_edges,
        val_edges,
        epochs=epochs,
        config=config.get_model_entry(TIMED_MODEL).train,
    )
    return {
        "dataset": REQUIRED_DATASET,
        "model": type(model).__name__,
        "train_ratings": timing.train_ratings,
        "epochs": timing.epochs,
        "compile_seconds": round(timing.compile_seconds, 3),
        "epoch_seconds": round(timing.seconds, 4),
        "final_loss": round(timing.final_loss, 4),
        "val_rmse": round(timing.val_rmse, 4),
    }


def estimate_course_seconds(epoch_seconds: float) -> float:
    """Seconds to execute every notebook here, scaled from the reference machine."""
    return REFERENCE_COURSE_SECONDS * epoch_seconds / REFERENCE_EPOCH_SECONDS


def check_timing(
    problems: list[str], warnings: list[str], epochs: int = TIMING_EPOCHS
) -> dict[str, Any]:
    """The timed run and the course estimate; a failure here means the course cannot run."""
    try:
        timing = time_training(epochs)
    except Exception as error:  # noqa: BLE001 - any failure is the finding
        message = one_line(f"{type(error).__name__}: {error}")
        problems.append(
            f"a short training run of the default model failed ({message}): check the versions "
            "above against pyproject.toml, or run `make test` to see where it breaks."
        )
        return {"error": message}
    seconds = estimate_course_seconds(timing["epoch_seconds"])
    timing["reference_epoch_seconds"] = REFERENCE_EPOCH_SECONDS
    timing["relative_speed"] = round(REFERENCE_EPOCH_SECONDS / timing["epoch_seconds"], 2)
    timing["estimated_course_seconds"] = round(seconds, 1)
    if seconds > 3 * REFERENCE_COURSE_SECONDS:
        warnings.append(
            f"this machine trains {1 / timing['relative_speed']:.1f}× slower than the "
            "reference laptop: consider Google Colab (see README, 'Colab') for the training "
            "notebooks."
        )
    return timing


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def collect(quick: bool = False, epochs: int = TIMING_EPOCHS) -> dict[str, Any]:
    """Every check, as one JSON-ready dict; ``ok`` says whether the course can run here."""
    problems: list[str] = []
    warnings: list[str] = []
    report: dict[str, Any] = {"report_version": REPORT_VERSION}
    report["python"] = check_python(problems)
    report["libraries"] = check_libraries(problems, warnings)
    report["jax"] = check_jax()
    report["data"] = check_datasets(problems, warnings)
    if quick:
        report["timing"] = {"skipped": "--quick"}
    elif problems:
        report["timing"] = {"skipped": "fix the problems first"}
    else:
        report["timing"] = check_timing(problems, warnings, epochs)
    report["ok"] = not problems
    report["problems"] = problems
    report["warnings"] = warnings
    return report


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def format_report(report: dict[str, Any]) -> str:
    """The report as text for a terminal (ASCII markers, so any console can print it)."""
    lines = ["gnnrec-course doctor: workshop pre-flight", ""]
    py = report["python"]
    lines.append(f"Python      {py['version']}  ({py['executable']})")
    lines.append(f"Platform    {py['platform']}, {py['cpus']} CPU(s)")
    libs = report["libraries"]
    lines.append("Libraries")
    for name, entry in libs["required"].items():
        mark = "ok " if entry["imports"] else "ERR"
        version = entry["version"] or "not installed"
        detail = f"  {entry['error']}" if "error" in entry else ""
        lines.append(f"  [{mark}] {name:<13} {version}{detail}")
    for name, version in libs["optional"].items():
        lines.append(f"  [{'ok ' if version else ' - '}] {name:<13} {version or 'not installed'}")
    lines.append(f"  [ok ] {'gnnrec-course':<13} {libs['gnnrec_course'].get('version') or '-'}")
    jax_info = report["jax"]
    if jax_info.get("backend"):
        lines.append(f"JAX         backend {jax_info['backend']}: {', '.join(jax_info['devices'])}")
        lines.append(f"  sharded step {jax_info.get('sharded_step', '-')}")
    else:
        lines.append(f"JAX         unavailable ({jax_info.get('error', 'not installed')})")
    data_info = report["data"]
    if data_info.get("dir"):
        lines.append(f"Data        {data_info['dir']}  (from {data_info['source']})")
    for name, entry in data_info.get("datasets", {}).items():
        if entry.get("verified"):
            official = "" if entry.get("official") else ", not the official file"
            lines.append(
                f"  [ok ] {name:<16} {entry['ratings']:,} ratings, {entry['users']:,} users, "
                f"{entry['movies']:,} movies{official}"
            )
        elif entry["present"]:
            lines.append(f"  [ERR] {name:<16} present but unreadable: {entry.get('error')}")
        else:
            if name == REQUIRED_DATASET:
                lines.append(f"  [ERR] {name:<16} missing (the course needs it)")
            else:
                lines.append(f"  [ - ] {name:<16} not downloaded (optional)")
    timing = report["timing"]
    if "skipped" in timing:
        lines.append(f"Timing      skipped ({timing['skipped']})")
    elif "error" in timing:
        lines.append(f"Timing      failed: {timing['error']}")
    else:
        lines.append(
            f"Timing      {timing['model']} on {timing['dataset']}: compile "
            f"{timing['compile_seconds']:.1f} s, then {timing['epoch_seconds'] * 1000:.0f} ms per"
            f" epoch ({timing['relative_speed']:.2f}× the reference laptop)"
        )
        lines.append(
            f"Estimate    executing all five notebooks takes ≈ "
            f"{_seconds(timing['estimated_course_seconds'])} here; learners need 2 h to a day "
            "(docs/instructor-guide.md)"
        )
    lines.append("")
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    if report["ok"]:
        lines.append("Ready: the course can run on this machine.")
    else:
        lines.append("Not ready. To fix:")
        lines.extend(f"  - {problem}" for problem in report["problems"])
    return "\n".join(lines)


def run(json_output: bool = False, quick: bool = False) -> int:
    """Run every check, print the report and return the exit status (0 ready, 1 not)."""
    report = collect(quick=quick)
    if json_output:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        text = format_report(report)
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        print(text.encode(encoding, errors="replace").decode(encoding, errors="replace"))
    return 0 if report["ok"] else 1
