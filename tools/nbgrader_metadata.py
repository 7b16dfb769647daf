"""nbgrader cell metadata for the solution notebooks, for instructors who grade with nbgrader.

nbgrader (https://nbgrader.readthedocs.io) reads what each cell is from its metadata. Here:

- an exercise cell (it holds ``### BEGIN SOLUTION`` … ``### END SOLUTION``, nbgrader's
  default markers too) becomes a *solution* cell, ``grade_id`` ``exercise-N-k``;
- its self-check cell (``fn = checks.check_fn(fn)``) becomes a locked *autograder test*
  worth one point, ``grade_id`` ``check_fn``. Under ``nbgrader autograde`` the checks must
  raise on a wrong answer: set ``GNNREC_STRICT_CHECKS=1`` in the environment of the grading
  run (see :mod:`gnnrec_course.checks.common`).

The solution notebooks themselves stay as they are;
``python -m tools.nbgrader_metadata COURSE_DIR`` writes copies with the metadata into an
nbgrader course folder, ``COURSE_DIR/source/<notebook>/<notebook>.ipynb`` (one assignment per
notebook: the student copy with its solutions kept), and, unless there is one, an
``nbgrader_config.py`` that makes ``nbgrader generate_assignment`` write the course's own stubs
(:mod:`tools.nbgrader_stubs`), sets ``GNNREC_STRICT_CHECKS=1`` for grading and allows long
cells. Then, in ``COURSE_DIR`` (with nbgrader's virtual environment active, so that its
``alembic`` command is on ``PATH``)::

    nbgrader generate_assignment 01_graph_tasks      # -> release/01_graph_tasks/
    nbgrader collect 01_graph_tasks                  # or put submissions in submitted/
    nbgrader autograde 01_graph_tasks                # one point per passing self-check
"""

from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import nbformat

from tools.notebooks import is_exercise, student_notebook
from tools.paths import PROJECT_ROOT, relative, solution_notebooks, student_path

SCHEMA_VERSION = 3
_EXERCISE_ID = re.compile(r"Exercise ([A-Z]?\d+)\.(\d+)")
# A self-check rebinds the function it checks: `degrees = checks.check_degrees(degrees)`.
_CHECK_CALL = re.compile(r"(?m)^(\w+) = (?:\w+\.)*(check_\w+)\(\1\)\s*$")


def solution_metadata(grade_id: str) -> dict:
    """nbgrader metadata of a cell the learner writes (not graded by itself)."""
    return {
        "solution": True,
        "grade": False,
        "locked": False,
        "grade_id": grade_id,
        "schema_version": SCHEMA_VERSION,
    }


def autograder_metadata(grade_id: str, points: int = 1) -> dict:
    """nbgrader metadata of a locked autograder test cell worth ``points``."""
    return {
        "solution": False,
        "grade": True,
        "locked": True,
        "points": points,
        "grade_id": grade_id,
        "schema_version": SCHEMA_VERSION,
    }


def check_name(cell: nbformat.NotebookNode) -> str | None:
    """The self-check a code cell calls (``"check_degrees"``), or None."""
    if cell.cell_type != "code":
        return None
    match = _CHECK_CALL.search(cell.source)
    return match.group(2) if match else None


def _exercise_grade_id(cell: nbformat.NotebookNode, index: int) -> str:
    match = _EXERCISE_ID.search(cell.source)
    return f"exercise-{match.group(1)}-{match.group(2)}" if match else f"solution-cell-{index}"


def with_nbgrader_metadata(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose exercise and self-check cells carry nbgrader metadata.

    Other cells get none (nbgrader leaves them as they are); old nbgrader metadata is
    replaced, so applying this twice gives the same notebook.

    Raises:
      ValueError: two cells would get the same ``grade_id`` (nbgrader rejects that).
    """
    nb = copy.deepcopy(nb)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        if is_exercise(cell):
            meta = solution_metadata(_exercise_grade_id(cell, index))
        elif (name := check_name(cell)) is not None:
            meta = autograder_metadata(name)
        else:
            continue
        if meta["grade_id"] in seen:
            raise ValueError(f"cell {index}: grade_id {meta['grade_id']!r} is used twice")
        seen.add(meta["grade_id"])
        cell.metadata["nbgrader"] = meta
    return nb


NBGRADER_CONFIG = """\
# Written by `python -m tools.nbgrader_metadata` (gnnrec-course); edit as you need.
import os
import sys

sys.path.insert(0, {repository!r})  # the course repository, for tools.nbgrader_stubs

from nbgrader.converters import GenerateAssignment  # noqa: E402

from tools.nbgrader_stubs import CourseClearSolutions  # noqa: E402

# Self-checks raise on a wrong answer or a stub, so a check cell scores 0 (see
# gnnrec_course/checks/common.py); the kernels nbgrader starts inherit this.
os.environ["GNNREC_STRICT_CHECKS"] = "1"

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "gnnrec-course"
# The course's stubs: raise NotImplementedError("Exercise N.k: ...").
c.GenerateAssignment.preprocessors = [
    CourseClearSolutions if p.__name__ == "ClearSolutions" else p
    for p in GenerateAssignment.class_traits()["preprocessors"].default()
]
c.Execute.timeout = 600  # seconds per cell: training cells take longer than nbgrader's 30
"""


def write_source(course_dir: Path, root: Path = PROJECT_ROOT) -> list[Path]:
    """Write every solution notebook, with metadata, as an assignment of an nbgrader course.

    Also writes ``course_dir/nbgrader_config.py`` when there is none. Returns the files
    written.
    """
    written = []
    for path in solution_notebooks(root):
        target = course_dir / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        solution = nbformat.read(path, as_version=4)
        nb = student_notebook(solution, relative(student_path(path, root), root), stubs=False)
        nbformat.write(with_nbgrader_metadata(nb), target)
        written.append(target)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(NBGRADER_CONFIG.format(repository=str(PROJECT_ROOT)), encoding="utf-8")
        written.append(config)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("course_dir", type=Path, help="the nbgrader course folder")
    args = parser.parse_args(argv)
    for path in write_source(args.course_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
