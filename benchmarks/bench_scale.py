"""``make bench-scale``: seconds per epoch and peak memory of the default rating model and of
the ranking model (LightGCN, BPR) at MovieLens sizes (sparse synthetic ratings), on 1 and 2
(forced CPU) devices.

One subprocess per (model, size, devices) run, so ``ru_maxrss`` is that run's peak.

* rating model: an epoch is one full-batch step of ``training.fit`` (its default; with 2
  devices the batch of ratings is split, the encoder is replicated);
* ranking model: ``RankingTrainConfig``'s BPR step (one full-graph encode, a batch of
  16,384 triples) timed over a few steps; an epoch is ``ceil(4 E / 16384)`` such steps
  (4 negatives per positive), so its seconds per epoch are *projected* from the step time.
  With 2 devices the triples are split (``training.sharding``), params and graph replicated.

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
# Peak GiB per million ratings, measured here (rating: 4.9 GiB at 10M; ranking: LightGCN's
# one-shot segment_sum holds [2E, D] messages, forward and backward); plus 0.5 GiB to start.
GIB_PER_MILLION = {"default": 0.6, "lightgcn": 1.2}
TIMED_EPOCHS = 2
TIMED_STEPS = 3  # ranking: BPR steps timed after the compiling one
TIMEOUT_S = 600
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


def ranking_child(ratings, maps, devices: int) -> dict:
    """Compiled BPR steps of LightGCN at the registry's settings; the epoch is projected."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax.training.train_state import TrainState

    from gnnrec_course.config import get_model_entry
    from gnnrec_course.models import LightGCN
    from gnnrec_course.training.ranking import interaction_graph, layer0_embeddings
    from gnnrec_course.training.ranking_bpr import bpr_loss
    from gnnrec_course.training.sharding import data_mesh, replicate, round_up, shard_batch

    entry = get_model_entry("lightgcn")
    mcfg, tcfg = entry.model, entry.train
    graph = jax.tree_util.tree_map(jnp.asarray, interaction_graph(ratings, maps))
    model = LightGCN(maps.num_nodes, mcfg.embed_dim, mcfg.num_layers, mcfg.init_std)
    probe = (jnp.zeros(1, jnp.int32), jnp.full(1, maps.num_users, jnp.int32))
    params = model.init(jax.random.key(0), graph, *probe)["params"]
    state = TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(1e-2))

    @jax.jit
    def step(state, graph, u, p, n):  # u user nodes, p / n movie nodes, [B] each
        def loss_fn(params):
            z = model.apply({"params": params}, graph, method=model.encode)
            pos = model.apply({"params": params}, z, u, p, method=model.decode)
            neg = model.apply({"params": params}, z, u, n, method=model.decode)
            e0 = layer0_embeddings(params)
            reg = 0.5 * jnp.mean(jnp.sum(e0[u] ** 2 + e0[p] ** 2 + e0[n] ** 2, -1))
            return bpr_loss(pos, neg) + tcfg.l2 * reg

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    batch = round_up(tcfg.batch_size, devices)
    rng = np.random.default_rng(0)
    users = rng.integers(0, maps.num_users, batch).astype(np.int32)
    pos = (maps.num_users + rng.integers(0, maps.num_movies, batch)).astype(np.int32)
    neg = (maps.num_users + rng.integers(0, maps.num_movies, batch)).astype(np.int32)
    arrays = (users, pos, neg)
    if devices > 1:
        mesh = data_mesh(devices)
        state, graph = replicate(mesh, (state, graph))
        arrays = shard_batch(mesh, *arrays)
    start = time.perf_counter()
    state, loss = step(state, graph, *arrays)
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(TIMED_STEPS):
        state, loss = step(state, graph, *arrays)
    jax.block_until_ready(loss)
    step_s = (time.perf_counter() - start) / TIMED_STEPS
    steps = -(-len(ratings) * tcfg.num_negatives // batch)
    return {
        "first_epoch_s": round(compile_s, 2), "s_per_step": round(step_s, 3),
        "steps_per_epoch": steps, "s_per_epoch": round(step_s * steps, 1),
        "projected": True,
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
        "| model | size | ratings | devices | first epoch / step (compile) s | s / epoch "
        "| peak GiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        head = f"| {MODEL_LABELS[r['model']]} | {r['size']} |"
        if "skipped" in r:
            lines.append(f"{head} - | {r['devices']} | skipped: {r['skipped']} | | |")
            continue
        per_epoch = f"{r['s_per_epoch']:g}"
        if r.get("projected"):
            per_epoch += f" ({r['steps_per_epoch']:,} steps x {r['s_per_step']:g} s)"
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
    labels = ((ax_t, "seconds per epoch (ranking: projected)"), (ax_m, "peak memory (GiB)"))
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
        f"then {TIMED_EPOCHS} timed (1 at 25M). Ranking model: LightGCN's BPR step at the "
        f"registry's settings, {TIMED_STEPS} steps timed after the compiling one; seconds per "
        "epoch projected as steps x step time (each step encodes the whole graph). Peak = "
        "`ru_maxrss` of the run's own process (data generation included). 2 devices are forced "
        "CPU devices on the same cores: they show that sharding runs, not a speed-up."
    )
    write_results(rows, note)


if __name__ == "__main__":
    main()
