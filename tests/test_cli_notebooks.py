"""`gnnrec-course notebooks build|check`: student notebooks generated from solutions/."""

from __future__ import annotations

import ast
import builtins
import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gnnrec_course import cli
from tools import notebooks, paths

SOLUTION_CELL = '''\
def sparsity(n_ratings, n_users, n_movies):
    """Exercise 1.1: Sparsity of the rating matrix. Returns a float in [0, 1]."""
    total = n_users * n_movies
    ### BEGIN SOLUTION
    return 1.0 - n_ratings / total
    ### END SOLUTION
'''

SECOND_EXERCISE = '''\
def degree(edges, node):
    """Exercise 1.2: Degree of a node."""
    ### BEGIN SOLUTION
    return sum(node in edge for edge in edges)
    ### END SOLUTION


def helper():
    return "untouched"
'''

CHECK_CELL = """\
try:
    sparsity(1, 2, 3)
except NotImplementedError:
    print("skipped")
"""


def _solution_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        nbformat.v4.new_markdown_cell("# 01 A tiny notebook\n\nObjectives: test the builder."),
        nbformat.v4.new_code_cell("n_ratings, n_users, n_movies = 3, 2, 4\nprint(n_users)"),
        nbformat.v4.new_code_cell(SOLUTION_CELL),
        nbformat.v4.new_code_cell(CHECK_CELL),
        nbformat.v4.new_code_cell(SECOND_EXERCISE),
    ]
    cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    cells[1].execution_count = 1
    cells[1].metadata["tags"] = [notebooks.CHECK_OUTPUT_TAG]
    cells[2].metadata["tags"] = ["exercise"]
    cells[2].metadata["exercise"] = "1.1"
    cells[2].execution_count = 2
    cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    cells[3].execution_count = 3
    for index, cell in enumerate(cells):
        cell.id = f"cell-{index}"
    nb.cells = cells
    return nb


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A project root holding one solution notebook and an empty notebooks/ folder."""
    (tmp_path / "solutions").mkdir()
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_solution_notebook(), tmp_path / "solutions" / "01_tiny.ipynb")
    return tmp_path


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _body(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells after the badge and setup cells."""
    return nb.cells[2:]


# --- build ----------------------------------------------------------------------------------


def test_build_writes_a_student_notebook_and_reports_it(course: Path) -> None:
    changed = notebooks.build(course)
    student = course / "notebooks" / "01_tiny.ipynb"
    assert student in changed
    assert student.is_file()
    nbformat.validate(_read(student))


def test_stubs_replace_the_solution_regions(course: Path) -> None:
    notebooks.build(course)
    student = _body(_read(course / "notebooks" / "01_tiny.ipynb"))
    first, second = student[2].source, student[4].source
    for source in (first, second):
        assert notebooks.BEGIN_MARKER not in source
        assert notebooks.END_MARKER not in source
        assert "# YOUR CODE HERE" in source
    assert "1.0 - n_ratings / total" not in first
    assert "sum(node in edge" not in second
    # Code outside the markers stays, at the same indentation.
    assert (
        "    total = n_users * n_movies\n    # YOUR CODE HERE\n    raise NotImplementedError("
        in first
    )
    assert 'return "untouched"' in second
    assert re.search(r"raise NotImplementedError\((['\"])Exercise 1\.1: Sparsity of the", first)
    assert re.search(r"raise NotImplementedError\((['\"])Exercise 1\.2: Degree of a node", second)


def test_stubs_raise_not_implemented_error_naming_the_exercise(course: Path) -> None:
    notebooks.build(course)
    student = _body(_read(course / "notebooks" / "01_tiny.ipynb"))
    namespace: dict = {}
    exec(student[2].source, namespace)
    exec(student[4].source, namespace)
    with pytest.raises(NotImplementedError, match=r"^Exercise 1\.1: "):
        namespace["sparsity"](3, 2, 4)
    with pytest.raises(NotImplementedError, match=r"^Exercise 1\.2: "):
        namespace["degree"]([(0, 1)], 0)
    assert namespace["helper"]() == "untouched"


def test_solution_keeps_its_code_and_outputs(course: Path) -> None:
    notebooks.build(course)
    solution = _body(_read(course / "solutions" / "01_tiny.ipynb"))
    assert solution[2].source == SOLUTION_CELL
    assert solution[1].outputs[0]["text"] == "2\n"
    assert notebooks.CHECK_OUTPUT_TAG in _tags(solution[1])


def test_student_outputs_are_cleared_and_exercises_tagged(course: Path) -> None:
    notebooks.build(course)
    student = _read(course / "notebooks" / "01_tiny.ipynb")
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None
    body = _body(student)
    assert notebooks.EXERCISE_TAG in _tags(body[2])
    assert notebooks.EXERCISE_TAG in _tags(body[4])
    assert "exercise" in _tags(body[2])  # the author's tags stay
    assert notebooks.EXERCISE_TAG not in _tags(body[1])
    assert notebooks.EXERCISE_TAG not in _tags(body[3])
    # Outputs of a student copy are empty, so nbval must not compare them.
    assert all(notebooks.CHECK_OUTPUT_TAG not in _tags(c) for c in student.cells)


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
def test_badge_cell_first_with_its_own_path(course: Path, folder: str) -> None:
    notebooks.build(course)
    nb = _read(course / folder / "01_tiny.ipynb")
    badge = nb.cells[0]
    assert badge.cell_type == "markdown"
    assert notebooks.BADGE_TAG in _tags(badge)
    url = notebooks.colab_url(f"{folder}/01_tiny.ipynb")
    assert f"({url})" in badge.source
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith(f"/blob/main/{folder}/01_tiny.ipynb")
    assert "colab-badge.svg" in badge.source


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
def test_setup_cell_second_and_only_on_colab(course: Path, folder: str) -> None:
    notebooks.build(course)
    setup = _read(course / folder / "01_tiny.ipynb").cells[1]
    assert setup.cell_type == "code"
    assert notebooks.SETUP_TAG in _tags(setup)
    assert 'if "google.colab" in sys.modules:' in setup.source
    assert "pip" in setup.source
    assert not re.search(r"(^|\s)(-q|--quiet)(\s|$|')", setup.source), "pip must show its output"
    assert notebooks.repository_url() in setup.source
    # Everything that installs is inside the guard.
    tree = ast.parse(setup.source)
    guarded = [n for n in tree.body if isinstance(n, ast.If)]
    assert len(guarded) == 1
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.If)) for n in tree.body)
    # Run outside Colab, the cell does nothing.
    exec(setup.source, {})


def test_setup_cell_would_install_on_colab(course: Path, monkeypatch) -> None:
    """Simulate Colab: the cell calls %pip install with the package from the repository."""
    import sys
    import types

    notebooks.build(course)
    setup = _read(course / "notebooks" / "01_tiny.ipynb").cells[1]
    calls: list[tuple[str, str]] = []

    class FakeShell:
        def run_line_magic(self, magic: str, line: str) -> None:
            calls.append((magic, line))

    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = FakeShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    exec(setup.source, {})
    assert len(calls) == 1
    magic, line = calls[0]
    assert magic == "pip"
    assert line.startswith("install ")
    assert f"git+{notebooks.repository_url()}" in line


def test_build_is_idempotent(course: Path) -> None:
    first = notebooks.build(course)
    assert len(first) == 2  # the student copy, and the solution gaining its header cells
    texts = {p: p.read_text() for p in course.rglob("*.ipynb")}
    assert notebooks.build(course) == []
    assert {p: p.read_text() for p in course.rglob("*.ipynb")} == texts
    # Header cells are replaced, never stacked.
    solution = _read(course / "solutions" / "01_tiny.ipynb")
    assert sum(notebooks.BADGE_TAG in _tags(c) for c in solution.cells) == 1
    assert sum(notebooks.SETUP_TAG in _tags(c) for c in solution.cells) == 1


# --- check ----------------------------------------------------------------------------------


def test_check_before_build_reports_the_missing_student_notebook(course: Path) -> None:
    assert course / "notebooks" / "01_tiny.ipynb" in notebooks.check(course)


def test_check_passes_after_build(course: Path) -> None:
    notebooks.build(course)
    assert notebooks.check(course) == []


def test_check_detects_a_hand_edited_student_notebook(course: Path) -> None:
    notebooks.build(course)
    student_path = course / "notebooks" / "01_tiny.ipynb"
    student = _read(student_path)
    student.cells[4].source += "\n# a hand edit"
    nbformat.write(student, student_path)
    assert notebooks.check(course) == [student_path]


def test_check_detects_a_solution_changed_after_build(course: Path) -> None:
    notebooks.build(course)
    solution_path = course / "solutions" / "01_tiny.ipynb"
    solution = _read(solution_path)
    # An edit outside the solution region shows in the student copy.
    solution.cells[4].source = solution.cells[4].source.replace("total =", "size =")
    nbformat.write(solution, solution_path)
    assert course / "notebooks" / "01_tiny.ipynb" in notebooks.check(course)


def test_check_detects_a_student_notebook_without_solution(course: Path) -> None:
    notebooks.build(course)
    orphan = course / "notebooks" / "09_orphan.ipynb"
    shutil.copy(course / "notebooks" / "01_tiny.ipynb", orphan)
    assert notebooks.check(course) == [orphan]


def test_unbalanced_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="without"):
        notebooks.stub_source("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(ValueError, match="without"):
        notebooks.stub_source("def f():\n    return 1\n    ### END SOLUTION\n")


def test_appendix_notebooks_are_built_and_numbered(course: Path) -> None:
    """A1_name.ipynb is a course notebook (after the lessons); its stubs say 'Exercise A1.k'."""
    nb = _solution_notebook()
    nb.cells[2].source = nb.cells[2].source.replace("Exercise 1.1", "Exercise A1.1")
    nbformat.write(nb, course / "solutions" / "A1_appendix.ipynb")
    (course / "solutions" / "notes.ipynb").write_text("not a course notebook")
    assert [p.name for p in paths.solution_notebooks(course)] == [
        "01_tiny.ipynb",
        "A1_appendix.ipynb",
    ]
    assert paths.exercise_prefix(course / "solutions" / "A1_appendix.ipynb") == "A1"
    notebooks.build(course)
    student = _read(course / "notebooks" / "A1_appendix.ipynb")
    assert 'raise NotImplementedError("Exercise A1.1: Sparsity' in _body(student)[2].source


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_on(course: Path, monkeypatch) -> Path:
    """Point `gnnrec-course notebooks` at the temporary project."""
    monkeypatch.setattr(notebooks, "run", functools.partial(notebooks.run, root=course))
    return course


def test_cli_build_then_check(cli_on: Path, capsys) -> None:
    assert cli.main(["notebooks", "check"]) == 1
    err = capsys.readouterr().err
    assert "notebooks/01_tiny.ipynb" in err
    assert "gnnrec-course notebooks build" in err

    assert cli.main(["notebooks", "build"]) == 0
    out = capsys.readouterr().out
    assert "wrote notebooks/01_tiny.ipynb" in out

    assert cli.main(["notebooks", "build"]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert cli.main(["notebooks", "check"]) == 0
    assert "in sync" in capsys.readouterr().out


def test_cli_check_fails_on_a_hand_edit(cli_on: Path, capsys) -> None:
    cli.main(["notebooks", "build"])
    path = cli_on / "notebooks" / "01_tiny.ipynb"
    nb = _read(path)
    nb.cells[3].source = "print('edited')"
    nbformat.write(nb, path)
    capsys.readouterr()
    assert cli.main(["notebooks", "check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "01_tiny.ipynb" in err


def test_cli_rejects_an_unknown_action(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["notebooks", "publish"])
    assert exit_info.value.code == 2


def test_cli_without_a_checkout_says_so_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """Installed from a wheel (no tools/ beside the package): exit 1 with one line, no import."""
    site = tmp_path / "site-packages" / "gnnrec_course"
    site.mkdir(parents=True)
    monkeypatch.setattr(cli, "__file__", str(site / "cli.py"))
    assert cli.main(["notebooks", "check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "needs a checkout of the repository" in err


@pytest.mark.slow
def test_tools_run_as_a_module_from_the_repository_root() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.notebooks", "--help"],
        capture_output=True,
        text=True,
        cwd=paths.PROJECT_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "build" in result.stdout and "check" in result.stdout


def test_runtime_modules_do_not_import_notebook_tooling() -> None:
    """What a learner imports pulls in neither nbformat nor nbclient (not runtime deps)."""
    code = (
        "import sys\n"
        "import gnnrec_course.data, gnnrec_course.graph, gnnrec_course.models\n"
        "import gnnrec_course.training, gnnrec_course.recommend, gnnrec_course.cli\n"
        "print(sorted(m for m in ('nbformat', 'nbclient', 'tools') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_runtime_module_is_longer_than_about_600_lines() -> None:
    """The package stays in modules a reader can take in whole (a design rule of issue 8)."""
    package = Path(__file__).resolve().parents[1] / "gnnrec_course"
    lengths = {
        str(p.relative_to(package)): len(p.read_text().splitlines())
        for p in package.rglob("*.py")
    }
    assert len(lengths) > 30  # really the package
    too_long = {name: n for name, n in lengths.items() if n > 620}
    assert not too_long, f"split these modules: {too_long}"


def test_ranking_evaluation_is_importable_from_recommend_too() -> None:
    from gnnrec_course import ranking_eval, recommend

    for name in ranking_eval.__all__:
        assert getattr(recommend, name) is getattr(ranking_eval, name)
        assert name in recommend.__all__


# --- the real repository --------------------------------------------------------------------

ROOT = paths.PROJECT_ROOT
STUDENT_NOTEBOOKS = paths.student_notebooks()
SOLUTION_NOTEBOOKS = paths.solution_notebooks()


def test_repository_notebooks_are_in_sync(capsys) -> None:
    """`gnnrec-course notebooks check` passes on the repository (trivially while it is empty)."""
    assert cli.main(["notebooks", "check"]) == 0, capsys.readouterr().err


def test_every_solution_has_a_student_copy() -> None:
    assert [p.name for p in STUDENT_NOTEBOOKS] == [p.name for p in SOLUTION_NOTEBOOKS]


class _Anything:
    """A stand-in argument that supports any operation, so a stub runs up to its `raise`."""

    def __getattr__(self, name: str) -> _Anything:
        return self

    def __call__(self, *args, **kwargs) -> _Anything:
        return self

    def __getitem__(self, key) -> _Anything:
        return self

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 1

    def __bool__(self) -> bool:
        return True

    def __int__(self) -> int:
        return 1

    def __float__(self) -> float:
        return 1.0

    def __index__(self) -> int:
        return 1

    def _binary(self, *args) -> _Anything:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _binary
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __matmul__ = _binary
    __rmatmul__ = __pow__ = __rpow__ = __mod__ = __neg__ = __pos__ = _binary
    __lt__ = __le__ = __gt__ = __ge__ = __and__ = __or__ = __invert__ = _binary


class _Globals(dict):
    """Globals where every unknown name (numpy, jnp, a helper...) is an `_Anything`."""

    def __missing__(self, name: str):
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return _Anything()


def _strip(function: ast.FunctionDef) -> ast.FunctionDef:
    """The function without decorators, annotations and defaults (they need the notebook)."""
    function.decorator_list = []
    function.returns = None
    arguments = function.args
    for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        arg.annotation = None
    for arg in (arguments.vararg, arguments.kwarg):
        if arg is not None:
            arg.annotation = None
    arguments.defaults = []
    arguments.kw_defaults = [None for _ in arguments.kw_defaults]
    return function


def _exercise_cells(path: Path) -> list[tuple[int, nbformat.NotebookNode]]:
    return [
        (index, cell)
        for index, cell in enumerate(_read(path).cells)
        if cell.cell_type == "code" and notebooks.EXERCISE_TAG in _tags(cell)
    ]


def _stub_problems(notebook_paths: list[Path]) -> list[str]:
    """What is wrong with the stubs of these student notebooks (empty when all is well).

    Each exercise cell must hold functions whose solution became a stub, and calling each
    function (with stand-in arguments) must raise NotImplementedError("Exercise N.k: ...").
    """
    problems = []
    for path in notebook_paths:
        number = paths.exercise_prefix(path)
        cells = _exercise_cells(path)
        if not cells:
            problems.append(f"{path.name}: no exercise cells")
        for index, cell in cells:
            where = f"{path.name} cell {index}"
            if notebooks.BEGIN_MARKER in cell.source or notebooks.END_MARKER in cell.source:
                problems.append(f"{where}: solution markers left in the student copy")
            messages = re.findall(r"raise NotImplementedError\((['\"])(.*?)\1\)", cell.source)
            if not messages:
                problems.append(f"{where}: no `raise NotImplementedError(...)` stub")
            for _, message in messages:
                if not re.match(rf"Exercise {re.escape(number)}\.\d+: \S", message):
                    problems.append(
                        f"{where}: stub message {message!r} should be 'Exercise {number}.k: …'"
                    )
            tree = ast.parse(cell.source)
            # top-level functions, and methods of top-level classes (an exercise may be a
            # module's __call__, as in appendix A1)
            members = [*tree.body]
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    members.extend(node.body)
            functions = [
                n for n in members if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
            stubs = [
                f
                for f in functions
                if any(
                    isinstance(n, ast.Raise)
                    and isinstance(n.exc, ast.Call)
                    and getattr(n.exc.func, "id", None) == "NotImplementedError"
                    for n in ast.walk(f)
                )
            ]
            if not stubs:
                problems.append(f"{where}: exercises must be functions holding the stub")
            for function in stubs:
                module = ast.Module(body=[_strip(function)], type_ignores=[])
                namespace = _Globals()
                exec(compile(module, f"<{where}>", "exec"), namespace)
                args = [_Anything() for _ in function.args.posonlyargs + function.args.args]
                kwargs = {a.arg: _Anything() for a in function.args.kwonlyargs}
                try:
                    namespace[function.name](*args, **kwargs)
                except NotImplementedError as error:
                    if not str(error).startswith(f"Exercise {number}."):
                        problems.append(f"{where}: {function.name} raised {error!r}")
                except Exception as error:  # noqa: BLE001 - report any other failure
                    problems.append(
                        f"{where}: {function.name}(...) raised {type(error).__name__}: {error} "
                        "before reaching its NotImplementedError"
                    )
                else:
                    problems.append(f"{where}: {function.name}(...) returned without raising")
    return problems


def test_every_student_stub_raises_not_implemented_error() -> None:
    """Each exercise cell of notebooks/ has stubs; calling each raises NotImplementedError."""
    problems = _stub_problems(STUDENT_NOTEBOOKS)
    assert not problems, "\n".join(problems)


ANNOTATED_EXERCISE = '''\
@jax.jit
def normalise(graph: jraph.GraphsTuple, scale: float = 2.0, *, eps: float = 1e-6) -> jnp.ndarray:
    """Exercise 1.3: Normalise the node features."""
    nodes = jnp.asarray(graph.nodes)[:, 0] * scale
    n = len(nodes) + 1
    ### BEGIN SOLUTION
    return nodes / (n + eps)
    ### END SOLUTION
'''


def test_stub_checker_on_a_built_course(course: Path) -> None:
    """The checker used on the repository accepts good stubs and reports broken ones."""
    path = course / "solutions" / "01_tiny.ipynb"
    nb = _read(path)
    extra = nbformat.v4.new_code_cell(ANNOTATED_EXERCISE)
    extra.id = "cell-extra"
    nb.cells.append(extra)
    nbformat.write(nb, path)
    notebooks.build(course)
    student_path = course / "notebooks" / "01_tiny.ipynb"
    assert _stub_problems([student_path]) == []

    student = _read(student_path)
    # A stub that can return, and a stub naming the wrong notebook.
    student.cells[-1].source = student.cells[-1].source.replace(
        "raise NotImplementedError(", "if n < 0: raise NotImplementedError("
    )
    student.cells[4].source = student.cells[4].source.replace("Exercise 1.1", "Exercise 7.1")
    nbformat.write(student, student_path)
    problems = _stub_problems([student_path])
    assert len(problems) == 3, problems
    assert any("normalise(...) returned without raising" in p for p in problems)
    assert any("Exercise 7.1" in p for p in problems)


def test_every_solution_exercise_is_complete() -> None:
    """Solution notebooks keep the markers (the builder needs them) and never a stub."""
    problems = []
    for path in SOLUTION_NOTEBOOKS:
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type != "code":
                continue
            if notebooks.is_exercise(cell) and "raise NotImplementedError" in cell.source:
                problems.append(f"{path.name} cell {index}: a stub in the solution")
            if notebooks.END_MARKER in cell.source and not notebooks.is_exercise(cell):
                problems.append(f"{path.name} cell {index}: END marker without BEGIN")
    assert not problems, "\n".join(problems)


# --- README badges --------------------------------------------------------------------------

COURSE_NOTEBOOKS = (
    "01_graph_tasks",
    "02_recommendation_as_link_prediction",
    "03_building_the_gcn",
    "04_training",
    "05_inference",
    "06_ranking_with_lightgcn",
    "07_scaling_up",
    "A1_flax_nnx",
)
COLAB_LINK = re.compile(r"\]\((https://colab\.research\.google\.com/github/[^)\s]+)\)")


def test_readme_colab_badges_use_the_repository_url() -> None:
    """README badges are what `colab_url` makes from pyproject's [project.urls] Repository."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = COLAB_LINK.findall(readme)
    expected = {
        f"{folder}/{name}.ipynb": notebooks.colab_url(f"{folder}/{name}.ipynb")
        for name in COURSE_NOTEBOOKS
        for folder in ("notebooks", "solutions")
    }
    assert sorted(links) == sorted(expected.values()), (
        "README badges differ from tools.notebooks.colab_url(); expected:\n"
        + "\n".join(sorted(expected.values()))
    )
    assert all(notebooks.repository_url().removeprefix("https://github.com/") in u for u in links)
    # Every notebook the repository has is among the badges (none forgotten or renamed), and
    # every badge opens a notebook the repository has.
    for path in [*SOLUTION_NOTEBOOKS, *STUDENT_NOTEBOOKS]:
        assert path.relative_to(ROOT).as_posix() in expected, f"no README badge for {path.name}"
    missing = [name for name in expected if not (ROOT / name).is_file()]
    assert not missing, f"README badges for notebooks that are not in the repository: {missing}"
