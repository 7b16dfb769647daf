"""nbgrader's ``ClearSolutions`` with the course's stubs, for ``nbgrader generate_assignment``.

nbgrader replaces every solution region with one fixed ``code_stub`` (by default
``raise NotImplementedError()``); the course's builder writes
``raise NotImplementedError("Exercise N.k: <title>")`` (:func:`tools.notebooks.stub_source`),
so that a learner who runs a stub sees which exercise is missing. This preprocessor makes the
released copies hold exactly the stubs of ``notebooks/``. It needs nbgrader; the
``nbgrader_config.py`` that ``python -m tools.nbgrader_metadata`` writes puts it in place.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearSolutions

from tools.notebooks import BEGIN_MARKER, END_MARKER, stub_source


class CourseClearSolutions(ClearSolutions):
    """``ClearSolutions`` whose code stubs name the exercise, as the course's builder does."""

    def _replace_solution_region(self, cell: NotebookNode, language: str) -> bool:
        if cell.cell_type != "code" or BEGIN_MARKER not in cell.source:
            return super()._replace_solution_region(cell, language)
        if END_MARKER not in cell.source:
            raise RuntimeError("no end solution statement found")
        cell.source = stub_source(cell.source)
        return True
