#!/usr/bin/env python
"""Measure model quality, speed and memory on MovieLens 100K; write benchmarks/RESULTS.md.

    GNNREC_DATA_DIR=/path/to/movielens python benchmarks/run_benchmarks.py [--quick]

What it measures (nothing is asserted; the numbers are for people to read):

* test RMSE / MAE of the default model (:class:`gnnrec_course.models.GCNRecommender`), the
  tutorial's first model (:class:`~gnnrec_course.models.TutorialGCN`, corrected) and each
  baseline (:func:`gnnrec_course.baselines.evaluate_baselines`) on the official ml-100k ``u1``
  fold and on the seeded random 80/10/10 split (seeds 0, 1, 2: mean ± sample std);
* the tutorial model "as written" (directed edges, every rating in the graph, ReLU after the
  last MLP layer, L1 loss divided by all edges, Adam 1e-3, 100 epochs);
* milliseconds per full-batch training step (compiled), training seconds per run;
* peak resident memory of one default training run (a fresh subprocess) and of this script;
* ranking on the stratified protocol (seeds 0, 1, 2: mean ± sample std): P/R/NDCG/MAP@10,
  hit rate and coverage of LightGCN, the rating model, popularity and random, ms per epoch,
  training seconds and peak memory (each model and seed in a fresh subprocess), beside the
  published reference rows of issue 9, marked as cited. ``--only ranking`` runs this part
  alone and keeps the other sections of ``results.json``;
* machine information, and the wall time of every solution notebook when
  ``build/course_timings.json`` exists (written by the notebook timing script).

Also writes the raw numbers to ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnrec_course import config, data, training  # noqa: E402
from gnnrec_course.baselines import evaluate_baselines  # noqa: E402
from gnnrec_course.graph import build_graph, build_id_maps, load_split, rating_edges  # noqa: E402

BASELINE_LABELS = {"global_mean": "Global mean", "bias": "User/movie bias", "mf": "Matrix fact."}
MODEL_LABELS = {"default": "GCN default (GCNRecommender)", "tutorial": "Tutorial GCN (corrected)"}
#: The registry's rating models, in the order of the report's tables.
RATING_MODELS = [name for name, e in config.MODELS.items() if e.objective == "rating"]


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def _maxrss_mb(who: int) -> float:
    """Peak resident set size in MiB (Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_model(dataset, split: str, seed: int, model: str) -> dict:
    result = training.train_default(dataset, split=split, seed=seed, progress=False, model=model)
    return {
        "split": split,
        "seed": seed,
        "model": model,
        "test_rmse": result.test_rmse,
        "test_mae": result.test_mae,
        "val_rmse": result.val_rmse,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": result.train_seconds,
    }


def run_baselines(dataset, split: str, seed: int) -> dict:
    start = time.perf_counter()
    scores = evaluate_baselines(load_split(dataset, split, seed=seed))
    return {"seconds": time.perf_counter() - start, "scores": scores}


def step_timing(dataset, model_name: str, steps: int = 20) -> dict:
    """Milliseconds per compiled full-batch training step on the u1 training graph."""
    entry = config.get_model_entry(model_name)
    maps = build_id_maps(dataset.ratings)
    split = load_split(dataset, "u1", seed=0)
    model = config.build_model(
        model_name, num_nodes=maps.num_nodes, num_users=maps.num_users,
        rating_min=dataset.rating_min, rating_max=dataset.rating_max,
        rating_mean=float(split.train["rating"].mean()),
    )  # fmt: skip
    edges = rating_edges(split.train, maps)
    # one epoch = one train step (no validation pass), as the report's table says
    timing = training.epoch_seconds(
        model, build_graph(split.train, maps), edges, epochs=steps, config=entry.train
    )
    return {
        "model": model_name,
        "compile_seconds": timing.compile_seconds,
        "ms_per_step_median": 1000 * timing.seconds,
        "ms_per_step_min": 1000 * timing.min_seconds,
        "train_ratings": timing.train_ratings,
    }


def tutorial_as_written(dataset, seed: int = 0, epochs: int = 100) -> dict:
    """The tutorial's first model trained the way the tutorial did, on the u1 fold.

    Every rating (train, validation and test) is a user->movie edge of the graph (directed, and
    leaking the held-out ratings into message passing); the MLP applies ReLU after its last
    layer; the L1 loss over the training edges is divided by the number of *all* edges; Adam
    at 1e-3 for 100 epochs.
    """
    import jax
    import jax.numpy as jnp
    import jraph
    import optax

    from gnnrec_course.models import tutorial_model

    maps = build_id_maps(dataset.ratings)
    split = load_split(dataset, "u1", seed=0)
    parts = [rating_edges(df, maps) for df in (split.train, split.val, split.test)]
    users = np.concatenate([p.users for p in parts])
    movies = np.concatenate([p.movies for p in parts])
    ratings = np.concatenate([p.ratings for p in parts])
    n_train, n_val = len(parts[0]), len(parts[1])
    train_mask = np.zeros(len(ratings), np.float32)
    train_mask[:n_train] = 1.0
    test_slice = slice(n_train + n_val, None)
    graph = jraph.GraphsTuple(
        nodes=jnp.arange(maps.num_nodes, dtype=jnp.int32)[:, None],
        edges=jnp.asarray(ratings)[:, None],
        senders=jnp.asarray(users),
        receivers=jnp.asarray(movies),
        n_node=jnp.array([maps.num_nodes]),
        n_edge=jnp.array([len(ratings)]),
        globals=None,
    )
    model = tutorial_model(maps.num_nodes, 1.0, 5.0, mlp_activate_final=True)
    u, m, r = jnp.asarray(users), jnp.asarray(movies), jnp.asarray(ratings)
    mask = jnp.asarray(train_mask)
    params = model.init(jax.random.PRNGKey(seed), graph, u[:2], m[:2])
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    def loss_fn(p, graph):
        pred = model.apply(p, graph, u, m)
        return jnp.sum(jnp.abs(pred - r) * mask) / len(r)  # the tutorial's denominator

    @jax.jit
    def step(p, s, graph):
        loss, grads = jax.value_and_grad(loss_fn)(p, graph)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    start = time.perf_counter()
    for _ in range(epochs):
        params, opt_state, loss = step(params, opt_state, graph)
    pred = np.asarray(jax.jit(model.apply)(params, graph, u, m))
    seconds = time.perf_counter() - start
    test_pred, test_true = pred[test_slice], ratings[test_slice]
    gm = float(ratings[:n_train].mean())
    return {
        "seed": seed,
        "epochs": epochs,
        "final_train_loss": float(loss),
        "test_rmse": float(np.sqrt(np.mean((test_pred - test_true) ** 2))),
        "test_mae": float(np.mean(np.abs(test_pred - test_true))),
        "global_mean_test_rmse": float(np.sqrt(np.mean((gm - test_true) ** 2))),
        "share_predictions_at_1": float(np.mean(np.abs(test_pred - 1.0) < 0.01)),
        "mean_prediction": float(test_pred.mean()),
        "prediction_range": [float(test_pred.min()), float(test_pred.max())],
        "seconds": seconds,
    }


def subprocess_peak_memory(split: str = "u1") -> dict:
    """Wall time and peak RSS of one `train_default` run in a fresh Python process."""
    code = (
        "import json, resource, sys, time\n"
        "t = time.perf_counter()\n"
        "from gnnrec_course import data, training\n"
        "ds = data.load_dataset('ml-100k')\n"
        f"r = training.train_default(ds, split={split!r}, seed=0, progress=False)\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rss = rss / 2**20 if sys.platform == 'darwin' else rss / 1024\n"
        "print(json.dumps({'peak_rss_mb': rss, 'wall_seconds': time.perf_counter() - t,\n"
        "                  'train_seconds': r.train_seconds, 'test_rmse': r.test_rmse}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


RANKING_BEGIN, RANKING_END = "<!-- ranking -->", "<!-- /ranking -->"
SCALE_BEGIN, SCALE_END = "<!-- bench-scale -->", "<!-- /bench-scale -->"  # bench_scale.py's
RANKING_PROTOCOL = "stratified"
RANKING_MODELS = {"lightgcn": "LightGCN (BPR)", "default": "rating model (GCNRecommender)"}
RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
#: Published rows quoted in issue 9 (MovieLens 100K, Microsoft Recommenders' protocol: every
#: rating an interaction, per-user seeded 75/25 split, all unseen movies ranked, top 10).
RANKING_CITED = [
    ("BiVAE", 0.475, 0.412, 0.219, "Microsoft Recommenders benchmark table"),
    ("BPR (cornac)", 0.442, 0.388, 0.213, "Microsoft Recommenders benchmark table"),
    ("LightGCN", 0.420, 0.380, 0.144, "Microsoft Recommenders benchmark table"),
    ("LightGCN, plain JAX (64-d, 3 layers, batch 1024, 50 epochs)", 0.4425, 0.392, 0.209,
     "issue 9, measured earlier on this 2-core machine: 131 s of training"),
    ("LightGCN, PyTorch Geometric 2.8.1, same settings", 0.443, 0.392, 0.207,
     "issue 9, measured earlier on this 2-core machine: 596 s of training"),
]  # fmt: skip


def ranking_run(model: str, seed: int) -> dict:
    """One ``train_ranking`` run in a fresh process: its summary, timings and peak RSS.

    For the rating model it also times its training epochs on the protocol's training graph
    (``training.epoch_seconds``, compiled, median).
    """
    code = (
        "import json, resource, sys, time\n"
        "t = time.perf_counter()\n"
        "from gnnrec_course import config, data, training\n"
        "from gnnrec_course.graph import rating_edges\n"
        "ds = data.load_dataset('ml-100k')\n"
        f"r = training.train_ranking(ds, {RANKING_PROTOCOL!r}, seed={seed}, progress=False,"
        f" model={model!r})\n"
        "out = {'summary': r.summary(), 'ms_per_epoch': r.ms_per_epoch,\n"
        "       'wall_seconds': time.perf_counter() - t}\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "out['peak_rss_mb'] = rss / 2**20 if sys.platform == 'darwin' else rss / 1024\n"
        f"if {model!r} != 'lightgcn':\n"
        "    e = rating_edges(r.split.train, r.maps)\n"
        "    tm = training.epoch_seconds(r.model, r.graph, e, epochs=20,\n"
        f"                                config=config.get_model_entry({model!r}).train)\n"
        "    out['ms_per_epoch'] = 1000 * tm.seconds\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(model=model, seed=seed, load_after=os.getloadavg()[0])
    return out


def run_ranking(seeds: list[int], log) -> dict:
    """Every ranking model on every seed (popularity and random come with each run)."""
    runs: dict[str, list[dict]] = {m: [] for m in RANKING_MODELS}
    for seed in seeds:
        for model in RANKING_MODELS:
            log(f"ranking ({RANKING_PROTOCOL}) seed {seed}: {model} ...")
            runs[model].append(ranking_run(model, seed))
    return {
        "protocol": RANKING_PROTOCOL,
        "seeds": seeds,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load_before": os.getloadavg()[0],
        "runs": runs,
        "settings": {
            "model": config.as_dict(config.MODELS["lightgcn"].model),
            "train": config.as_dict(config.MODELS["lightgcn"].train),
        },
    }


def machine_info() -> dict[str, str]:
    """Python/JAX/flax/optax versions, the platform and the devices."""
    import flax
    import jax
    import optax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "devices": ", ".join(str(d) for d in jax.devices()),
    }


def machine() -> dict:
    """:func:`machine_info` with the CPU count, CPU model and memory (Linux)."""
    info = machine_info()
    info["cpu_count"] = str(os.cpu_count())
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    return info


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def _course_timings(path: Path) -> list[str]:
    lines = ["## Solution notebooks", ""]
    if not path.is_file():
        lines += [
            f"Not measured in this run: `{path.relative_to(ROOT)}` does not exist. The notebook",
            "timing script writes it (wall time of every solution notebook); run it, then this",
            "script again, to fill in this section.",
            "",
        ]
        return lines
    timings = json.loads(path.read_text())
    notebooks = timings.get("notebooks", timings)
    rows = notebooks.items() if isinstance(notebooks, dict) else [
        (n.get("name") or n.get("notebook"), n) for n in notebooks
    ]  # fmt: skip
    lines += ["| notebook | seconds |", "|---|---:|"]
    total = 0.0
    for name, value in rows:
        seconds = value.get("seconds", value.get("wall_seconds")) if isinstance(value, dict) \
            else value  # fmt: skip
        if seconds is None:
            continue
        total += float(seconds)
        lines.append(f"| {name} | {float(seconds):.1f} |")
    lines.append(f"| **all notebooks** | **{total:.1f}** |")
    lines += ["", f"(from `{path.relative_to(ROOT)}`)", ""]
    return lines


def _header(res: dict, command: str) -> list[str]:
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` on {res['date']} (total {res['total_seconds']:.0f} s).",
        "Dataset: MovieLens 100K (Harper & Konstan 2015). Numbers are measurements, not",
        "assertions; tests never time anything.",
        "",
        "## Machine",
        "",
    ]
    return lines + [f"- {k}: {v}" for k, v in res["machine"].items()] + [""]


def _summary(res: dict) -> list[str]:
    seeds = res["random_seeds"]
    u1, rnd = res["u1"], res["random"]
    default_u1 = u1["models"]["default"]["test_rmse"]
    d_rnd = [r["test_rmse"] for r in rnd["models"]["default"]]
    bias_rnd = [b["scores"]["bias"]["rmse"] for b in rnd["baselines"]]
    gaps = [b - d for b, d in zip(bias_rnd, d_rnd, strict=True)]
    mem = res["memory"]["single_run"]
    return [
        "## Summary against the targets",
        "",
        "| target | measured |",
        "|---|---|",
        f"| default model, ml-100k u1 test RMSE ≤ 0.91 (GC-MC 0.910) | {default_u1:.4f} |",
        f"| random split, mean test RMSE ≤ 0.90 (seeds {', '.join(map(str, seeds))}) "
        f"| {np.mean(d_rnd):.4f} |",
        f"| random split, below the bias baseline by ≥ 0.03 on every seed "
        f"| {', '.join(f'{g:.3f}' for g in gaps)} |",
        f"| training ≤ 60 s (u1, one run) | {u1['models']['default']['train_seconds']:.1f} s "
        f"({mem['wall_seconds']:.1f} s wall in a fresh process, imports and data included) |",
        f"| peak memory ≤ 2 GB (one training run) | {mem['peak_rss_mb']:.0f} MiB |",
        "",
    ]


def _quality_table(title: str, models: dict[str, list[dict]], baselines: list[dict]) -> list[str]:
    out = [title, "", "| model | test RMSE | test MAE | epochs (best) | train s |",
           "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, runs in models.items():
        out.append(
            f"| {MODEL_LABELS.get(name, name)} | {_mean_std([r['test_rmse'] for r in runs])} "
            f"| {_mean_std([r['test_mae'] for r in runs])} "
            f"| {np.mean([r['epochs_run'] for r in runs]):.0f} "
            f"({np.mean([r['best_epoch'] for r in runs]):.0f}) "
            f"| {np.mean([r['train_seconds'] for r in runs]):.1f} |"
        )
    for key, label in BASELINE_LABELS.items():
        rm = [b["scores"][key]["rmse"] for b in baselines]
        ma = [b["scores"][key]["mae"] for b in baselines]
        out.append(f"| {label} | {_mean_std(rm)} | {_mean_std(ma)} | | |")
    return out + [""]


def _quality(res: dict) -> list[str]:
    seeds = res["random_seeds"]
    u1, rnd = res["u1"], res["random"]
    lines = _quality_table(
        "## ml-100k, official fold u1 (test = u1.test; validation = seeded 10 % of u1.base)",
        {k: [v] for k, v in u1["models"].items()},
        [u1["baselines"]],
    )
    lines += _quality_table(
        f"## ml-100k, random 80/10/10 split, seeds {', '.join(map(str, seeds))} "
        "(mean ± sample std)",
        rnd["models"],
        rnd["baselines"],
    )
    lines += ["Per seed (test RMSE):", "", "| seed | default | tutorial | bias | MF |",
              "|---:|---:|---:|---:|---:|"]  # fmt: skip
    tut_runs = rnd["models"].get("tutorial")
    for i, seed in enumerate(seeds):
        tut = f"{tut_runs[i]['test_rmse']:.4f}" if tut_runs else "–"
        lines.append(
            f"| {seed} | {rnd['models']['default'][i]['test_rmse']:.4f} | {tut} "
            f"| {rnd['baselines'][i]['scores']['bias']['rmse']:.4f} "
            f"| {rnd['baselines'][i]['scores']['mf']['rmse']:.4f} |"
        )
    return lines + [""]


def _speed_and_memory(res: dict) -> list[str]:
    mem = res["memory"]["single_run"]
    lines = ["## Speed", "", "| model | ms per training epoch (median, compiled) | compile s |",
             "|---|---:|---:|"]  # fmt: skip
    for t in res["speed"]:
        lines.append(
            f"| {MODEL_LABELS.get(t['model'], t['model'])} | {t['ms_per_step_median']:.1f} "
            f"| {t['compile_seconds']:.1f} |"
        )
    return lines + [
        "",
        "One epoch is one full-batch step over the "
        f"{res['speed'][0]['train_ratings']:,} training ratings of u1.",
        "Training seconds above include compilation and the validation pass after every",
        "epoch.",
        "",
        "## Memory",
        "",
        f"- one default training run (fresh process: imports, data, split, graph, training): "
        f"peak RSS {mem['peak_rss_mb']:.0f} MiB",
        f"- this whole benchmark process: peak RSS {res['memory']['benchmark_peak_rss_mb']:.0f} "
        "MiB",
        "",
    ]


def _ranking(rk: dict) -> list[str]:
    """The ranking section: measured rows (mean ± std over seeds), then the cited rows."""
    seeds, runs = rk["seeds"], rk["runs"]
    first = runs["lightgcn"]
    k = first[0]["summary"]["k"]
    head = " | ".join(f"{n}@{k}" for n in RANKING_METRICS)
    lines = [
        f"## Ranking: ml-100k, {rk['protocol']} protocol, seeds {', '.join(map(str, seeds))} "
        "(mean ± sample std)",
        "",
        "Every rating is an interaction; per user a seeded 75/25 split (Microsoft Recommenders'",
        "`python_stratified_split`); every movie outside the user's training part is ranked;",
        "binary relevance. LightGCN's epoch count is chosen per seed by early stopping on a",
        "validation part carved from the training part (seed + 10000); the reported model is",
        "then trained on the whole training part for that many epochs and scored once on test.",
        "The rating model is trained on the same training part's star ratings (early stopping",
        "on the validation part's RMSE, then retrained on all of it for the best epoch count)",
        "and ranks by its unclipped predicted rating.",
        f"Measured on {rk['date']}; 1-minute load average {rk['load_before']:.1f} at the start",
        "(2 cores: timings are noisy under load).",
        "",
        f"| model | {head} | ms/epoch | train s | select s | peak MiB |",
        "|---|" + "---:|" * (len(RANKING_METRICS) + 4),
    ]

    def row(label: str, scores: list[dict], timing: str = "– | – | – | –") -> str:
        cells = [_mean_std([sc[n] for sc in scores]) for n in RANKING_METRICS]
        return f"| {label} | " + " | ".join(cells) + f" | {timing} |"

    for model, label in RANKING_MODELS.items():
        t = runs[model]
        timing = (
            f"{np.median([r['ms_per_epoch'] for r in t]):.0f} "
            f"| {np.mean([r['summary']['train_seconds'] for r in t]):.1f} "
            f"| {np.mean([r['summary']['selection_seconds'] for r in t]):.1f} "
            f"| {max(r['peak_rss_mb'] for r in t):.0f}"
        )
        lines.append(row(label, [r["summary"]["metrics"] for r in t], timing))
    for base in ("popularity", "random"):
        lines.append(row(base, [r["summary"]["baselines"][base] for r in first]))
    lines += [
        "",
        "ms/epoch: median over the seeds of LightGCN's median epoch after the first, and of the",
        "rating model's compiled full-batch epoch on the same training graph. train s: the",
        "reported model's whole fit call (graph, compilation, every epoch). select s: the",
        "validation run that chose the epochs (not in train s). peak MiB: the largest peak RSS",
        "of a fresh process that ran one seed (imports, data, both runs, evaluation).",
        "",
        "Per seed (NDCG@10; epochs: those LightGCN was trained for, chosen on validation):",
        "",
        "| seed | LightGCN | epochs | rating model | popularity | random | LightGCN / popularity |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, seed in enumerate(seeds):
        lg, rm = runs["lightgcn"][i]["summary"], runs["default"][i]["summary"]
        pop = lg["baselines"]["popularity"]["ndcg"]
        lines.append(
            f"| {seed} | {lg['metrics']['ndcg']:.4f} | {lg['epochs_run']} "
            f"| {rm['metrics']['ndcg']:.4f} | {pop:.4f} "
            f"| {lg['baselines']['random']['ndcg']:.4f} | {lg['metrics']['ndcg'] / pop:.2f} |"
        )
    lines += [
        "",
        "Cited, not measured here (the published numbers quoted in issue 9, same protocol):",
        "",
        "| model (cited) | ndcg@10 | precision@10 | recall@10 | source |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ndcg, prec, rec, source in RANKING_CITED:
        lines.append(f"| {name} (cited) | {ndcg:.4f} | {prec:.3f} | {rec:.3f} | {source} |")
    st = rk["settings"]
    return lines + [
        "",
        f"LightGCN settings (`gnnrec_course.config`, the `lightgcn` entry): model "
        f"`{json.dumps(st['model'])}`, training `{json.dumps(st['train'])}`.",
        "Reproduce this section alone: `python benchmarks/run_benchmarks.py --only ranking`.",
        "",
    ]


def _tutorial_as_written(tw_runs: list[dict]) -> list[str]:
    lines = [
        "## The tutorial's first model as written",
        "",
        "u1 fold; every rating (train, validation and test) in the graph as a directed",
        "user→movie edge; ReLU after the last MLP layer; L1 loss divided by all edges;",
        f"Adam 1e-3; {tw_runs[0]['epochs']} epochs; initialisation seeds "
        f"{', '.join(str(t['seed']) for t in tw_runs)}.",
        "",
        "| init seed | test RMSE | test MAE | mean prediction | predictions at 1.0 "
        "| final train loss |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for tw in tw_runs:
        lines.append(
            f"| {tw['seed']} | {tw['test_rmse']:.3f} | {tw['test_mae']:.3f} "
            f"| {tw['mean_prediction']:.2f} | {100 * tw['share_predictions_at_1']:.1f} % "
            f"| {tw['final_train_loss']:.3f} |"
        )
    return lines + [
        "",
        f"Global mean on the same test set: {tw_runs[0]['global_mean_test_rmse']:.3f}. With this",
        "construction the sigmoid saturates for part of the ratings (a share of the",
        "predictions stuck at exactly 1.0, where the L1 gradient through the saturated",
        "sigmoid vanishes); how much depends on the initialisation.",
        "",
    ]


def _settings_and_command(res: dict, command: str) -> list[str]:
    hp = res["hparams"]
    return [
        "## Default hyper-parameters",
        "",
        f"- model: `{json.dumps(hp['model'])}`",
        f"- training: `{json.dumps(hp['fit'])}`",
        "",
        "From `gnnrec_course.config` (the `default` entry of `MODELS`); see the",
        "`GCNRecommender` docstring for the design and why.",
        "",
        "## Command",
        "",
        "```",
        command,
        "```",
        "",
    ]


def report(res: dict, command: str) -> str:
    """``RESULTS.md`` from the raw results."""
    lines = _header(res, command) + _summary(res) + _quality(res) + _speed_and_memory(res)
    if res.get("ranking"):
        lines += [RANKING_BEGIN, *_ranking(res["ranking"]), RANKING_END, ""]
    if res.get("tutorial_as_written"):
        lines += _tutorial_as_written(res["tutorial_as_written"])
    lines += _course_timings(ROOT / "build" / "course_timings.json")
    lines += _settings_and_command(res, command)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="random-split seeds (default 0,1,2)")
    parser.add_argument("--quick", action="store_true", help="seed 0 only, no tutorial runs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument(
        "--json", dest="json_out", default=str(ROOT / "benchmarks" / "results.json")
    )
    parser.add_argument(
        "--only", choices=["all", "ranking"], default="all",
        help="ranking: run only the ranking section, keeping the rest of --json's results",
    )  # fmt: skip
    args = parser.parse_args(argv)
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",") if s.strip()]
    models = ["default"] if args.quick else RATING_MODELS
    command = "python benchmarks/run_benchmarks.py" + (
        " " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )

    start = time.perf_counter()
    dataset = data.load_dataset("ml-100k")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.only == "ranking":
        return _only_ranking(args, seeds, command, log)

    log("peak memory of one training run (subprocess) ...")
    single = subprocess_peak_memory("u1")

    res: dict = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "random_seeds": seeds,
        "hparams": {
            "model": config.as_dict(config.MODELS["default"].model),
            "fit": config.as_dict(config.MODELS["default"].train),
        },
        "u1": {"models": {}, "baselines": None},
        "random": {"models": {m: [] for m in models}, "baselines": []},
    }
    for model in models:
        log(f"u1: {model} ...")
        res["u1"]["models"][model] = run_model(dataset, "u1", 0, model)
    res["u1"]["baselines"] = run_baselines(dataset, "u1", 0)
    for seed in seeds:
        for model in models:
            log(f"random seed {seed}: {model} ...")
            res["random"]["models"][model].append(run_model(dataset, "random", seed, model))
        res["random"]["baselines"].append(run_baselines(dataset, "random", seed))
    log("step timings ...")
    res["speed"] = [step_timing(dataset, m) for m in models]
    if not args.quick:
        log("tutorial as written ...")
        res["tutorial_as_written"] = [tutorial_as_written(dataset, seed) for seed in seeds]
    res["ranking"] = run_ranking(seeds, log)
    res["memory"] = {
        "single_run": single,
        "benchmark_peak_rss_mb": _maxrss_mb(resource.RUSAGE_SELF),
    }
    res["total_seconds"] = time.perf_counter() - start

    Path(args.json_out).write_text(json.dumps(res, indent=2, default=_json_default) + "\n")
    old = Path(args.out).read_text() if Path(args.out).is_file() else ""
    Path(args.out).write_text(keep_scale_section(report(res, command), old))
    log(f"wrote {args.out} and {args.json_out}")
    return 0


def splice_ranking(text: str, section: str) -> str:
    """``text`` (a RESULTS.md) with its ranking section replaced by ``section``: between the
    ranking markers when there, else before the solution-notebook or scale section."""
    if RANKING_BEGIN in text and RANKING_END in text:
        before, rest = text.split(RANKING_BEGIN, 1)
        return before + section + rest.split(RANKING_END, 1)[1]
    for anchor in ("## Solution notebooks", SCALE_BEGIN):
        if anchor in text:
            before, after = text.split(anchor, 1)
            return before + section + "\n\n" + anchor + after
    return text.rstrip("\n") + "\n\n" + section + "\n"


def keep_scale_section(new: str, old: str) -> str:
    """``new`` with ``old``'s bench-scale section (written by bench_scale.py) kept at its end."""
    if SCALE_BEGIN not in old or SCALE_END not in old or SCALE_BEGIN in new:
        return new
    block = SCALE_BEGIN + old.split(SCALE_BEGIN, 1)[1].split(SCALE_END, 1)[0] + SCALE_END
    return new.rstrip("\n") + "\n\n" + block + "\n"


def _only_ranking(args, seeds: list[int], command: str, log) -> int:
    """Run the ranking section and write it into the previous results (kept otherwise)."""
    json_path = Path(args.json_out)
    if not json_path.is_file():
        log(f"{json_path} does not exist: run the whole benchmark once first.")
        return 1
    res = json.loads(json_path.read_text())
    res["ranking"] = run_ranking(seeds, log)
    res["ranking"]["command"] = command
    json_path.write_text(json.dumps(res, indent=2, default=_json_default) + "\n")
    out = Path(args.out)
    old = out.read_text() if out.is_file() else ""
    section = "\n".join([RANKING_BEGIN, *_ranking(res["ranking"]), RANKING_END])
    out.write_text(splice_ranking(old, section))
    log(f"wrote the ranking section into {args.out} and {json_path}")
    return 0


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
