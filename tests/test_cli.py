"""The command-line contract: JSON on stdout, one-line errors, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gnnrec_course import data
from gnnrec_course.cli import main


@pytest.fixture
def synthetic_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data.write_synthetic(tmp_path, "ml-100k", n_users=30, n_movies=20, seed=1)
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # recommend caches models
    return tmp_path


def test_data_info_json_is_one_object(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    expected = data.load_dataset("ml-100k", synthetic_root)
    assert info == {
        "dataset": "ml-100k",
        "users": expected.num_users,
        "movies": expected.num_movies,
        "ratings": expected.num_ratings,
        "rating_min": 1,
        "rating_max": 5,
        "path": str(synthetic_root / "ml-100k"),
    }


def test_data_info_text(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info"]) == 0
    assert "ratings" in capsys.readouterr().out


def test_missing_data_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    assert main(["data", "info"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    for needed in (str(tmp_path), "GNNREC_DATA_DIR", "gnnrec-course data download", "https://"):
        assert needed in lines[0]


def test_unknown_dataset_lists_valid_names(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "info", "--dataset", "ml-10k"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    for name in data.DATASETS:
        assert name in err


def test_download_with_bad_checksum_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A server (on 127.0.0.1) whose zip is not the published one: refused, nothing kept."""
    import http.server
    import shutil
    import threading

    source = tmp_path / "source"
    data.write_synthetic(source, "ml-100k", n_users=10, n_movies=8)
    served = tmp_path / "served"
    served.mkdir()
    shutil.make_archive(str(served / "ml-100k"), "zip", source, "ml-100k")

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args) -> None:  # keep the server's log off stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = tmp_path / "target"
        target.mkdir()
        monkeypatch.setenv("GNNREC_DATA_DIR", str(target))
        monkeypatch.setenv("GNNREC_DATA_URL", f"http://127.0.0.1:{server.server_port}")
        assert main(["data", "download", "--quiet"]) == 1
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert data.DATASETS["ml-100k"].sha256 in err
    assert list(target.iterdir()) == []


def test_data_synthetic_writes_the_real_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--users", "300", "--movies", "120", "--ratings", "4000", "--seed", "3", "--json"]
    assert main(["data", "synthetic", "--dataset", "ml-1m", *argv, "--root", str(tmp_path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["path"] == str(tmp_path / "ml-1m")
    assert info["files"] == ["SYNTHETIC.txt", "movies.dat", "ratings.dat"]
    assert (info["dataset"], info["users"], info["movies"], info["ratings"], info["seed"]) == (
        "ml-1m", 300, 120, 4000, 3,
    )  # fmt: skip
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    assert main(["data", "info", "--dataset", "ml-1m", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert (described["users"], described["movies"], described["ratings"]) == (300, 120, 4000)


def test_data_synthetic_defaults_to_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    argv = ["data", "synthetic", "--users", "20", "--movies", "30", "--ratings", "200"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "ml-100k") in out and "u.data" in out and "u1.base" in out
    assert data.load_fold("u1", tmp_path)[1].shape[0] == 40


@pytest.mark.parametrize(
    "sizes",
    [
        ["--users", "10", "--movies", "10", "--ratings", "101"],
        ["--users", "0", "--movies", "5", "--ratings", "5"],
    ],
)
def test_data_synthetic_impossible_sizes_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture, sizes: list[str]
) -> None:
    assert main(["data", "synthetic", *sizes, "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_data_synthetic_never_overwrites_real_data(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    (synthetic_root / "ml-100k" / "SYNTHETIC.txt").unlink()  # now it looks like a download
    before = (synthetic_root / "ml-100k" / "u.data").read_bytes()
    argv = ["data", "synthetic", "--users", "20", "--movies", "30", "--ratings", "200"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--root" in err
    assert (synthetic_root / "ml-100k" / "u.data").read_bytes() == before


def test_usage_error_exits_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "frobnicate"])
    assert exit_info.value.code == 2


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture) -> None:
    for argv in (
        [],
        ["data"],
        ["data", "download"],
        ["data", "info"],
        ["data", "synthetic"],
        ["train"],
        ["recommend"],
        ["notebooks"],
        ["doctor"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, "--help"])
        assert exit_info.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_module_entry_point_has_no_traceback(tmp_path: Path) -> None:
    """`python -m gnnrec_course` runs the same CLI and keeps tracebacks off expected errors."""
    env = {"GNNREC_DATA_DIR": str(tmp_path), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "gnnrec_course", "data", "info", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("gnnrec-course: error:")


@pytest.mark.slow
def test_train_json_shape(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--epochs", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {
        "dataset", "split", "seed", "model", "epochs_run", "train_seconds",
        "val_rmse", "test_rmse", "test_mae", "devices", "baselines",
    }  # fmt: skip
    assert summary["epochs_run"] == 3
    assert set(summary["baselines"]) == {"global_mean", "bias", "mf"}
    for scores in summary["baselines"].values():
        assert set(scores) == {"rmse", "mae"}


def test_recommend_returns_unseen_movies(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    ratings = data.load_ratings("ml-100k", synthetic_root)
    user = int(ratings.user_id.iloc[0])
    assert main(["recommend", "--user", str(user), "-n", "5", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    ids = [item["movie_id"] for item in answer["items"]]
    assert answer["user"] == user and len(ids) == 5 and len(set(ids)) == 5
    assert not set(ids) & set(ratings.movie_id[ratings.user_id == user])
    assert all(item["title"] for item in answer["items"])


@pytest.mark.parametrize("argv", [["--user", "99999"], ["--user", "1", "-n", "0"]])
def test_recommend_bad_input_is_one_line(
    synthetic_root: Path, capsys: pytest.CaptureFixture, argv: list[str]
) -> None:
    assert main(["recommend", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1


def test_train_model_by_name(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--model", "tutorial", "--epochs", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "tutorial" and summary["epochs_run"] == 2


def test_train_unknown_model_is_one_line_exit_1(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    from gnnrec_course.config import MODELS

    assert main(["train", "--model", "nope", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "'nope'" in lines[0]
    for name in MODELS:
        assert name in lines[0]


@pytest.mark.parametrize("epochs", ["0", "-2", "many"])
def test_train_epochs_below_one_is_a_usage_error(
    synthetic_root: Path, capsys: pytest.CaptureFixture, epochs: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", epochs])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--epochs" in captured.err and ">= 1" in captured.err


def _run_into_closed_pipe(argv: list[str], root: Path) -> subprocess.CompletedProcess:
    """Run the CLI with a stdout whose reader has already gone (as `| head` leaves it)."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "gnnrec_course", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "GNNREC_DATA_DIR": str(root)},
            timeout=600,
        )
    finally:
        os.close(write_end)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "recommend"])
def test_closed_stdout_pipe_ends_quietly(synthetic_root: Path, command: str) -> None:
    if command == "train":
        argv = ["train", "--epochs", "2", "--json"]
    else:
        user = int(data.load_ratings("ml-100k", synthetic_root).user_id.iloc[0])
        argv = ["recommend", "--user", str(user), "-n", "3", "--json"]
    result = _run_into_closed_pipe(argv, synthetic_root)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 141


def test_train_more_devices_than_jax_sees_is_one_line_exit_1(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    import jax

    assert main(["train", "--devices", str(len(jax.devices()) + 1), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "--devices" in lines[0]


def test_train_reports_its_devices(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--devices", "1", "--batch-size", "64", "--epochs", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["devices"] == 1 and summary["epochs_run"] == 2


# -- ranking objective, checkpoints, the recommend cache ---------------------------------------

RANKING_KEYS = {"precision", "recall", "ndcg", "map", "hit_rate", "coverage"}


def _unseen(root: Path, user: int, answer: dict, n: int) -> None:
    ratings = data.load_ratings("ml-100k", root)
    ids = [item["movie_id"] for item in answer["items"]]
    assert answer["user"] == user and len(ids) == n and len(set(ids)) == n
    assert not set(ids) & set(ratings.movie_id[ratings.user_id == user])


def _first_user(root: Path) -> int:
    return int(data.load_ratings("ml-100k", root).user_id.iloc[0])


def test_train_ranking_json_shape(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["train", "--objective", "ranking", "--split", "temporal", "--epochs", "2", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"dataset", "split", "seed", "objective", "model", "epochs_run", "train_seconds",
            "k", "metrics", "baselines"} <= set(summary)  # fmt: skip
    assert (summary["objective"], summary["model"], summary["split"]) == (
        "ranking", "lightgcn", "temporal",
    )  # fmt: skip
    assert summary["epochs_run"] == 2 and summary["k"] == 10
    assert set(summary["metrics"]) == RANKING_KEYS
    assert set(summary["baselines"]) == {"popularity", "random"}
    assert all(set(v) == RANKING_KEYS for v in summary["baselines"].values())


def test_train_ranking_rejects_too_many_devices_and_rating_protocol_mixups(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    import jax

    too_many = str(len(jax.devices()) + 1)
    assert main(["train", "--objective", "ranking", "--devices", too_many, "--epochs", "1"]) == 1
    assert main(["train", "--objective", "ranking", "--split", "u1", "--epochs", "1"]) == 1
    assert main(["train", "--model", "lightgcn", "--epochs", "1"]) == 1  # a ranking model
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("gnnrec-course: error:") for line in err)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["ranking", "rating"])
def test_train_save_then_recommend_from_the_checkpoint(
    synthetic_root: Path, capsys: pytest.CaptureFixture, objective: str
) -> None:
    folder = synthetic_root / f"saved-{objective}"
    argv = ["train", "--objective", objective, "--epochs", "2", "--save", str(folder), "--json"]
    assert main(argv) == 0
    trained = json.loads(capsys.readouterr().out)
    assert (folder / "checkpoint.json").is_file()
    user = _first_user(synthetic_root)
    argv = ["recommend", "--user", str(user), "-n", "4", "--model", str(folder), "--json"]
    assert main(argv) == 0
    answer = json.loads(capsys.readouterr().out)
    _unseen(synthetic_root, user, answer, 4)
    assert answer["model"] == trained["model"]


@pytest.mark.slow
def test_recommend_command_keeps_compiled_programs_in_the_user_cache(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    """The real command (its own process) keeps jit's programs, so a rerun skips compiling."""
    folder = synthetic_root / "saved"
    assert main(["train", "--objective", "ranking", "--epochs", "1", "--save", str(folder)]) == 0
    compiled = synthetic_root / "cache" / "gnnrec-course" / "jax-compiled"
    argv = ["recommend", "--user", str(_first_user(synthetic_root)), "--model", str(folder)]
    assert not compiled.exists()  # main() called in-process leaves JAX's settings alone
    assert main([*argv, "--json"]) == 0 and not compiled.exists()
    answers = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "gnnrec_course", *argv, "--json"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        answers.append(json.loads(done.stdout))
    assert any(p.name.startswith("jit_") for p in compiled.iterdir())
    assert answers[0] == answers[1]


def test_recommend_with_a_damaged_checkpoint_is_one_line_exit_1(
    synthetic_root: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = synthetic_root / "saved"
    assert main(["train", "--objective", "ranking", "--epochs", "1", "--save", str(folder)]) == 0
    params = folder / "params.msgpack"
    params.write_bytes(params.read_bytes()[:-7])
    capsys.readouterr()
    user = _first_user(synthetic_root)
    assert main(["recommend", "--user", str(user), "--model", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert str(folder) in captured.err


@pytest.mark.slow
def test_recommend_caches_its_model_and_retrain_trains_again(
    synthetic_root: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gnnrec_course import checkpoint, training

    user = _first_user(synthetic_root)
    argv = ["recommend", "--user", str(user), "-n", "3", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    _unseen(synthetic_root, user, first, 3)
    assert first["model"] == "lightgcn"
    cache = checkpoint.cached_model_dir("ml-100k", "ranking", 0, "lightgcn")
    assert (cache / "checkpoint.json").is_file()

    calls, real = [], training.train_ranking

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_ranking", counted)
    assert main(argv) == 0  # from the cache: no training, the same list
    assert json.loads(capsys.readouterr().out)["items"] == first["items"] and not calls
    assert main([*argv, "--retrain"]) == 0
    assert calls == [1]
    _unseen(synthetic_root, user, json.loads(capsys.readouterr().out), 3)


@pytest.mark.slow
def test_recommend_rating_objective(synthetic_root: Path, capsys: pytest.CaptureFixture) -> None:
    user = _first_user(synthetic_root)
    assert main(["recommend", "--user", str(user), "-n", "3", "--objective", "rating"]) == 0
    out = capsys.readouterr().out
    assert "(default)" in out and out.count("predicted") == 3
