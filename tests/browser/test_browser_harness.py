"""The browser test's choices that need no browser: which notebooks, which must plot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import run_browser_test as harness

from tools import paths


def _write(path: Path, *, executed: bool, image: bool) -> None:
    cell = nbformat.v4.new_code_cell("import matplotlib")
    if executed:
        cell.execution_count = 1
        data = {"image/png": "iVBORw0KGgo="} if image else {"text/plain": "1"}
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    _write(tmp_path / "solutions" / "01_plots.ipynb", executed=True, image=True)
    _write(tmp_path / "solutions" / "07_not_run.ipynb", executed=False, image=False)
    _write(tmp_path / "solutions" / "A1_no_plot.ipynb", executed=True, image=False)
    _write(tmp_path / "solutions" / "scratch.ipynb", executed=True, image=True)
    for name in ("01_plots", "07_not_run", "A1_no_plot"):
        _write(tmp_path / "notebooks" / f"{name}.ipynb", executed=False, image=False)
    return tmp_path


def test_default_is_every_solution_then_its_student_copy(course: Path) -> None:
    assert harness.default_notebooks(course) == [
        "solutions/01_plots.ipynb",
        "notebooks/01_plots.ipynb",
        "solutions/07_not_run.ipynb",
        "notebooks/07_not_run.ipynb",
        "solutions/A1_no_plot.ipynb",
        "notebooks/A1_no_plot.ipynb",
    ]


def test_default_covers_the_repository() -> None:
    chosen = harness.default_notebooks(paths.PROJECT_ROOT)
    solutions = [paths.relative(p) for p in paths.solution_notebooks()]
    assert chosen[::2] == solutions
    assert chosen[1::2] == [s.replace("solutions/", "notebooks/", 1) for s in solutions]
    assert "solutions/01_graph_tasks.ipynb" in chosen


def test_a_plot_is_expected_where_the_stored_solution_has_one(course: Path) -> None:
    expects = {n: harness.expects_plot(course, n) for n in harness.default_notebooks(course)}
    assert expects == {
        "solutions/01_plots.ipynb": True,
        "notebooks/01_plots.ipynb": True,  # its solution decides
        "solutions/07_not_run.ipynb": True,  # never run: cannot tell, so a plot is required
        "notebooks/07_not_run.ipynb": True,
        "solutions/A1_no_plot.ipynb": False,
        "notebooks/A1_no_plot.ipynb": False,
    }


def test_exercise_ids_include_the_appendix() -> None:
    assert harness.EXERCISE_ID.findall("Exercise 2.10: x; Exercise A1.1: y") == ["2.10", "A1.1"]
    line = "⏭ Exercise A1.1 not done yet: the rest of this notebook uses the reference"
    assert harness.SKIP_LINE.findall(line) == ["A1.1"]
    ordered = sorted(["A1.1", "2.10", "10.1", "2.9"], key=harness.exercise_order)
    assert ordered == ["2.9", "2.10", "10.1", "A1.1"]
