"""Build the student notebooks from the solution notebooks.

``solutions/0N_name.ipynb`` is the single source of truth. ``build`` makes
``notebooks/0N_name.ipynb`` from it: the code between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError(...)``,
outputs are cleared, and exercise cells are tagged ``raises-exception``. Both copies get a
Colab badge for their own path as the first cell and a Colab setup cell as the second.

From the repository root: ``python -m tools.notebooks build`` (or ``check``, which exits 1
when ``notebooks/`` is out of sync); ``gnnrec-course notebooks build|check`` runs the same.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import nbformat

from tools.paths import (
    PROJECT_ROOT,
    SOLUTIONS_DIR,
    STUDENT_DIR,
    relative,
    solution_notebooks,
    student_path,
)

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"
EXERCISE_TAG = "raises-exception"
CHECK_OUTPUT_TAG = "nbval-check-output"
FALLBACK_REPOSITORY = "https://github.com/gnnrec-course/gnnrec-course"
PROG = "gnnrec-course"

_EXERCISE_TITLE = re.compile(r"Exercise ([A-Z]?\d+\.\d+):\s*([^\n\"']*)")


def repository_url() -> str:
    """The repository URL, kept in one place: ``[project.urls] Repository`` in pyproject.toml.

    Read from the source tree when it is there, else from the installed package's metadata.
    """
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if pyproject.is_file():
        match = re.search(r'(?m)^Repository\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"))
        if match:
            return match.group(1).rstrip("/")
    try:
        for entry in metadata.metadata("gnnrec-course").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "repository":
                return url.strip().rstrip("/")
    except metadata.PackageNotFoundError:
        pass
    return FALLBACK_REPOSITORY


def colab_url(relative_path: str, repository: str | None = None) -> str:
    """The Colab address that opens ``relative_path`` (e.g. ``notebooks/01_graph_tasks.ipynb``)."""
    repo = (repository or repository_url()).removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/main/{relative_path}"


def badge_cell(relative_path: str) -> nbformat.NotebookNode:
    """Markdown cell with the 'Open in Colab' badge for this notebook's own path."""
    source = (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(relative_path)})"
    )
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["tags"] = [BADGE_TAG]
    cell.id = "colab-badge"
    return cell


def setup_cell() -> nbformat.NotebookNode:
    """Code cell that installs the course package on Colab and does nothing elsewhere.

    Colab's own jax, flax and numpy satisfy the package's ranges, so pip leaves them alone
    and only adds what is missing (jraph and the course package).
    """
    source = (
        "# Setup: on Google Colab this installs the course package (and jraph);\n"
        "# on your own machine it does nothing, because `make lab` already did.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    from IPython import get_ipython\n"
        "\n"
        f'    package = "gnnrec-course @ git+{repository_url()}"\n'
        '    get_ipython().run_line_magic("pip", f"install \'{package}\'")'
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [SETUP_TAG]
    cell.id = "colab-setup"
    return cell


def with_header_cells(nb: nbformat.NotebookNode, relative_path: str) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` whose first two cells are the badge and the setup cell.

    Old header cells (found by tag) are replaced, so building twice changes nothing.
    """
    nb = copy.deepcopy(nb)
    body = [
        cell
        for cell in nb.cells
        if not {BADGE_TAG, SETUP_TAG} & set(cell.get("metadata", {}).get("tags", []))
    ]
    old_setup = [c for c in nb.cells if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    new_setup = setup_cell()
    if old_setup and old_setup[0].source == new_setup.source:
        new_setup = old_setup[0]  # keep its execution count and (empty) outputs
    nb.cells = [badge_cell(relative_path), new_setup, *body]
    return nb


def stub_source(source: str) -> str:
    """Replace every solution region in a code cell's source with a stub that raises."""
    match = _EXERCISE_TITLE.search(source)
    if match:
        message = f"Exercise {match.group(1)}: {match.group(2).strip().rstrip('.')}"
    else:
        message = "Exercise: replace this line with your code"
    lines = source.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(BEGIN_MARKER):
            if inside:
                raise ValueError(f"nested {BEGIN_MARKER!r} in cell:\n{source}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(
                f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"
            )
        elif stripped.startswith(END_MARKER):
            if not inside:
                raise ValueError(f"{END_MARKER!r} without {BEGIN_MARKER!r} in cell:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN_MARKER!r} without {END_MARKER!r} in cell:\n{source}")
    return "\n".join(out)


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    """Whether a cell holds a solution region."""
    return cell.cell_type == "code" and BEGIN_MARKER in cell.source


def student_notebook(
    solution: nbformat.NotebookNode, relative_path: str, *, stubs: bool = True
) -> nbformat.NotebookNode:
    """The student copy of a solution notebook: stubs, no outputs, its own badge.

    With ``stubs=False`` the solutions stay (for a tool that writes its own stubs: nbgrader).
    """
    nb = with_header_cells(solution, relative_path)
    nb.metadata.pop("widgets", None)  # progress-bar state from the executed solution
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        tags = [t for t in cell.metadata.get("tags", []) if t != CHECK_OUTPUT_TAG]
        if is_exercise(cell):
            if stubs:
                cell.source = stub_source(cell.source)
            if EXERCISE_TAG not in tags:
                tags.append(EXERCISE_TAG)
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        cell.metadata.pop("execution", None)
    return nb


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def planned_files(root: Path = PROJECT_ROOT) -> dict[Path, str]:
    """Every notebook file ``build`` writes, with the text it should hold.

    Solutions get (or keep) their header cells; each student notebook is generated from its
    solution.
    """
    files: dict[Path, str] = {}
    for solution_path in solution_notebooks(root):
        solution = with_header_cells(_read(solution_path), relative(solution_path, root))
        files[solution_path] = _text(solution)
        student = student_path(solution_path, root)
        files[student] = _text(student_notebook(solution, relative(student, root)))
    return files


def _differing(planned: dict[Path, str]) -> list[Path]:
    """The planned files that are missing or hold other text."""
    return [
        path
        for path, text in planned.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def build(root: Path = PROJECT_ROOT) -> list[Path]:
    """Write the student notebooks (and solution headers); return the files that changed."""
    planned = planned_files(root)
    changed = _differing(planned)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(planned[path], encoding="utf-8")
    return changed


def check(root: Path = PROJECT_ROOT) -> list[Path]:
    """The notebook files that differ from what ``build`` would write (empty when in sync)."""
    stale = _differing(planned_files(root))
    extra = {p.name for p in (root / STUDENT_DIR).glob("*.ipynb")} - {
        p.name for p in (root / SOLUTIONS_DIR).glob("*.ipynb")
    }
    stale.extend(root / STUDENT_DIR / name for name in sorted(extra))
    return stale


def run(action: str, root: Path = PROJECT_ROOT) -> int:
    """``build`` or ``check`` with a one-line report; the exit status (1: out of sync)."""
    if action == "build":
        changed = build(root)
        for path in changed:
            print(f"wrote {relative(path, root)}")
        print(f"{len(changed)} notebook(s) updated" if changed else "notebooks already up to date")
        return 0
    stale = check(root)
    if stale:
        names = ", ".join(relative(path, root) for path in stale)
        print(
            f"{PROG}: notebooks out of sync with {SOLUTIONS_DIR}/: {names}. "
            f"Run `{PROG} notebooks build` and commit the result.",
            file=sys.stderr,
        )
        return 1
    print(f"{STUDENT_DIR}/ is in sync with {SOLUTIONS_DIR}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "check"])
    return run(parser.parse_args(argv).action)


if __name__ == "__main__":
    raise SystemExit(main())
