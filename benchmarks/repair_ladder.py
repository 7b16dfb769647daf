#!/usr/bin/env python
"""Notebook 04's repair ladder and its message-passing experiments, over several seeds.

    GNNREC_DATA_DIR=/path/to/movielens python benchmarks/repair_ladder.py [--seeds 0 1 2]

Writes ``gnnrec_course/results/repair_ladder.json`` (every run, and mean ± sample std per row;
shipped with the package, notebook 04 reads it with ``gnnrec_course.results.load_results``)
and ``benchmarks/repair_ladder.md`` (the same as markdown tables).

Everything runs on ml-100k's official fold ``u1`` (test = ``u1.test``, validation = the
split-seed-0 10 % of ``u1.base``, training = the rest); the seeds vary the initialisation
(and dropout keys), never the split. Nothing is asserted; the numbers are for people to read.

* **The ladder**: each step changes one named thing of the step before. From step 1b on every
  run stops early after 30 epochs without a better validation RMSE and keeps the best epoch;
  steps 1b and 2 use the tutorial's Adam 1e-3 (at most 3,000 epochs), step 3 switches to the
  default model's :class:`~gnnrec_course.config.TrainConfig` (Adam 1e-2, at most 500
  epochs), kept to the end. The JSON records whether each run stopped early (it was no longer
  improving) or ran out of epochs. Step 1b is also trained with Adam 1e-2 (an optimiser check).
* **Leak**: the test ratings in the message-passing graph against not (branch A alone and the
  default model).
* **Self-input**: branch B encodes every training rating into its movie's code, so each
  training target is part of its own input (and the edge u-m is in branch A's graph). Trained
  with a fresh random half of the training ratings as the message graph at every epoch and
  the loss on the other half (GC-MC / IGMC style), against a random half as the message graph
  and the loss on all ratings (edge dropout only), against the full graph.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnrec_course import data, training  # noqa: E402
from gnnrec_course.config import (  # noqa: E402
    TrainConfig,
    as_dict,
    build_model,
    get_model_entry,
    with_overrides,
)
from gnnrec_course.graph import build_graph, build_id_maps, load_split, rating_edges  # noqa: E402
from gnnrec_course.metrics import mae, rmse  # noqa: E402
from gnnrec_course.models import TutorialGCN  # noqa: E402
from gnnrec_course.reference.rating_model import TutorialBiasDecoder  # noqa: E402

JSON_PATH = ROOT / "gnnrec_course" / "results" / "repair_ladder.json"  # shipped: nb04 reads it
COMMAND = "GNNREC_DATA_DIR=... python benchmarks/repair_ladder.py"

#: How every step from 1b on trains: the default model's training.
LADDER_TRAIN = get_model_entry("default").train
#: How the tutorial trained: Adam 1e-3, 100 epochs, the last state kept.
TUTORIAL_TRAIN = TrainConfig(epochs=100, learning_rate=1e-3, patience=None, loss="l1")


@dataclass
class Data:
    """The u1 split as the models need it."""

    dataset: object
    maps: object
    split: object
    graph: jraph.GraphsTuple
    train: object
    val: object
    test: object
    mean: float


def load_data() -> Data:
    dataset = data.load_dataset("ml-100k", download_if_missing=True)
    split = load_split(dataset, "u1", seed=0)
    maps = build_id_maps(dataset.ratings, name="ml-100k")
    train = rating_edges(split.train, maps)
    return Data(
        dataset=dataset,
        maps=maps,
        split=split,
        graph=training.as_device_graph(build_graph(split.train, maps)),
        train=train,
        val=rating_edges(split.val, maps),
        test=rating_edges(split.test, maps),
        mean=float(train.ratings.mean()),
    )


def one_way(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """Only the user -> movie half of ``build_graph``'s edges (the tutorial's graph)."""
    half = graph.senders.shape[0] // 2
    return graph._replace(
        senders=graph.senders[:half],
        receivers=graph.receivers[:half],
        edges=graph.edges[:half],
        n_edge=jnp.array([half], dtype=jnp.int32),
    )


# ---------------------------------------------------------------------------------------------
# The ladder
# ---------------------------------------------------------------------------------------------


def _facts(d: Data) -> dict:
    return dict(
        num_nodes=d.maps.num_nodes,
        num_users=d.maps.num_users,
        rating_min=float(d.dataset.rating_min),
        rating_max=float(d.dataset.rating_max),
        rating_mean=d.mean,
    )


def _branch_a(d: Data, **overrides):
    """The default model's branch A alone (``rating_weight=0`` switches branch B off)."""
    return build_model("default", **_facts(d), rating_weight=0.0, **overrides)


@dataclass
class Step:
    """One rung: a model, the graph it reads and how it trains."""

    key: str
    name: str
    change: str
    model: Callable[[Data], object]
    train: TrainConfig
    graph: Callable[[Data], jraph.GraphsTuple] = lambda d: d.graph
    keep_last: bool = False  # the tutorial kept its last state, not the best one


def _tutorial(d: Data, **kw) -> TutorialGCN:
    f = _facts(d)
    return build_model("tutorial", **{k: f[k] for k in ("num_nodes", "num_users")},
                       rating_min=f["rating_min"], rating_max=f["rating_max"], **kw)  # fmt: skip


#: Step 1b's and step 2's training: Adam 1e-3 as the tutorial, but trained to convergence.
CONVERGED_1E3 = with_overrides(LADDER_TRAIN, learning_rate=1e-3, epochs=3000)


def _bias_decoder(d: Data) -> TutorialBiasDecoder:
    f = _facts(d)
    return TutorialBiasDecoder(
        num_nodes=f["num_nodes"], rating_min=f["rating_min"], rating_max=f["rating_max"],
        rating_mean=d.mean,
    )  # fmt: skip


STEPS = [
    Step("0", "tutorial GCN, as written",
         "one-way edges, ReLU after the last layer, L1 loss; Adam 1e-3, 100 epochs, last state",
         lambda d: _tutorial(d, mlp_activate_final=True), TUTORIAL_TRAIN,
         graph=lambda d: one_way(d.graph), keep_last=True),
    Step("1a", "bugs fixed, the tutorial's training",
         "both edge directions, no final ReLU, MSE loss (the three bugs); same training",
         _tutorial, with_overrides(TUTORIAL_TRAIN, loss="mse"), keep_last=True),
    Step("1b", "bugs fixed, trained to convergence",
         "budget: early stopping (patience 30, <= 3000 epochs), best epoch kept; Adam 1e-3",
         _tutorial, CONVERGED_1E3),
    Step("2", "+ bias decoder",
         "decoder: mu + b_u + b_m + z_u.z_m instead of LayerNorm -> dot -> Dense(1) -> sigmoid",
         _bias_decoder, CONVERGED_1E3),
    Step("3", "learning rate 1e-2",
         "Adam 1e-3 -> 1e-2 (<= 500 epochs, patience 30): the default model's training",
         _bias_decoder, LADDER_TRAIN),
    Step("4", "+ propagation encoder",
         "encoder: 3 parameter-free propagations + layer mean instead of one convolution with "
         "an MLP (embeddings initialised N(0, 0.1^2))",
         lambda d: _branch_a(d, embed_dim=64, l2=0.0, bias_l2=0.0), LADDER_TRAIN),
    Step("5", "+ L2 penalty",
         "l2 = 0.01 on the embeddings, 0.001 on the biases of each rating's user and movie",
         lambda d: _branch_a(d, embed_dim=64), LADDER_TRAIN),
    Step("6", "embedding size 32 = branch A",
         "D = 64 -> 32: the default model's branch A (LightGCN-style with biases)",
         lambda d: _branch_a(d), LADDER_TRAIN),
    Step("7", "+ rating-weighted branch B = default",
         "blend with branch B (H_m = sigmoid(sum_u r_um V_u + h), c_u + W_u.H_m), w = 0.6",
         lambda d: build_model("default", **_facts(d)), LADDER_TRAIN),
]  # fmt: skip


def saturated_share(model, params, graph, edges, scale: float) -> float | None:
    """Share of pairs whose sigmoid slope is below 0.01 (TutorialGCN only, else None)."""
    if type(model) is not TutorialGCN:
        return None
    z = model.apply({"params": params}, graph, method=model.encode)
    users, movies = jnp.asarray(edges.users), jnp.asarray(edges.movies)
    s = params["out"]["kernel"][0, 0] * jnp.sum(z[users] * z[movies], -1) + params["out"]["bias"][0]
    slope = scale * jax.nn.sigmoid(s) * (1 - jax.nn.sigmoid(s))
    return float(jnp.mean(slope < 0.01))


def score(model, params, graph, d: Data) -> dict:
    pred = training.predict(model, graph, d.test.users, d.test.movies, params=params)
    return {"test_rmse": rmse(pred, d.test.ratings), "test_mae": mae(pred, d.test.ratings)}


def run_fit(model, graph, d: Data, config: TrainConfig, seed: int, keep_last: bool) -> dict:
    result = training.fit(
        model, graph, d.train, None if keep_last else d.val, **as_dict(config), seed=seed,
        progress=False,
    )  # fmt: skip
    out = score(model, result.params, graph, d)
    val = training.predict(model, graph, d.val.users, d.val.movies, params=result.params)
    scale = float(d.dataset.rating_max - d.dataset.rating_min)
    out.update(
        val_rmse=rmse(val, d.val.ratings),
        best_epoch=result.best_epoch,
        epochs_run=result.epochs_run,
        stopped_early=result.stopped_early,
        seconds=round(result.seconds, 1),
        saturated_test_share=saturated_share(model, result.params, graph, d.test, scale),
    )
    return out


# ---------------------------------------------------------------------------------------------
# Message-passing edges against supervision edges
# ---------------------------------------------------------------------------------------------


def graph_with_test(d: Data) -> jraph.GraphsTuple:
    """The training graph plus every test rating (with its value), both directions."""
    both = pd.concat([d.split.train, d.split.test], ignore_index=True)
    return training.as_device_graph(build_graph(both, d.maps))


def _half_graph(d: Data, users, movies, ratings, scale: float) -> jraph.GraphsTuple:
    """A graph of the given ratings (both directions), edge values times ``scale``."""
    r = ratings * scale
    return jraph.GraphsTuple(
        nodes=d.graph.nodes,
        edges=jnp.concatenate([r, r])[:, None],
        senders=jnp.concatenate([users, movies]),
        receivers=jnp.concatenate([movies, users]),
        n_node=d.graph.n_node,
        n_edge=jnp.array([2 * users.shape[0]], dtype=jnp.int32),
        globals=None,
    )


def fit_split_messages(d: Data, model_fn, mode: str, seed: int, config: TrainConfig) -> dict:
    """Train with a fresh random half of the training ratings as the message graph per epoch.

    ``mode="disjoint"``: the loss is on the other half, so no target is in its own input;
    ``mode="dropout"``: the loss is on all training ratings (half of them see themselves).
    The message half's edge values are doubled (inverted dropout): branch B's sum over a
    half then has the full sum's expectation; branch A reads no edge values, and its
    symmetric normalisation uses the half graph's degrees. The branch B penalty, which divides
    by the graph's number of ratings, is rescaled to stay the full-graph one. Validation,
    early stopping and test predictions use the full training graph, as in ``fit``.
    """
    n = len(d.train)
    n_msg = n // 2
    model = model_fn(d, n_msg / n)
    users, movies, ratings = training.edge_arrays(d.train)
    val_arrays = training.edge_arrays(d.val)
    init_key, key = jax.random.split(jax.random.PRNGKey(seed))
    state = training.create_train_state(
        model, d.graph, d.train, learning_rate=config.learning_rate, seed=init_key
    )

    @jax.jit
    def sample(key):
        perm = jax.random.permutation(key, n)
        msg = perm[:n_msg]
        sup = perm[n_msg:] if mode == "disjoint" else perm
        graph = _half_graph(d, users[msg], movies[msg], ratings[msg], n / n_msg)
        return graph, users[sup], movies[sup], ratings[sup]

    best = (math.inf, 0, state.params)
    start = time.perf_counter()
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        key, k_graph, k_drop = jax.random.split(key, 3)
        graph, su, sm, sr = sample(k_graph)
        state, _ = training.train_step(state, graph, su, sm, sr, k_drop)
        val_rmse = float(training.eval_step(state, d.graph, *val_arrays)[0])
        if val_rmse < best[0]:
            best = (val_rmse, epoch, state.params)
        if epoch - best[1] >= config.patience:
            break
    out = score(model, best[2], d.graph, d)
    out.update(
        val_rmse=best[0],
        best_epoch=best[1],
        epochs_run=epoch,
        stopped_early=epoch < config.epochs,
        seconds=round(time.perf_counter() - start, 1),
    )
    return out


def _default_scaled(d: Data, share: float):
    base = get_model_entry("default").model.rating_l2
    return build_model("default", **_facts(d), rating_l2=base * share)


def _branch_a_any(d: Data, share: float):
    del share  # branch A has no per-rating penalty that depends on the graph
    return _branch_a(d)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def summarise(runs: list[dict]) -> dict:
    """Mean and sample std (ddof 1) of every numeric field over the seeds."""
    out = {}
    for key in ("test_rmse", "test_mae", "val_rmse", "best_epoch", "epochs_run", "seconds"):
        values = np.array([r[key] for r in runs], dtype=float)
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))}
    out["all_stopped_early"] = all(r["stopped_early"] for r in runs)
    shares = [r.get("saturated_test_share") for r in runs]
    if all(s is not None for s in shares):
        out["saturated_test_share"] = {"mean": float(np.mean(shares))}
    return out


def _pm(stat: dict, digits: int = 4) -> str:
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def markdown(report: dict) -> str:
    seeds = ", ".join(map(str, report["seeds"]))
    lines = [
        "# Notebook 04: the repair ladder and message-passing experiments",
        "",
        f"Generated by `{COMMAND}` ({report['date']}, {report['total_seconds']:.0f} s; "
        f"{report['machine']}). ml-100k fold u1; initialisation seeds {seeds}; mean ± sample "
        "std over the seeds.",
        "",
        "## Ladder",
        "",
        "| step | model | change | test RMSE | test MAE | best epoch / run | stopped early |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in report["ladder"]:
        s = row["summary"]
        lines.append(
            f"| {row['key']} | {row['name']} | {row['change']} | {_pm(s['test_rmse'])} | "
            f"{_pm(s['test_mae'])} | {s['best_epoch']['mean']:.0f} / {s['epochs_run']['mean']:.0f}"
            f" | {'all' if s['all_stopped_early'] else 'not all'} |"
        )
    lines += [
        "",
        "## Other rows",
        "",
        "| experiment | test RMSE | best epoch / run |",
        "|---|---:|---:|",
    ]
    for row in report["experiments"]:
        s = row["summary"]
        lines.append(
            f"| {row['name']} | {_pm(s['test_rmse'])} | "
            f"{s['best_epoch']['mean']:.0f} / {s['epochs_run']['mean']:.0f} |"
        )
    lines += ["", "## Baselines (deterministic)", ""]
    lines += [f"- {k}: test RMSE {v:.4f}" for k, v in report["baselines"].items()]
    return "\n".join(lines) + "\n"


def _default(d: Data):
    return build_model("default", **_facts(d))


#: (key, name, model) of the leak rows: trained on the graph with the test ratings.
LEAKS = [
    ("leak-6", "step 6 (branch A) with the test ratings in the graph", _branch_a),
    ("leak-7", "step 7 (default) with the test ratings in the graph", _default),
]
#: (key, name, model(d, share), mode) of the message / supervision rows.
SPLIT_MESSAGES = [
    ("dropout-7", "step 7 (default), random half as messages, loss on all",
     _default_scaled, "dropout"),
    ("disjoint-7", "step 7 (default), random half as messages, loss on the other half",
     _default_scaled, "disjoint"),
    ("dropout-6", "step 6 (branch A), random half as messages, loss on all",
     _branch_a_any, "dropout"),
    ("disjoint-6", "step 6 (branch A), random half as messages, loss on the other half",
     _branch_a_any, "disjoint"),
]  # fmt: skip


#: Finished runs, one JSON object a line, so that an interrupted benchmark resumes.
CACHE_PATH = ROOT / "build" / "repair_ladder_runs.jsonl"


def _cached_runs() -> dict[tuple[str, int], dict]:
    if not CACHE_PATH.is_file():
        return {}
    runs = [json.loads(line) for line in CACHE_PATH.read_text().splitlines() if line.strip()]
    return {(run["key"], run["seed"]): run for run in runs}


def _over_seeds(seeds: list[int], key: str, name: str, change: str, fn) -> dict:
    """Run ``fn(seed)`` for every seed (or read it from the cache); the row and its summary."""
    runs = []
    cached = _cached_runs()
    for seed in seeds:
        run = cached.get((key, seed))
        if run is None:
            run = {**fn(seed), "key": key, "seed": seed}
            CACHE_PATH.parent.mkdir(exist_ok=True)
            with CACHE_PATH.open("a") as cache:
                cache.write(json.dumps(run) + "\n")
        runs.append(run)
        print(
            f"{key:>10} seed {seed}: test RMSE {run['test_rmse']:.4f} "
            f"(best {run['best_epoch']}/{run['epochs_run']}, {run['seconds']} s)",
            flush=True,
        )
    return {"key": key, "name": name, "change": change, "runs": runs, "summary": summarise(runs)}


def _baselines(d: Data) -> dict[str, float]:
    from gnnrec_course.baselines import BiasBaseline, GlobalMean, MatrixFactorization

    models = [
        ("global mean", GlobalMean()),
        ("bias", BiasBaseline()),
        ("matrix factorisation (ALS)", MatrixFactorization()),
    ]
    return {
        name: rmse(model.fit(d.split.train).predict(d.split.test), d.test.ratings)
        for name, model in models
    }


def _experiments(d: Data, seeds: list[int]) -> list[dict]:
    rows = [
        _over_seeds(
            seeds, "1b-lr1e-2", "step 1b with Adam 1e-2 (<= 500 epochs, patience 30)",
            "optimiser check", lambda s: run_fit(_tutorial(d), d.graph, d, LADDER_TRAIN, s, False),
        )
    ]  # fmt: skip
    leaky = graph_with_test(d)
    for key, name, fn in LEAKS:
        rows.append(
            _over_seeds(
                seeds, key, name, "test edges in the message graph",
                lambda s, fn=fn: run_fit(fn(d), leaky, d, LADDER_TRAIN, s, False),
            )
        )  # fmt: skip
    for key, name, fn, mode in SPLIT_MESSAGES:
        rows.append(
            _over_seeds(
                seeds, key, name, "message / supervision edges",
                lambda s, fn=fn, mode=mode: fit_split_messages(d, fn, mode, s, LADDER_TRAIN),
            )
        )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", default=None, help="ladder step keys to run")
    parser.add_argument("--out", type=Path, default=JSON_PATH, help="the JSON file to write")
    parser.add_argument(
        "--fresh", action="store_true", help=f"ignore the finished runs in {CACHE_PATH.name}"
    )
    args = parser.parse_args(argv)
    if args.fresh and CACHE_PATH.is_file():
        CACHE_PATH.unlink()
    start = time.perf_counter()
    d = load_data()
    baselines = _baselines(d)
    ladder = [
        _over_seeds(
            args.seeds, step.key, step.name, step.change,
            lambda s, step=step: run_fit(
                step.model(d), step.graph(d), d, step.train, s, step.keep_last
            ),
        )
        for step in STEPS
        if args.only is None or step.key in args.only
    ]  # fmt: skip
    experiments = _experiments(d, args.seeds) if args.only is None else []
    report = {
        "command": COMMAND,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"jax {jax.__version__}",
        "split": "ml-100k u1 (test u1.test; validation: split seed 0's 10 % of u1.base)",
        "seeds": args.seeds,
        "ladder_training": as_dict(LADDER_TRAIN),
        "baselines": baselines,
        "ladder": ladder,
        "experiments": experiments,
        "total_seconds": time.perf_counter() - start,
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
