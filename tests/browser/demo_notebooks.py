"""A tiny solution/student notebook pair to check the browser harness itself (``--demo``).

It has what the real notebooks have: a plot, an exercise whose self-check falls back to the
reference when the exercise is a stub, and (with ``top_level_stub``) an exercise stub that
raises at the top level of a ``raises-exception`` cell, to show that JupyterLab's "Run All"
goes on past an error in such a cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tools import notebooks  # the repository root is on sys.path (run_browser_test.py)

PLOT = """\
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([0, 1, 2, 3], [1, 3, 2, 4], marker="o")
ax.set_title("a first plot")
plt.show()
"""

EXERCISE = '''\
def double(x):
    """Exercise 1.1: Double a number. Returns 2 * x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''

CHECK = """\
from gnnrec_course.checks.common import run_check


def _reference(x):
    return 2 * x


def _test(fn):
    assert fn(3) == 6, "double(3) should be 6"


double = run_check("1.1", double, _reference, _test, "doubling works")
"""

TOP_LEVEL_EXERCISE = """\
# Exercise 1.2: Call double on 21.
### BEGIN SOLUTION
answer = double(21)
### END SOLUTION
print(answer)
"""

LAST = 'print("the last cell ran")\n'


def solution_notebook(top_level_stub: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    cells = [
        nbformat.v4.new_markdown_cell("# 00 Browser demo\n\nA plot, an exercise and its check."),
        nbformat.v4.new_code_cell(PLOT),
        nbformat.v4.new_code_cell(EXERCISE),
        nbformat.v4.new_code_cell(CHECK),
    ]
    if top_level_stub:
        cells.append(nbformat.v4.new_code_cell(TOP_LEVEL_EXERCISE))
    cells.append(nbformat.v4.new_code_cell(LAST))
    for index, cell in enumerate(cells):
        cell.id = f"demo-{index}"
    nb.cells = cells
    return nb


def write_demo(root: Path, name: str = "00_browser_demo", top_level_stub: bool = False) -> None:
    """Write ``solutions/<name>.ipynb`` and its student copy ``notebooks/<name>.ipynb``."""
    solution = solution_notebook(top_level_stub)
    for folder in ("solutions", "notebooks"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    solution_path = f"solutions/{name}.ipynb"
    student_path = f"notebooks/{name}.ipynb"
    nbformat.write(notebooks.with_header_cells(solution, solution_path), root / solution_path)
    nbformat.write(notebooks.student_notebook(solution, student_path), root / student_path)
