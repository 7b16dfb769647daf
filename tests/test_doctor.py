"""`gnnrec-course doctor`: the workshop pre-flight check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gnnrec_course import cli, data, doctor

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_data_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.setenv("GNNREC_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def synthetic_data_dir(tmp_path: Path, monkeypatch) -> Path:
    """A data folder holding a small synthetic ml-100k in the real file format."""
    folder = tmp_path / "data"
    data.write_synthetic(folder, "ml-100k")
    monkeypatch.setenv("GNNREC_DATA_DIR", str(folder))
    return folder


def test_no_data_exits_1_and_says_how_to_fix(empty_data_dir: Path, capsys) -> None:
    assert doctor.run(quick=True) == 1
    out = capsys.readouterr().out
    assert f"ml-100k is missing from {empty_data_dir}" in out
    assert "`gnnrec-course data download`" in out
    assert "GNNREC_DATA_DIR" in out
    assert "Not ready" in out


def test_no_data_skips_the_timed_run(empty_data_dir: Path) -> None:
    report = doctor.collect(quick=False)
    assert not report["ok"]
    assert "skipped" in report["timing"]


def test_synthetic_data_quick_exits_0(synthetic_data_dir: Path, capsys) -> None:
    assert doctor.run(quick=True) == 0
    out = capsys.readouterr().out
    assert "Ready" in out
    assert str(synthetic_data_dir) in out
    assert "GNNREC_DATA_DIR" in out  # where the data folder came from
    for library in ("jax", "jaxlib", "flax", "optax", "jraph", "numpy", "pandas", "matplotlib"):
        assert library in out
    assert "backend" in out
    assert "skipped (--quick)" in out


def test_report_lists_versions_devices_and_datasets(synthetic_data_dir: Path) -> None:
    report = doctor.collect(quick=True)
    assert report["ok"], report["problems"]
    libraries = report["libraries"]["required"]
    import jax
    import numpy

    assert libraries["jax"]["version"] == jax.__version__
    assert libraries["numpy"]["version"] == numpy.__version__
    assert all(entry["imports"] for entry in libraries.values())
    assert report["jax"]["backend"] == jax.default_backend()
    assert report["jax"]["devices"]
    datasets = report["data"]["datasets"]
    assert set(datasets) == set(data.DATASETS)
    ml100k = datasets["ml-100k"]
    assert ml100k["present"] and ml100k["verified"]
    ratings = data.load_ratings("ml-100k", synthetic_data_dir)
    assert ml100k["ratings"] == len(ratings)
    assert ml100k["users"] == ratings["user_id"].nunique()
    assert ml100k["folds"] == ["u1", "u2", "u3", "u4", "u5"]
    assert ml100k["official"] is False  # synthetic: a warning, not a failure
    assert any("not the official" in w for w in report["warnings"])
    assert datasets["ml-1m"]["present"] is False
    assert report["data"]["dir"] == str(synthetic_data_dir)


def test_json_prints_one_object_only(synthetic_data_dir: Path, capsys) -> None:
    assert cli.main(["doctor", "--json", "--quick"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)  # fails on anything but exactly one JSON document
    assert isinstance(report, dict)
    assert report["ok"] is True
    assert report["problems"] == []
    assert {"python", "libraries", "jax", "data", "timing", "warnings"} <= set(report)


def test_json_failure_exits_1_with_the_problem(empty_data_dir: Path, capsys) -> None:
    assert cli.main(["doctor", "--json", "--quick"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert any("ml-100k is missing from" in p for p in report["problems"])


@pytest.mark.slow
def test_json_from_the_command_line_is_clean(empty_data_dir: Path) -> None:
    """A fresh process: nothing (JAX warnings, progress) may reach stdout besides the JSON."""
    env = {**os.environ, "GNNREC_DATA_DIR": str(empty_data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "gnnrec_course", "doctor", "--json", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert "Traceback" not in result.stderr


def test_unreadable_ml100k_is_a_problem(synthetic_data_dir: Path, capsys) -> None:
    u_data = synthetic_data_dir / "ml-100k" / "u.data"
    u_data.write_text("1\t2\tnot-a-rating\t881250949\n", encoding="utf-8")
    assert doctor.run(quick=True) == 1
    out = capsys.readouterr().out
    assert "ml-100k in" in out and "cannot be read" in out
    assert "gnnrec-course data download" in out


def test_a_missing_library_is_a_problem(synthetic_data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        doctor,
        "REQUIRED_LIBRARIES",
        (*doctor.REQUIRED_LIBRARIES, ("no-such-lib", "no_such_module_xyz")),
    )
    assert doctor.run(quick=True) == 1
    out = capsys.readouterr().out
    assert "no-such-lib cannot be imported" in out
    assert "make lab" in out


@pytest.mark.slow
def test_timed_run_estimates_the_course(synthetic_data_dir: Path) -> None:
    report = doctor.collect(quick=False, epochs=1)
    assert report["ok"], report["problems"]
    timing = report["timing"]
    assert timing["epochs"] == 1
    assert timing["epoch_seconds"] > 0
    assert timing["compile_seconds"] > 0
    assert timing["estimated_course_seconds"] > 0
    assert timing["train_ratings"] > 0
    text = doctor.format_report(report)
    assert "Estimate" in text and "per epoch" in text


def _timing_report(monkeypatch, epoch_seconds: float) -> tuple[dict, list[str]]:
    """``check_timing``'s report on a machine whose measured epoch takes ``epoch_seconds``."""
    measured = {"model": "GCNRecommender", "dataset": "ml-100k", "epoch_seconds": epoch_seconds}
    monkeypatch.setattr(doctor, "time_training", lambda epochs: dict(measured))
    problems: list[str] = []
    warnings: list[str] = []
    timing = doctor.check_timing(problems, warnings)
    assert problems == []
    return timing, warnings


# What the reference machine measured (doctor's docstring): 0.076 s per epoch of the default
# model, 107 s for the whole course (`make course`).
REFERENCE_EPOCH_S, REFERENCE_COURSE_S = 0.076, 107.0


def test_the_reference_machine_gets_the_reference_course_time(monkeypatch) -> None:
    timing, warnings = _timing_report(monkeypatch, REFERENCE_EPOCH_S)
    assert timing["estimated_course_seconds"] == pytest.approx(REFERENCE_COURSE_S, abs=0.1)
    assert timing["relative_speed"] == pytest.approx(1.0)
    assert warnings == []


def test_the_estimate_grows_in_proportion_to_the_epoch_time(monkeypatch) -> None:
    times = [0.02, 0.05, 0.1, 0.2, 0.4]
    estimates = [_timing_report(monkeypatch, t)[0]["estimated_course_seconds"] for t in times]
    assert estimates == sorted(estimates) and len(set(estimates)) == len(estimates)
    per_epoch = [e / t for e, t in zip(estimates, times, strict=True)]
    assert max(per_epoch) == pytest.approx(min(per_epoch), rel=1e-2)  # proportional
    assert _timing_report(monkeypatch, 0.2)[0]["relative_speed"] == pytest.approx(0.38)


def test_a_much_slower_machine_is_pointed_to_colab(monkeypatch) -> None:
    _, warnings = _timing_report(monkeypatch, 2 * REFERENCE_EPOCH_S)
    assert warnings == []
    timing, warnings = _timing_report(monkeypatch, 4 * REFERENCE_EPOCH_S)
    assert timing["estimated_course_seconds"] > 3 * REFERENCE_COURSE_S
    assert len(warnings) == 1 and "Colab" in warnings[0] and "4.0× slower" in warnings[0]


def test_help_lists_the_options(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["doctor", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out and "--quick" in out


def test_sharded_step_runs_on_every_device() -> None:
    import jax

    n = len(jax.devices())
    assert doctor.check_sharded_step() == f"ok on {n} device{'s' if n > 1 else ''}"
    assert doctor.check_jax()["sharded_step"].startswith("ok")


def test_sharded_step_on_two_forced_devices() -> None:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    code = "from gnnrec_course import doctor; print(doctor.check_sharded_step())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ok on 2 devices", out.stderr[-1000:]
