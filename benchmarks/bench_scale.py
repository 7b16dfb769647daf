"""``make bench-scale``: seconds per epoch and peak memory of the default rating model at
MovieLens sizes (sparse synthetic ratings), on 1 and 2 (forced CPU) devices.

One subprocess per (size, devices) run, so ``ru_maxrss`` is that run's peak. An epoch is one
full-batch step (``fit``'s default; with 2 devices the batch is split, the encoder is
replicated). A size whose estimated peak does not fit in the free memory is skipped with a
message. Writes ``benchmarks/scale.json``, ``benchmarks/scale.png`` and the marked section of
``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/bench_scale.py [--sizes ml-100k,ml-1m,...] [--devices 1,2]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
GIB_PER_MILLION = 0.6  # measured: 10M ratings peak at ~5.7 GiB with data and baselines
TIMED_EPOCHS = 2
BEGIN, END = "<!-- bench-scale -->", "<!-- /bench-scale -->"


def child(size: str, devices: int) -> None:
    """Train on one size and print one JSON line (runs in its own process)."""
    from gnnrec_course import models, training
    from gnnrec_course.data import synthetic_ratings
    from gnnrec_course.graph import build_graph, build_id_maps, rating_edges

    users, movies, n = SIZES[size]
    ratings = synthetic_ratings(users, movies, seed=0, n_ratings=n)
    maps = build_id_maps(ratings)
    graph = build_graph(ratings, maps)
    edges = rating_edges(ratings, maps)
    model = models.default_model(maps.num_nodes, 1.0, 5.0, num_users=maps.num_users)
    kw = dict(patience=None, progress=False, devices=devices if devices > 1 else None)
    start = time.perf_counter()
    first = training.fit(model, graph, edges, None, epochs=1, **kw)  # compiles
    compile_s = time.perf_counter() - start
    timed = training.fit(model, graph, edges, None, epochs=TIMED_EPOCHS, state=first.state, **kw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps({
        "size": size, "devices": devices, "ratings": len(ratings), "model": "default",
        "first_epoch_s": round(compile_s, 2),
        "s_per_epoch": round(timed.seconds / TIMED_EPOCHS, 3), "peak_gib": round(peak, 2),
        "epochs_timed": TIMED_EPOCHS,
    }))  # fmt: skip


def _free_gib() -> float:
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) for line in f}
    return info["MemAvailable"] / 2**20


def run(sizes: list[str], devices: list[int]) -> list[dict]:
    rows = []
    for size in sizes:
        need = GIB_PER_MILLION * SIZES[size][2] / 1e6 + 0.5
        for d in devices:
            if need > 0.8 * _free_gib():
                print(f"skip {size}: needs ~{need:.1f} GiB, {_free_gib():.1f} GiB free")
                rows.append({"size": size, "devices": d, "skipped": f"needs ~{need:.1f} GiB"})
                continue
            env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={d}"}
            out = subprocess.run(
                [sys.executable, __file__, "--child", size, str(d)], env=env,
                capture_output=True, text=True, timeout=480,
            )  # fmt: skip
            if out.returncode != 0:
                rows.append({"size": size, "devices": d, "skipped": out.stderr.strip()[-200:]})
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| size | ratings | devices | first epoch (compile) s | s / epoch | peak GiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['size']} | - | {r['devices']} | skipped: {r['skipped']} | | |")
        else:
            lines.append(
                f"| {r['size']} | {r['ratings']:,} | {r['devices']} | {r['first_epoch_s']} | "
                f"{r['s_per_epoch']} | {r['peak_gib']} |"
            )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for d in sorted({r["devices"] for r in rows}):
        done = [r for r in rows if r["devices"] == d and "skipped" not in r]
        x = [r["ratings"] for r in done]
        ax_t.plot(x, [r["s_per_epoch"] for r in done], "o-", label=f"{d} device(s)")
        ax_m.plot(x, [r["peak_gib"] for r in done], "o-", label=f"{d} device(s)")
    for ax, label in ((ax_t, "seconds per full-batch epoch"), (ax_m, "peak memory (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training ratings")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle("Default rating model on sparse synthetic MovieLens-sized data (CPU)")
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


def _merged(rows: list[dict]) -> list[dict]:
    """Earlier rows of ``scale.json`` for the (size, devices) pairs not run now, plus ``rows``."""
    path = HERE / "scale.json"
    old = json.loads(path.read_text()) if path.exists() else []
    new = {(r["size"], r["devices"]) for r in rows}
    kept = [r for r in old if (r["size"], r["devices"]) not in new]
    order = list(SIZES)
    return sorted(kept + rows, key=lambda r: (order.index(r["size"]), r["devices"]))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--devices", default="1,2")
    args = parser.parse_args()
    sizes, devices = args.sizes.split(","), [int(d) for d in args.devices.split(",")]
    rows = _merged(run(sizes, devices))
    (HERE / "scale.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, HERE / "scale.png")
    note = (
        f"Generated on {time.strftime('%Y-%m-%d %H:%M')} by `benchmarks/bench_scale.py`: "
        f"last run: sizes {', '.join(sizes)}; one full-batch epoch compiled, then "
        f"{TIMED_EPOCHS} timed; ratings per size as in the real datasets "
        "(the ranking model is not included yet). 2 devices are forced CPU devices on the "
        "same cores, so they show that sharding runs, not a speed-up."
    )
    write_results(rows, note)


if __name__ == "__main__":
    main()
