"""tools/nbgrader_metadata.py: nbgrader cell metadata for the solution notebooks.

The quick tests check the metadata against the rules of nbgrader's schema version 3 (every
graded, solution or locked cell has a unique ``grade_id``, graded cells have points), and that
the real solution notebooks get one solution cell and one one-point test cell per exercise.
The slow test runs nbgrader itself (installed by the ``test`` extra): ``generate_assignment``
on every notebook gives our student copy, and ``autograde`` scores a submission of 01.
"""

from __future__ import annotations

import copy
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import nbgrader_metadata as nbg
from tools import notebooks, paths

EXERCISE = '''\
def degrees(graph):
    """Exercise 1.1: node degrees."""
    ### BEGIN SOLUTION
    return graph
    ### END SOLUTION
'''


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 Tiny\n\n### BEGIN SOLUTION is explained here"),
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_code_cell(EXERCISE),
        nbformat.v4.new_code_cell("degrees = checks.check_degrees(degrees)"),
        nbformat.v4.new_code_cell("print(check_degrees(x))"),  # a call, not a self-check
    ]
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    return nb


def _meta(cell) -> dict | None:
    return cell.metadata.get("nbgrader")


def test_exercise_and_check_cells_get_metadata_and_others_none() -> None:
    nb = _notebook()
    before = copy.deepcopy(nb)
    out = nbg.with_nbgrader_metadata(nb)
    assert nb == before  # the input is left alone
    assert [_meta(c) is not None for c in out.cells] == [False, False, True, True, False]
    assert _meta(out.cells[2]) == {
        "solution": True,
        "grade": False,
        "locked": False,
        "grade_id": "exercise-1-1",
        "schema_version": 3,
    }
    assert _meta(out.cells[3]) == {
        "solution": False,
        "grade": True,
        "locked": True,
        "points": 1,
        "grade_id": "check_degrees",
        "schema_version": 3,
    }
    assert [c.source for c in out.cells] == [c.source for c in nb.cells]


def test_applying_twice_changes_nothing_and_old_metadata_is_replaced() -> None:
    nb = _notebook()
    nb.cells[1].metadata["nbgrader"] = nbg.solution_metadata("stale")
    once = nbg.with_nbgrader_metadata(nb)
    assert _meta(once.cells[1]) is None
    assert nbg.with_nbgrader_metadata(once) == once


def test_duplicate_grade_ids_are_refused() -> None:
    nb = _notebook()
    nb.cells.append(nbformat.v4.new_code_cell("degrees = checks.check_degrees(degrees)"))
    with pytest.raises(ValueError, match="'check_degrees' is used twice"):
        nbg.with_nbgrader_metadata(nb)


def test_check_cells_are_found_by_their_rebinding_call() -> None:
    code = nbformat.v4.new_code_cell
    assert nbg.check_name(code("auc = checks.check_auc(auc)")) == "check_auc"
    assert nbg.check_name(code("BranchA = a1.check_branch_a(BranchA)")) == "check_branch_a"
    assert nbg.check_name(code("x = checks.check_auc(y)")) is None  # does not rebind
    assert nbg.check_name(nbformat.v4.new_markdown_cell("auc = checks.check_auc(auc)")) is None


def _schema_v3_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What nbgrader's MetadataValidatorV3 would reject (the rules it checks)."""
    problems, ids = [], set()
    for index, cell in enumerate(nb.cells):
        meta = _meta(cell)
        if meta is None:
            continue
        if meta.get("schema_version") != 3:
            problems.append(f"cell {index}: schema_version")
        if meta["grade"] and "points" not in meta:
            problems.append(f"cell {index}: graded without points")
        if (meta["grade"] or meta["solution"] or meta["locked"]) and not meta.get("grade_id"):
            problems.append(f"cell {index}: no grade_id")
        if meta["grade_id"] in ids:
            problems.append(f"cell {index}: duplicate grade_id")
        ids.add(meta["grade_id"])
        if cell.cell_type == "markdown" and meta["grade"] != meta["solution"]:
            problems.append(f"cell {index}: markdown must be grade and solution")
    return problems


@pytest.mark.parametrize("path", paths.solution_notebooks(), ids=lambda p: p.stem)
def test_every_exercise_of_the_course_is_a_solution_cell_with_a_graded_check(path: Path) -> None:
    out = nbg.with_nbgrader_metadata(nbformat.read(path, as_version=4))
    assert _schema_v3_problems(out) == []
    solutions = [c for c in out.cells if (_meta(c) or {}).get("solution")]
    tests = [c for c in out.cells if (_meta(c) or {}).get("grade")]
    assert solutions == [c for c in out.cells if notebooks.is_exercise(c)]
    prefix = paths.exercise_prefix(path)
    for cell in solutions:
        assert re.fullmatch(rf"exercise-{re.escape(prefix)}-\d+", _meta(cell)["grade_id"])
    assert len(tests) == len(solutions)  # each exercise is followed by its self-check
    assert all(_meta(c)["points"] == 1 and _meta(c)["locked"] for c in tests)


def test_write_source_makes_an_nbgrader_course(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "solutions").mkdir(parents=True)
    nbformat.write(_notebook(), root / "solutions" / "01_tiny.ipynb")
    course = tmp_path / "course"
    written = nbg.write_source(course, root=root)
    source = course / "source" / "01_tiny" / "01_tiny.ipynb"
    assert written == [source, course / "nbgrader_config.py"]
    nb = nbformat.read(source, as_version=4)
    assert notebooks.colab_url("notebooks/01_tiny.ipynb") in nb.cells[0].source  # student badge
    body = nb.cells[2:]
    assert "return graph" in body[2].source  # the solution stays: nbgrader writes the stub
    assert _meta(body[2])["grade_id"] == "exercise-1-1"
    config = (course / "nbgrader_config.py").read_text()
    assert "CourseClearSolutions" in config and 'GNNREC_STRICT_CHECKS"] = "1"' in config
    compile(config, "nbgrader_config.py", "exec")
    (course / "nbgrader_config.py").write_text("# mine\n")
    assert nbg.write_source(course, root=root) == [source]  # an existing config is kept
    assert (course / "nbgrader_config.py").read_text() == "# mine\n"


# --- nbgrader itself (from the test extra) -----------------------------------------------------

GRADED = "01_graph_tasks"
# Exercise 1.2 filled in wrongly (the sum instead of the mean: a mistake its check knows).
WRONG_MEAN = ("return summed / jnp.maximum(counts, 1.0)[:, None]", "return summed")


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course`` with this interpreter's bin first on PATH.

    nbgrader runs ``alembic`` (its database migrations) as a command, so the virtual
    environment's bin must be on PATH, as it is when the venv is activated.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


def _submission(released: nbformat.NotebookNode, solution: nbformat.NotebookNode):
    """The released copy with every exercise solved, and Exercise 1.2 solved wrongly."""
    sources = {cell.id: cell.source for cell in solution.cells}
    nb = copy.deepcopy(released)
    filled = 0
    for cell in nb.cells:
        if (_meta(cell) or {}).get("solution"):
            cell.source = sources[cell.id]
            if "Exercise 1.2" in cell.source:
                assert WRONG_MEAN[0] in cell.source, "notebook 01's Exercise 1.2 changed"
                cell.source = cell.source.replace(*WRONG_MEAN)
            filled += 1
    return nb, filled


@pytest.mark.slow
def test_nbgrader_releases_our_stubs_and_autogrades_the_self_checks(tmp_path: Path) -> None:
    """`nbgrader generate_assignment` gives notebooks/01 cell for cell; autograde scores it."""
    root = tmp_path / "repo"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(paths.PROJECT_ROOT / "solutions" / f"{GRADED}.ipynb", root / "solutions")
    course = tmp_path / "course"
    nbg.write_source(course, root=root)

    _nbgrader(course, "generate_assignment", GRADED)
    released = nbformat.read(course / "release" / GRADED / f"{GRADED}.ipynb", as_version=4)
    ours = nbformat.read(paths.PROJECT_ROOT / "notebooks" / f"{GRADED}.ipynb", as_version=4)
    assert [c.source for c in released.cells] == [c.source for c in ours.cells]
    assert [c.cell_type for c in released.cells] == [c.cell_type for c in ours.cells]

    solution = nbformat.read(root / "solutions" / f"{GRADED}.ipynb", as_version=4)
    submission, exercises = _submission(released, solution)
    assert exercises == 3
    submitted = course / "submitted" / "ada" / GRADED
    submitted.mkdir(parents=True)
    nbformat.write(submission, submitted / f"{GRADED}.ipynb")
    _nbgrader(course, "autograde", GRADED, "--create")
    _nbgrader(course, "export", "--to", "grades.csv")

    with open(course / "grades.csv", newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["student_id"], row["assignment"]) == ("ada", GRADED)
    assert (float(row["score"]), float(row["max_score"])) == (2.0, 3.0)
    graded = nbformat.read(course / "autograded" / "ada" / GRADED / f"{GRADED}.ipynb", 4)
    failed = [
        c
        for c in graded.cells
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)
    ]
    assert [nbg.check_name(c) for c in failed] == ["check_mean_aggregate"]
    assert "Exercise 1.2:" in failed[0].outputs[-1]["evalue"]


@pytest.mark.slow
def test_nbgrader_releases_our_stubs_for_every_notebook(tmp_path: Path) -> None:
    """`nbgrader generate_assignment` on every solution notebook gives its student copy."""
    course = tmp_path / "course"
    nbg.write_source(course)
    names = [p.stem for p in paths.solution_notebooks()]
    assert len(names) >= 8
    for name in names:
        _nbgrader(course, "generate_assignment", name)
        released = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        ours = nbformat.read(paths.PROJECT_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        assert [c.source for c in released.cells] == [c.source for c in ours.cells], name
        assert [c.cell_type for c in released.cells] == [c.cell_type for c in ours.cells], name
