"""The ``gnnrec-course`` command: a thin layer over the package.

Expected failures (unknown dataset, unknown user, no data and no network, bad checksum)
print one line on stderr and exit 1; usage errors exit 2 (argparse). With ``--json`` the
command prints exactly one JSON object on stdout; progress bars go to stderr. When the reader
of stdout closes the pipe early (``| head``), the command ends quietly with status 141.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence

from gnnrec_course.errors import CourseError

PROG = "gnnrec-course"


def _print_json(payload: dict) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def cmd_data_download(args: argparse.Namespace) -> int:
    from gnnrec_course import data

    name = data.check_dataset_name(args.dataset)
    path = data.download(name, progress=not args.quiet)
    print(f"{name} is ready in {path}")
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from gnnrec_course import data

    dataset = data.load_dataset(args.dataset)
    info = {
        "dataset": dataset.name,
        "users": int(dataset.num_users),
        "movies": int(dataset.num_movies),
        "ratings": int(dataset.num_ratings),
        "rating_min": _plain_number(dataset.rating_min),
        "rating_max": _plain_number(dataset.rating_max),
        "path": str(dataset.path),
    }
    if args.json:
        _print_json(info)
    else:
        print(f"{info['dataset']} in {info['path']}")
        print(f"  users   {info['users']:>9,}")
        print(f"  movies  {info['movies']:>9,}")
        print(f"  ratings {info['ratings']:>9,}  (scale {info['rating_min']}–{info['rating_max']})")
    return 0


def cmd_data_synthetic(args: argparse.Namespace) -> int:
    import time

    from gnnrec_course import data

    name = data.check_dataset_name(args.dataset)
    root = args.root if args.root is not None else data.data_dir()
    start = time.perf_counter()
    folder = data.write_synthetic(
        root, name, n_users=args.users, n_movies=args.movies, n_ratings=args.ratings, seed=args.seed
    )
    info = {
        "dataset": name,
        "path": str(folder),
        "users": args.users,
        "movies": args.movies,
        "ratings": args.ratings,
        "seed": args.seed,
        "files": sorted(p.name for p in folder.iterdir() if p.is_file()),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.json:
        _print_json(info)
    else:
        print(
            f"wrote synthetic {name} ({args.users:,} users, {args.movies:,} movies, "
            f"{args.ratings:,} ratings, seed {args.seed}) to {folder} in {info['seconds']} s: "
            + ", ".join(info["files"])
        )
    return 0


def _plain_number(value: float) -> int | float:
    """1.0 -> 1 and 0.5 -> 0.5, so JSON shows the scale as the data writes it."""
    value = float(value)
    return int(value) if value.is_integer() else value


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (anything else is a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _objective_defaults(args: argparse.Namespace) -> tuple[str, str]:
    """The model name and split of ``train``: the objective's defaults unless given."""
    from gnnrec_course.config import get_model_entry

    ranking = args.objective == "ranking"
    model = args.model or ("lightgcn" if ranking else "default")
    get_model_entry(model)  # an unknown name fails before any data is read
    return model, args.split or ("stratified" if ranking else "random")


def cmd_train(args: argparse.Namespace) -> int:
    model, split = _objective_defaults(args)
    if args.objective == "ranking":
        return _train_ranking(args, model, split)
    return _train_rating(args, model, split)


def _save_rating(directory, result, dataset, summary: dict) -> None:
    """Write a rating model trained by ``train_default`` as a checkpoint."""
    from gnnrec_course.checkpoint import save_checkpoint
    from gnnrec_course.config import DataFacts, get_model_entry

    save_checkpoint(
        directory, model_name=result.model_name,
        model_config=get_model_entry(result.model_name).model,
        facts=DataFacts.from_training(result.maps, dataset, result.split.train),
        params=result.params,
        maps=result.maps, dataset=dataset.name, split=result.split_name, seed=result.seed,
        num_train_ratings=len(result.split.train),
        metrics={k: summary[k] for k in ("val_rmse", "test_rmse", "test_mae")},
    )  # fmt: skip


def _save_ranking(directory, run) -> None:
    """Write a model trained by ``train_ranking`` as a checkpoint."""
    from gnnrec_course.checkpoint import save_checkpoint

    save_checkpoint(
        directory, model_name=run.model_name, model_config=run.model_config, facts=run.facts,
        params=run.params, maps=run.maps, dataset=run.dataset, split=run.protocol,
        seed=run.seed, num_train_ratings=len(run.split.train), metrics=run.summary()["metrics"],
    )  # fmt: skip


def _train_ranking(args: argparse.Namespace, model: str, split: str) -> int:
    from gnnrec_course import data, training
    from gnnrec_course.training.sharding import data_mesh

    devices = data_mesh(args.devices).devices.size  # more than JAX sees: exit 1
    dataset = data.load_dataset(args.dataset)
    overrides = {} if args.batch_size is None else {"batch_size": args.batch_size}
    run = training.train_ranking(
        dataset, split, seed=args.seed, epochs=args.epochs, progress=not args.json,
        model=model, devices=devices if devices > 1 else None, **overrides,
    )  # fmt: skip
    summary = run.summary()
    summary["devices"] = devices
    if args.save is not None:
        _save_ranking(args.save, run)
    if args.json:
        _print_json(summary)
        return 0
    print(
        f"{model} on {dataset.name} ({split}, seed {args.seed}): {summary['epochs_run']} epochs "
        f"in {summary['train_seconds']:.1f} s (epochs chosen on validation in "
        f"{summary['selection_seconds']:.1f} s)"
    )
    names = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
    k = summary["k"]
    print(f"  {'model':<12}" + "".join(f" {f'{n}@{k}':>12}" for n in names))
    rows = {model: summary["metrics"], **summary["baselines"]}
    for name, scores in rows.items():
        print(f"  {name:<12}" + "".join(f" {scores[n]:>12.4f}" for n in names))
    return 0


def _train_rating(args: argparse.Namespace, model: str, split: str) -> int:
    from gnnrec_course import data, training
    from gnnrec_course.baselines import evaluate_baselines
    from gnnrec_course.training.sharding import data_mesh

    devices = data_mesh(args.devices).devices.size  # more than JAX sees: exit 1
    dataset = data.load_dataset(args.dataset)
    result = training.train_default(
        dataset, split=split, seed=args.seed, epochs=args.epochs, progress=not args.json,
        model=model, devices=devices if devices > 1 else None,
        **({} if args.batch_size is None else {"batch_size": args.batch_size}),
    )  # fmt: skip
    baselines = evaluate_baselines(result.split)
    summary = result.summary()
    summary["devices"] = devices
    summary["baselines"] = {
        name: {k: round(float(v), 4) for k, v in scores.items()}
        for name, scores in baselines.items()
    }
    if args.save is not None:
        _save_rating(args.save, result, dataset, summary)
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{summary['model']} on {dataset.name} ({split}, seed {args.seed}): "
            f"{summary['epochs_run']} epochs in {summary['train_seconds']:.1f} s"
        )
        print(f"  {'model':<14} {'test RMSE':>9} {'test MAE':>9}")
        label = f"GCN ({summary['model']})"
        print(f"  {label:<14} {summary['test_rmse']:>9.4f} {summary['test_mae']:>9.4f}")
        for name, scores in summary["baselines"].items():
            print(f"  {name:<14} {scores['rmse']:>9.4f} {scores['mae']:>9.4f}")
    return 0


def _keep_compiled_programs() -> None:
    """Let jit keep its compiled programs in the user cache (JAX's persistent compilation
    cache): a second ``recommend`` for the same model skips compiling (about 0.8 s of its
    3-4 s on 2 CPU cores)."""
    import jax

    from gnnrec_course.checkpoint import user_cache_dir

    jax.config.update("jax_compilation_cache_dir", str(user_cache_dir() / "jax-compiled"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _recommender(args: argparse.Namespace):
    """(dataset, recommender, model name) for ``recommend``: from ``--model DIR``, the cache,
    or a fresh training run (saved to the cache)."""
    from gnnrec_course import checkpoint, data
    from gnnrec_course.graph import build_id_maps
    from gnnrec_course.recommend import Recommender

    if args.model is not None:
        saved = checkpoint.load_checkpoint(args.model)
        dataset = data.load_dataset(saved.dataset)
        saved.maps.user_node(args.user)
        return dataset, Recommender.from_checkpoint(saved, dataset, clip=False), saved.model_name
    dataset = data.load_dataset(args.dataset)
    # Fail fast on an unknown user, before spending time on training.
    build_id_maps(dataset.ratings, name=dataset.name).user_node(args.user)
    name = "lightgcn" if args.objective == "ranking" else "default"
    cache = checkpoint.cached_model_dir(dataset.name, args.objective, args.seed, name)
    if not args.retrain and (cache / checkpoint.META_FILE).exists():
        saved = checkpoint.load_checkpoint(cache)
        return dataset, Recommender.from_checkpoint(saved, dataset, clip=False), name
    from gnnrec_course import training

    if args.objective == "ranking":
        run = training.train_ranking(dataset, seed=args.seed, progress=not args.json)
        _save_ranking(cache, run)
        model, params, graph, maps = run.model, run.params, run.graph, run.maps
    else:
        result = training.train_default(dataset, seed=args.seed, progress=not args.json)
        _save_rating(cache, result, dataset, result.summary())
        model, params, graph, maps = result.model, result.params, result.graph, result.maps
    # Rank on unclipped predictions (a rating model's clipped ones tie at the top).
    rec = Recommender.from_model(
        model, params, graph, maps, dataset.movies, dataset.ratings, clip=False
    )
    return dataset, rec, name


def cmd_recommend(args: argparse.Namespace) -> int:
    from gnnrec_course.config import get_model_entry
    from gnnrec_course.recommend import RecommendError

    if args.n <= 0:
        raise RecommendError(f"-n must be a positive number of movies, got {args.n}.")
    dataset, recommender, model = _recommender(args)
    top = recommender.top_n(args.user, n=args.n)
    items = [
        {
            "movie_id": int(row.movie_id),
            "title": str(row.title),
            "score": round(float(row.score), 4),
        }
        for row in top.itertuples(index=False)
    ]
    objective = get_model_entry(model).objective
    if args.json:
        _print_json({"dataset": dataset.name, "user": args.user, "model": model, "items": items})
    else:
        print(f"Top {len(items)} movies for user {args.user} of {dataset.name} ({model}):")
        label = "predicted" if objective == "rating" else "score"
        for rank, item in enumerate(items, start=1):
            print(f"  {rank:>2}. {item['title']}  ({label} {item['score']:.2f})")
    return 0


def _checkout_tools(module: str):
    """Import ``tools.<module>`` from the repository checkout this package is installed from.

    The notebook tooling lives beside the package (``tools/``), not in it: an installed wheel
    has none, and the runtime never imports nbformat.
    """
    import importlib
    from pathlib import Path

    from gnnrec_course.errors import CheckoutRequiredError

    root = Path(__file__).resolve().parent.parent
    if not (root / "tools" / f"{module}.py").is_file():
        raise CheckoutRequiredError(
            f"`{PROG} notebooks` needs a checkout of the repository (its tools/ folder): "
            f'clone it and run `pip install -e ".[test]"` there.'
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"tools.{module}")
    except ModuleNotFoundError as error:
        raise CheckoutRequiredError(
            f'`{PROG} notebooks` needs {error.name}: run `pip install -e ".[test]"` in {root}.'
        ) from None


def cmd_notebooks(args: argparse.Namespace) -> int:
    return _checkout_tools("notebooks").run(args.action)


def cmd_doctor(args: argparse.Namespace) -> int:
    from gnnrec_course import doctor

    return doctor.run(json_output=args.json, quick=args.quick)


def build_parser() -> argparse.ArgumentParser:
    from gnnrec_course.data import DEFAULT_DATASET

    parser = argparse.ArgumentParser(
        prog=PROG, description="Recommender systems with graph neural networks in JAX: a course."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def dataset_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--dataset",
            default=DEFAULT_DATASET,
            help="ml-100k (default), ml-latest-small or ml-1m",
        )

    data_parser = commands.add_parser("data", help="download, describe or make MovieLens data")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    download = data_commands.add_parser("download", help="fetch and verify a dataset")
    dataset_option(download)
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(func=cmd_data_download)
    info = data_commands.add_parser("info", help="users, movies, ratings and rating scale")
    dataset_option(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_data_info)
    synthetic = data_commands.add_parser(
        "synthetic", help="write made-up data of any size in a dataset's real file format"
    )
    dataset_option(synthetic)
    synthetic.add_argument("--users", type=int, required=True, help="number of users")
    synthetic.add_argument("--movies", type=int, required=True, help="number of movies")
    synthetic.add_argument("--ratings", type=int, required=True, help="number of ratings")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--root", default=None, help="where DATASET/ goes (default: data dir)")
    synthetic.add_argument("--json", action="store_true", help="print one JSON object")
    synthetic.set_defaults(func=cmd_data_synthetic)

    from gnnrec_course.config import MODELS

    train = commands.add_parser("train", help="train a GCN and compare it to the baselines")
    dataset_option(train)
    train.add_argument(
        "--objective", choices=["rating", "ranking"], default="rating",
        help="rating: predict stars (default); ranking: top-N lists with LightGCN",
    )  # fmt: skip
    train.add_argument(
        "--split", default=None,
        help="rating: random (default) or u1..u5 (ml-100k); ranking: stratified (default) "
        "or temporal",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--epochs", type=_positive_int, default=None, help="maximum epochs, >= 1 (default: model's)"
    )
    train.add_argument(
        "--model", default=None,
        help=f"{', '.join(MODELS)} (default: default for rating, lightgcn for ranking)",
    )  # fmt: skip
    train.add_argument(
        "--devices", type=_positive_int, default=None,
        help="split each batch over N devices (default: all devices JAX sees)",
    )  # fmt: skip
    train.add_argument(
        "--batch-size", type=_positive_int, default=None,
        help="ratings per step (default: all, one step per epoch); ranking: triples per step",
    )  # fmt: skip
    train.add_argument("--save", default=None, metavar="DIR", help="save the model as a checkpoint")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.set_defaults(func=cmd_train)

    recommend = commands.add_parser("recommend", help="top-N unseen movies for a user")
    recommend.add_argument("--user", type=int, required=True, help="user id as in the raw data")
    recommend.add_argument("-n", type=int, default=10, help="how many movies (default 10)")
    dataset_option(recommend)
    recommend.add_argument("--seed", type=int, default=0)
    recommend.add_argument(
        "--objective", choices=["ranking", "rating"], default="ranking",
        help="ranking: LightGCN's top-N (default); rating: highest predicted ratings",
    )  # fmt: skip
    recommend.add_argument(
        "--model", default=None, metavar="DIR", help="a checkpoint saved by train --save"
    )
    recommend.add_argument(
        "--retrain", action="store_true", help="train afresh instead of using the cached model"
    )
    recommend.add_argument("--json", action="store_true", help="print one JSON object")
    recommend.set_defaults(func=cmd_recommend)

    nb = commands.add_parser("notebooks", help="build student notebooks from solutions/")
    nb.add_argument("action", choices=["build", "check"])
    nb.set_defaults(func=cmd_notebooks)

    doctor = commands.add_parser("doctor", help="pre-flight check for a workshop")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.add_argument("--quick", action="store_true", help="skip the timed training run")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.command == "recommend":
        _keep_compiled_programs()  # a process-wide JAX setting: only for the real command
    try:
        status = args.func(args)
        sys.stdout.flush()  # a reader that closed the pipe shows up here, not at exit
        return status
    except BrokenPipeError:
        # `... --json | head -3`: the reader has what it wanted; stop quietly, as `cat` does.
        # stdout now points at devnull, so Python's flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a process ended by a closed pipe
    except CourseError as error:
        message = " ".join(str(error).split())  # always one line
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
