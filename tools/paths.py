"""Where the course's notebooks live in a checkout: the one place that lists them.

``solutions/NN_name.ipynb`` (lessons ``01``, ``02``, … and appendices ``A1``, …) are the
sources; ``notebooks/NN_name.ipynb`` are the student copies generated from them (same file
name). Exercises of notebook ``NN`` are numbered ``Exercise N.k`` (``Exercise A1.k``).
"""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = "solutions"
STUDENT_DIR = "notebooks"
# Course notebooks: 01_graph_tasks.ipynb, ..., A1_flax_nnx.ipynb (a number, then a name).
NOTEBOOK_NAME = re.compile(r"^(?P<number>[0-9]{2}|A[0-9])_\w+\.ipynb$")


def _course_notebooks(folder: Path) -> list[Path]:
    """The course notebooks in ``folder``: lessons in order, then the appendices."""
    return sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))


def solution_notebooks(root: Path = PROJECT_ROOT) -> list[Path]:
    """The solution notebooks of the course under ``root``, in course order."""
    return _course_notebooks(root / SOLUTIONS_DIR)


def student_notebooks(root: Path = PROJECT_ROOT) -> list[Path]:
    """The student notebooks under ``root``, in course order."""
    return _course_notebooks(root / STUDENT_DIR)


def exercise_prefix(path: Path) -> str:
    """How the exercises of this notebook are numbered: ``"1"`` for 01_…, ``"A1"`` for A1_…."""
    match = NOTEBOOK_NAME.match(path.name)
    if match is None:
        raise ValueError(f"{path.name} is not a course notebook name (NN_name.ipynb)")
    return match["number"].lstrip("0")


def student_path(solution_path: Path, root: Path = PROJECT_ROOT) -> Path:
    """The student copy that is generated from ``solution_path``."""
    return root / STUDENT_DIR / solution_path.name


def relative(path: Path, root: Path = PROJECT_ROOT) -> str:
    """``path`` relative to ``root``, with forward slashes (as in Colab links)."""
    return path.resolve().relative_to(root.resolve()).as_posix()
