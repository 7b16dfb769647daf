"""``make bench-scale``: seconds per epoch and peak memory of the default rating model and of
the ranking model (LightGCN, BPR) at MovieLens sizes (sparse synthetic ratings), on 1 and 2
(forced CPU) devices.

One subprocess per (model, size, devices) run, so ``ru_maxrss`` is that run's peak.

* rating model: an epoch is one full-batch step of ``training.fit`` (its default; with 2
  devices the batch of ratings is split, the encoder is replicated);
* ranking model: epochs of ``training.fit_ranking`` (BPR, 4 negatives per positive, every
  step one full-graph encode), at the registry's batch of 16,384 triples or, at sizes where
  that would make an epoch longer than 64 steps, the power of two that keeps it at 64
  (:func:`ranking_batch_size`). With 2 devices the triples are split
  (``training.sharding``), params and graph replicated.

A run whose estimated peak does not fit in the free memory is skipped with a message.
Writes ``benchmarks/scale.json``, ``benchmarks/scale.png`` and the marked section of
``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/bench_scale.py [--models default,lightgcn] [--sizes ml-100k,...]
[--devices 1,2]`` (a rerun replaces only the runs it makes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {  # users, movies, ratings (the real datasets' counts)
    "ml-100k": (943, 1682, 100_000),
    "ml-1m": (6040, 3706, 1_000_209),
    "ml-10m": (69_878, 10_677, 10_000_054),
    "ml-25m": (162_541, 59_047, 25_000_095),
}
# Peak GiB per million ratings, measured here (rating: 4.9 GiB at 10M; ranking: 5.2 GiB at 10M,
# with the epoch's triples on the host); plus 0.5 GiB to start.
GIB_PER_MILLION = {"default": 0.6, "lightgcn": 0.5}
TIMED_EPOCHS = 2
RANKING_MAX_STEPS = 64  # ranking: at most this many BPR steps (full-graph encodes) an epoch
TIMEOUT_S = 1800
MODEL_LABELS = {"default": "rating (default)", "lightgcn": "ranking (LightGCN)"}
BEGIN, END = "<!-- bench-scale -->", "<!-- /bench-scale -->"


def child(model_name: str, size: str, devices: int) -> None:
    """Train one model on one size and print one JSON line (runs in its own process)."""
    from gnnrec_course.data import synthetic_ratings
    from gnnrec_course.graph import build_id_maps

    users, movies, n = SIZES[size]
    ratings = synthetic_ratings(users, movies, seed=0, n_ratings=n)
    maps = build_id_maps(ratings)
    run_child = rating_child if model_name == "default" else ranking_child
    row = run_child(ratings, maps, devices)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    row = {"size": size, "devices": devices, "ratings": len(ratings), "model": model_name, **row}
    print(json.dumps({**row, "peak_gib": round(peak, 2)}))


def rating_child(ratings, maps, devices: int) -> dict:
    """Compiled full-batch epochs of the default model (``training.fit``)."""
    from gnnrec_course import models, training
    from gnnrec_course.graph import build_graph, rating_edges

    graph = build_graph(ratings, maps)
    edges = rating_edges(ratings, maps)
    model = models.default_model(maps.num_nodes, 1.0, 5.0, num_users=maps.num_users)
    kw = dict(patience=None, progress=False, devices=devices if devices > 1 else None)
    start = time.perf_counter()
    first = training.fit(model, graph, edges, None, epochs=1, **kw)  # compiles
    compile_s = time.perf_counter() - start
    epochs = 1 if len(ratings) > 20_000_000 else TIMED_EPOCHS  # keeps 25M under ~8 min
    timed = training.fit(model, graph, edges, None, epochs=epochs, state=first.state, **kw)
    return {
        "first_epoch_s": round(compile_s, 2),
        "s_per_epoch": round(timed.seconds / epochs, 3), "epochs_timed": epochs,
    }  # fmt: skip


def ranking_batch_size(num_ratings: int) -> int:
    """Triples per BPR step: the registry's batch, or more so that an epoch is <= 64 steps.

    Every step propagates the whole graph, so at the registry's 16,384 triples an ml-10m
    epoch would be 2,442 full-graph propagations; the smallest power of two that keeps an
    epoch at <= ``RANKING_MAX_STEPS`` steps is used instead (large graphs train with large
    batches).
    """
    from gnnrec_course.config import get_model_entry

    tcfg = get_model_entry("lightgcn").train
    triples = num_ratings * tcfg.num_negatives
    needed = -(-triples // RANKING_MAX_STEPS)
    return max(tcfg.batch_size, 1 << (needed - 1).bit_length())


def ranking_child(ratings, maps, devices: int) -> dict:
    """Epochs of LightGCN with BPR (``training.fit_ranking``, no validation)."""
    from gnnrec_course import training
    from gnnrec_course.config import get_model_entry

    batch = ranking_batch_size(len(ratings))
    epochs = 1 if len(ratings) > 20_000_000 else TIMED_EPOCHS + 1  # the first one compiles
    result = training.fit_ranking(
        ratings, maps, seed=0, progress=False, devices=devices if devices > 1 else None,
        epochs=epochs, batch_size=batch,
    )  # fmt: skip
    seconds = [row["seconds"] for row in result.history]
    triples = len(ratings) * get_model_entry("lightgcn").train.num_negatives
    return {
        "first_epoch_s": round(seconds[0], 2),
        "s_per_epoch": round(statistics.median(seconds[1:] or seconds), 3),
        "epochs_timed": len(seconds[1:]), "batch_size": batch,
        "steps_per_epoch": -(-triples // batch),
    }  # fmt: skip


def _free_gib() -> float:
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) for line in f}
    return info["MemAvailable"] / 2**20


def run(models: list[str], sizes: list[str], devices: list[int]) -> list[dict]:
    rows = []
    for model in models:
        for size in sizes:
            need = GIB_PER_MILLION[model] * SIZES[size][2] / 1e6 + 0.5
            for d in devices:
                key = {"model": model, "size": size, "devices": d}
                if need > 0.8 * _free_gib():
                    why = f"needs ~{need:.1f} GiB, {_free_gib():.1f} GiB free"
                    print(f"skip {model} {size} on {d} device(s): {why}", flush=True)
                    rows.append({**key, "skipped": why})
                    continue
                rows.append(_run_child(key))
                print(rows[-1], flush=True)
    return rows


def _run_child(key: dict) -> dict:
    d = key["devices"]
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={d}"}
    command = [sys.executable, __file__, "--child", key["model"], key["size"], str(d)]
    try:
        out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {**key, "skipped": f"over {TIMEOUT_S} s"}
    if out.returncode != 0:
        return {**key, "skipped": " ".join(out.stderr.split())[-200:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = [
        "| model | size | ratings | devices | first epoch (compiles) s | s / epoch "
        "| peak GiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        head = f"| {MODEL_LABELS[r['model']]} | {r['size']} |"
        if "skipped" in r:
            lines.append(f"{head} - | {r['devices']} | skipped: {r['skipped']} | | |")
            continue
        per_epoch = f"{r['s_per_epoch']:g}"
        if r.get("batch_size"):
            per_epoch += f" ({r['steps_per_epoch']:,} steps of {r['batch_size']:,})"
        if r.get("epochs_timed") == 0:
            per_epoch += ", compile included"
        lines.append(
            f"{head} {r['ratings']:,} | {r['devices']} | {r['first_epoch_s']} | {per_epoch} "
            f"| {r['peak_gib']} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for model, style in (("default", "o-"), ("lightgcn", "s--")):
        for d in sorted({r["devices"] for r in rows}):
            done = [
                r for r in rows
                if r["model"] == model and r["devices"] == d and "skipped" not in r
            ]  # fmt: skip
            if not done:
                continue
            x = [r["ratings"] for r in done]
            label = f"{MODEL_LABELS[model]}, {d} device(s)"
            ax_t.plot(x, [r["s_per_epoch"] for r in done], style, label=label)
            ax_m.plot(x, [r["peak_gib"] for r in done], style, label=label)
    labels = ((ax_t, "seconds per epoch"), (ax_m, "peak memory (GiB)"))
    for ax, label in labels:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training ratings")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle("Sparse synthetic MovieLens-sized data, CPU (2 devices: forced, same cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_results(rows: list[dict], note: str) -> None:
    results = HERE / "RESULTS.md"
    text = results.read_text() if results.exists() else "# Benchmarks\n"
    section = f"{BEGIN}\n## Scale (`make bench-scale`)\n\n{note}\n\n{table(rows)}\n\n"
    section += f"![time and memory vs ratings](scale.png)\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    results.write_text(text)


def _key(row: dict) -> tuple[str, str, int]:
    return row.get("model", "default"), row["size"], row["devices"]


def _merged(rows: list[dict]) -> list[dict]:
    """Earlier rows of ``scale.json`` for the (model, size, devices) runs not run now, plus
    ``rows``, in the order model, size, devices."""
    path = HERE / "scale.json"
    old = json.loads(path.read_text()) if path.exists() else []
    old = [{"model": "default", **r} for r in old]
    new = {_key(r) for r in rows}
    kept = [r for r in old if _key(r) not in new]
    sizes, models = list(SIZES), list(MODEL_LABELS)
    return sorted(
        kept + rows, key=lambda r: (models.index(r["model"]), sizes.index(r["size"]), r["devices"])
    )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODEL_LABELS))
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--devices", default="1,2")
    args = parser.parse_args()
    models, sizes = args.models.split(","), args.sizes.split(",")
    devices = [int(d) for d in args.devices.split(",")]
    rows = _merged(run(models, sizes, devices))
    (HERE / "scale.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, HERE / "scale.png")
    load = os.getloadavg()[0]
    note = (
        f"Generated on {time.strftime('%Y-%m-%d %H:%M')} by `benchmarks/bench_scale.py` "
        f"(last run: {', '.join(models)} at {', '.join(sizes)}; load average {load:.1f} on "
        f"{os.cpu_count()} cores, shared with other work: times are noisy). Ratings per size "
        "as in the real datasets. Rating model: one full-batch epoch of `training.fit` compiled, "
        f"then {TIMED_EPOCHS} timed (1 at 25M). Ranking model: epochs of "
        "`training.fit_ranking` (BPR, 4 negatives per positive; every step encodes the whole "
        f"graph), the first one compiling, then {TIMED_EPOCHS} timed (none at 25M: its "
        "one epoch includes the compilation); batch 16,384 triples, or the power of two that "
        f"keeps an epoch at <= {RANKING_MAX_STEPS} steps (column batch). Peak = "
        "`ru_maxrss` of the run's own process (data generation included). 2 devices are forced "
        "CPU devices on the same cores: they show that sharding runs, not a speed-up."
    )
    write_results(rows, note)


if __name__ == "__main__":
    main()
