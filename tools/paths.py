"""Where the course's notebooks live in a checkout: the one place that lists them.

``solutions/NN_name.ipynb`` are the sources; ``notebooks/NN_name.ipynb`` are the student
copies generated from them (same file name).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = "solutions"
STUDENT_DIR = "notebooks"
# Course notebooks are numbered: 01_graph_tasks.ipynb, ... (a leading number, then a name).
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"


def solution_notebooks(root: Path = PROJECT_ROOT) -> list[Path]:
    """The solution notebooks of the course under ``root``, in course order."""
    return sorted((root / SOLUTIONS_DIR).glob(NOTEBOOK_PATTERN))


def student_notebooks(root: Path = PROJECT_ROOT) -> list[Path]:
    """The student notebooks under ``root``, in course order."""
    return sorted((root / STUDENT_DIR).glob(NOTEBOOK_PATTERN))


def student_path(solution_path: Path, root: Path = PROJECT_ROOT) -> Path:
    """The student copy that is generated from ``solution_path``."""
    return root / STUDENT_DIR / solution_path.name


def relative(path: Path, root: Path = PROJECT_ROOT) -> str:
    """``path`` relative to ``root``, with forward slashes (as in Colab links)."""
    return path.resolve().relative_to(root.resolve()).as_posix()
