"""Run course notebooks in JupyterLab in a real (headless) Chromium, as a learner would.

    python tests/browser/run_browser_test.py            # every notebook, solution and student copy
    python tests/browser/run_browser_test.py --demo     # a tiny generated pair: checks the harness
    python tests/browser/run_browser_test.py solutions/02_recommendation_as_link_prediction.ipynb

`make test-browser` (and so ``.ci/run``) runs the first form: every solution notebook that
``tools/paths.py`` finds (``solutions/NN_*.ipynb``, ``solutions/A1_*.ipynb``), each followed by
its student copy in ``notebooks/``. Uses the playwright Python package with Debian's Chromium
(``/usr/bin/chromium``, or ``$CHROMIUM``); it downloads no browser.

For each notebook: start JupyterLab on 127.0.0.1 (free port, random token) serving a
temporary copy of the notebooks with their outputs removed, open the notebook, choose
Kernel > "Restart Kernel and Run All Cells…", confirm, wait until the kernel is idle and no
cell shows ``[*]``, then check:

* every code cell ran (has an execution count, in increasing order);
* solutions (``solutions/``): no error output;
* student copies (``notebooks/``): the only errors allowed are ``NotImplementedError`` raised by
  an exercise stub in a cell tagged ``raises-exception``; every exercise either reports
  "⏭ Exercise N.k not done yet" from its self-check or raised such an error;
* the first plot renders: an ``<img>`` in an output area with a nonzero natural size, in
  every notebook whose stored solution has a plot (``image/png`` output).

Screenshots go to ``build/browser/``: ``<name>-first-plot.png`` (the first plot alone),
``<name>-opened.png`` and ``<name>-end.png``, where ``<name>`` is the path with ``/`` as
``__`` (``solutions__01_graph_tasks``). Each notebook may take ``--per-notebook`` seconds
(default 180: a course notebook runs in 90 s on 2 cores, the rest is margin for opening it,
starting its kernel and a loaded machine); the whole run stops by itself after ``--timeout``
seconds (default: JupyterLab's start-up plus ``--per-notebook`` per notebook). The server and
its kernels are always ended. Exit status: 0 when every notebook passed, 1 otherwise; the last
line says "N passed, M failed in S s".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))  # tools/ (the notebook builder), used by --demo

from lab_server import LabServer  # noqa: E402

from tools import paths  # noqa: E402

# Budgets in seconds: one notebook (open, restart and run all, check), JupyterLab's start-up.
PER_NOTEBOOK_SECONDS = 180.0
STARTUP_SECONDS = 90.0
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXERCISE_ID = re.compile(r"Exercise ([A-Z]?\d+\.\d+)")  # "Exercise 2.1", "Exercise A1.1"
SKIP_LINE = re.compile(r"⏭ Exercise ([A-Z]?\d+\.\d+) not done yet[^\n]*")

# The notebook as the page holds it: kernel status and every code cell's model. With
# full=false the outputs are left out (cheap enough to poll twice a second).
NOTEBOOK_STATE_JS = """
(full) => {
  const app = window.jupyterapp;
  if (!app) return {ready: false, reason: 'window.jupyterapp is missing'};
  const panel = app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext || !panel.context) {
    return {ready: false, reason: 'no notebook is open'};
  }
  const session = panel.sessionContext.session;
  const kernel = session ? session.kernel : null;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    const model = cell.model;
    if (model.type !== 'code') return;
    const entry = {
      index: index,
      count: model.executionCount,
      state: model.executionState || null,
      tags: (model.getMetadata && model.getMetadata('tags')) || [],
      outputs: [],
    };
    if (full) {
      entry.source = model.sharedModel.getSource();
      for (let i = 0; i < model.outputs.length; i++) {
        const out = model.outputs.get(i).toJSON();
        if (out.data) {  // keep only which types were shown, not the (large) images
          out.data = Object.fromEntries(Object.keys(out.data).map(k =>
            [k, k.startsWith('text/') ? out.data[k] : '<' + k + '>']));
        }
        entry.outputs.push(out);
      }
    }
    cells.push(entry);
  });
  return {ready: true, path: panel.context.path, kernel: kernel ? kernel.status : null,
          kernelName: kernel ? kernel.name : null, cells: cells};
}
"""

# What the page shows: input prompts ("[*]:", "[3]:") and rendered tracebacks.
DOM_STATE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return {prompts: [], tracebacks: [], indicator: null};
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  const errorLine = /^[\\w.]*(Error|Exception|Interrupt)\\b.*$/m;
  const tracebacks = [...panel.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent)
    .filter(t => t.includes('Traceback (most recent call last)') || errorLine.test(t));
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return {prompts: prompts, tracebacks: tracebacks,
          indicator: indicator ? indicator.getAttribute('data-status') : null};
}
"""

FIRST_IMAGE_JS = """
() => {
  const img = document.querySelector(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img');
  if (!img) return null;
  return {complete: img.complete, width: img.naturalWidth, height: img.naturalHeight};
}
"""


class Deadline:
    """Seconds left of the whole run's budget."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def within(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, or this one if it comes first."""
        return Deadline(min(seconds, self.left()))

    def ms(self, cap: float | None = None) -> float:
        """Milliseconds left (at least 1 s), capped at ``cap`` seconds, for playwright."""
        seconds = self.left() if cap is None else min(cap, self.left())
        return max(1.0, seconds) * 1000


@dataclass
class Result:
    notebook: str
    kind: str  # "solution" or "student"
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


def kind_of(path: str) -> str:
    return "student" if Path(path).parts[0] == "notebooks" else "solution"


def default_notebooks(root: Path) -> list[str]:
    """Every solution notebook under ``root``, each followed by its student copy."""
    pairs = []
    for solution in paths.solution_notebooks(root):
        pairs.append(paths.relative(solution, root))
        pairs.append(paths.relative(paths.student_path(solution, root), root))
    return pairs


def has_plot(nb: nbformat.NotebookNode) -> bool:
    """Whether a (stored) notebook shows a plot: an ``image/png`` output."""
    return any(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def expects_plot(source_root: Path, relative: str) -> bool:
    """Whether the notebook must draw a plot: its stored solution has one, or was never run.

    A student copy has no outputs, so its solution (same file name) decides; a solution
    without any stored output cannot say, so a plot is expected.
    """
    solution = source_root / paths.SOLUTIONS_DIR / Path(relative).name
    if not solution.is_file():
        solution = source_root / relative
    nb = nbformat.read(solution, as_version=4)
    executed = any(c.cell_type == "code" and c.get("execution_count") for c in nb.cells)
    return has_plot(nb) or not executed


def exercise_order(exercise: str) -> tuple:
    """Sort key of "2.10", "A1.1": lessons in number order, then the appendices."""
    number, k = exercise.split(".")
    return (number[0].isalpha(), int(number.lstrip("A")), int(k))


def prepare_root(source_root: Path, notebooks: list[str], target: Path) -> None:
    """Copy the notebook folders into ``target``, without outputs in the notebooks to run.

    Outputs and execution counts are removed so that what the test sees afterwards can only
    come from this run in the browser.
    """
    for folder in ("solutions", "notebooks", "docs", "figures", "images"):
        if (source_root / folder).is_dir():
            shutil.copytree(
                source_root / folder,
                target / folder,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
                dirs_exist_ok=True,
            )
    for relative in notebooks:
        source = source_root / relative
        nb = nbformat.read(source, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target / relative)


def _name(relative: str) -> str:
    return relative.replace("/", "__").removesuffix(".ipynb")


def open_notebook(page, server: LabServer, relative: str, deadline: Deadline) -> None:
    """Open the notebook and wait until its kernel has started and is idle."""
    page.goto(server.url(relative), wait_until="domcontentloaded", timeout=deadline.ms(60))
    page.wait_for_function(
        "() => window.jupyterapp !== undefined", timeout=deadline.ms(60), polling=250
    )
    page.wait_for_function(
        """(path) => {
          const panel = window.jupyterapp.shell.currentWidget;
          if (!panel || !panel.context || panel.context.path !== path) return false;
          const s = panel.sessionContext && panel.sessionContext.session;
          return !!(s && s.kernel && s.kernel.status === 'idle');
        }""",
        arg=relative,
        timeout=deadline.ms(90),
        polling=250,
    )


def restart_and_run_all(page, deadline: Deadline) -> str:
    """Kernel menu > "Restart Kernel and Run All Cells…", then confirm the dialog.

    Falls back to the command itself (``notebook:restart-run-all``) if the menu cannot be
    used. Returns how the run was started.
    """
    how = "Kernel menu"
    try:
        page.locator(".lm-MenuBar-item").filter(has_text=re.compile(r"^Kernel$")).click(
            timeout=deadline.ms(10)
        )
        page.locator(".lm-Menu-item").filter(
            has_text="Restart Kernel and Run All Cells"
        ).first.click(timeout=deadline.ms(10))
    except Exception as error:  # noqa: BLE001 - fall back to the command
        how = f"command palette command (menu failed: {type(error).__name__})"
        page.keyboard.press("Escape")
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-run-all'); }")
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    accept.wait_for(state="visible", timeout=deadline.ms(20))
    accept.click(timeout=deadline.ms(10))
    return how


def wait_until_done(page, deadline: Deadline, label: str) -> None:
    """Wait until the kernel is idle, no cell is queued or running and nothing shows [*]."""
    stable = 0
    last_reported = -1
    while True:
        if deadline.left() <= 0:
            raise TimeoutError(f"{label}: cells still running when the time budget ran out")
        state = page.evaluate(NOTEBOOK_STATE_JS, False)
        dom = page.evaluate(DOM_STATE_JS)
        cells = state.get("cells", [])
        done = sum(c["count"] is not None for c in cells)
        if done != last_reported and done:
            print(f"    {done}/{len(cells)} code cells have run", flush=True)
            last_reported = done
        busy = any(c["state"] == "running" for c in cells) or any("*" in p for p in dom["prompts"])
        if state.get("kernel") == "idle" and not busy and done > 0:
            stable += 1
            if stable >= 4:  # idle for 2 s in a row
                return
        else:
            stable = 0
        time.sleep(0.5)


def check_notebook(
    page, relative: str, kind: str, result: Result, shots: Path, plot: bool = True
) -> None:
    """The assertions on a notebook that has finished running."""
    state = page.evaluate(NOTEBOOK_STATE_JS, True)
    dom = page.evaluate(DOM_STATE_JS)
    cells = state["cells"]
    name = _name(relative)

    # Every cell ran, in order.
    not_run = [c["index"] for c in cells if c["count"] is None]
    if not_run:
        result.failures.append(
            f"{len(not_run)} of {len(cells)} code cells did not run (cells {not_run[:10]}): "
            "Run All stopped early"
        )
    counts = [c["count"] for c in cells if c["count"] is not None]
    if counts != sorted(counts) or len(set(counts)) != len(counts):
        result.failures.append(f"execution counts are not in cell order: {counts}")
    result.notes.append(f"{len(cells) - len(not_run)}/{len(cells)} code cells ran")

    # Errors.
    errors = [(c, out) for c in cells for out in c["outputs"] if out.get("output_type") == "error"]
    allowed = []
    for cell, out in errors:
        where = f"cell {cell['index']}: {out.get('ename')}: {out.get('evalue')}"
        stub = (
            out.get("ename") == "NotImplementedError"
            and str(out.get("evalue", "")).startswith("Exercise ")
            and "raises-exception" in cell["tags"]
        )
        if kind == "student" and stub:
            allowed.append(out)
        else:
            result.failures.append(f"error output in {where}")
    if kind == "student":
        result.notes.append(f"{len(allowed)} NotImplementedError from exercise stubs")
    else:
        result.notes.append("no error output")
    if len(dom["tracebacks"]) != len(errors):
        result.failures.append(
            f"the page shows {len(dom['tracebacks'])} traceback(s), the notebook model has "
            f"{len(errors)} error output(s)"
        )

    # Exercises in the student copy: each is skipped (self-check fell back) or raised a stub.
    if kind == "student":
        exercises = sorted(
            {
                m
                for c in cells
                if "raises-exception" in c["tags"]
                for m in EXERCISE_ID.findall(c["source"])
            },
            key=exercise_order,
        )
        text = "".join(
            "".join(out.get("text", "")) if isinstance(out.get("text", ""), (str, list)) else ""
            for c in cells
            for out in c["outputs"]
            if out.get("output_type") == "stream"
        )
        skips = SKIP_LINE.findall(text)
        raised = {EXERCISE_ID.match(str(o.get("evalue"))).group(1) for o in allowed}
        for line in SKIP_LINE.finditer(text):
            print(f"    {line.group(0)}")
        if not exercises:
            result.failures.append("no exercise stub found (no raises-exception cell)")
        for exercise in exercises:
            if exercise not in skips and exercise not in raised:
                result.failures.append(
                    f"Exercise {exercise}: no '⏭ Exercise {exercise} not done yet' line and no "
                    "NotImplementedError from its stub"
                )
        result.notes.append(f"skip messages for exercises {', '.join(skips) or 'none'}")

    # The first plot renders.
    if not plot:
        result.notes.append("no plot expected (the stored solution has none)")
        page.screenshot(path=str(shots / f"{name}-end.png"))
        return
    try:
        page.wait_for_function(
            f"() => {{ const i = ({FIRST_IMAGE_JS})(); return i && i.complete; }}",
            timeout=10_000,
            polling=250,
        )
    except Exception:  # noqa: BLE001 - reported below
        pass
    image = page.evaluate(FIRST_IMAGE_JS)
    if image is None:
        result.failures.append("no plot: no <img> in any output area")
    elif not (image["width"] > 0 and image["height"] > 0):
        result.failures.append(f"the first plot did not render (natural size {image})")
    else:
        result.notes.append(f"first plot {image['width']}×{image['height']} px")
        page.locator(".jp-OutputArea-output img").first.screenshot(
            path=str(shots / f"{name}-first-plot.png")
        )
    page.screenshot(path=str(shots / f"{name}-end.png"))


def run_one(
    browser,
    server: LabServer,
    relative: str,
    deadline: Deadline,
    shots: Path,
    plot: bool = True,
) -> Result:
    """Open, restart and run all, and check one notebook before ``deadline``."""
    kind = kind_of(relative)
    result = Result(relative, kind)
    print(f"== {relative} ({kind})", flush=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    start = time.monotonic()
    try:
        open_notebook(page, server, relative, deadline)
        page.screenshot(path=str(shots / f"{_name(relative)}-opened.png"))
        how = restart_and_run_all(page, deadline)
        print(f"    started with: {how}", flush=True)
        wait_until_done(page, deadline, relative)
        result.seconds = time.monotonic() - start
        check_notebook(page, relative, kind, result, shots, plot)
    except Exception as error:  # noqa: BLE001 - any failure fails this notebook
        result.seconds = time.monotonic() - start
        result.failures.append(f"{type(error).__name__}: {' '.join(str(error).split())[:500]}")
        try:  # a dialog left open (e.g. "Select Kernel") usually explains a timeout
            dialogs = page.locator(".jp-Dialog").all_inner_texts()
            if dialogs:
                result.failures.append(f"dialog open: {' '.join(dialogs[0].split())[:300]}")
        except Exception:  # noqa: BLE001
            pass
        try:
            page.screenshot(path=str(shots / f"{_name(relative)}-failure.png"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        try:  # end this notebook's kernel before the next one starts
            page.evaluate(
                "() => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " return p && p.sessionContext ? p.sessionContext.shutdown() : null; }"
            )
        except Exception:  # noqa: BLE001
            pass
        context.close()
    if console_errors:
        result.notes.append(f"{len(console_errors)} JavaScript error(s): {console_errors[:3]}")
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        help="notebook paths relative to the repository (default: every solution notebook "
        "and its student copy)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run a tiny generated solution/student pair instead (checks the harness)",
    )
    parser.add_argument(
        "--demo-top-level-stub",
        action="store_true",
        help="with --demo: add an exercise whose stub raises at the top level of its cell",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="folder the notebook paths are relative to"
    )
    parser.add_argument(
        "--per-notebook",
        type=float,
        default=PER_NOTEBOOK_SECONDS,
        help="seconds one notebook may take (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="whole run, seconds (default: start-up + --per-notebook for each notebook)",
    )
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", DEFAULT_CHROMIUM))
    parser.add_argument("--screenshots", type=Path, default=ROOT / "build" / "browser")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    if not Path(args.chromium).is_file():
        print(
            f"FAIL: no Chromium at {args.chromium}: install it with "
            "`apt-get install chromium` (Debian/Ubuntu) or set CHROMIUM to its path.",
            file=sys.stderr,
        )
        return 1
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print(
            'FAIL: the playwright package is missing: `pip install -e ".[browser]"` '
            "(make test-browser does this).",
            file=sys.stderr,
        )
        return 1

    shots = args.screenshots
    shots.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="gnnrec-browser-"))
    root = workdir / "course"
    root.mkdir()
    if args.demo:
        from demo_notebooks import write_demo

        write_demo(workdir / "demo", top_level_stub=args.demo_top_level_stub)
        source_root = workdir / "demo"
        notebooks = args.notebooks or [
            "solutions/00_browser_demo.ipynb",
            "notebooks/00_browser_demo.ipynb",
        ]
    else:
        source_root = args.root.resolve()
        notebooks = args.notebooks or default_notebooks(source_root)
    if args.timeout is None:
        args.timeout = STARTUP_SECONDS + args.per_notebook * len(notebooks)
    deadline = Deadline(args.timeout)
    missing = [n for n in notebooks if not (source_root / n).is_file()]
    if missing:
        print(
            f"FAIL: {', '.join(missing)} not found in {source_root} "
            "(`gnnrec-course notebooks build` makes notebooks/ from solutions/; "
            "--demo checks the harness on a generated notebook).",
            file=sys.stderr,
        )
        print(f"0 passed, {len(notebooks)} failed in {time.monotonic() - started:.0f} s")
        return 1
    plots = {n: expects_plot(source_root, n) for n in notebooks}
    prepare_root(source_root, notebooks, root)
    print(
        f"{len(notebooks)} notebook(s), at most {args.per_notebook:.0f} s each, "
        f"{args.timeout:.0f} s in all",
        flush=True,
    )

    server = LabServer(root, workdir / "jupyter", shots / "jupyterlab.log")

    def on_timeout() -> None:  # last resort if something blocks past the budget
        print(
            f"FAIL: the browser test did not finish within {args.timeout:.0f} s; "
            f"screenshots in {shots}, server log in {server.log_path}",
            file=sys.stderr,
            flush=True,
        )
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        os._exit(1)

    watchdog = threading.Timer(args.timeout + 15, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    results: list[Result] = []
    try:
        print(f"JupyterLab: starting on 127.0.0.1 (root {root})", flush=True)
        print(f"GNNREC_DATA_DIR={os.environ.get('GNNREC_DATA_DIR', '<unset>')}", flush=True)
        server.start(timeout=min(90.0, deadline.left()))
        print(f"JupyterLab: up on {server.base_url}", flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
            )
            print(f"Chromium {browser.version} ({args.chromium})", flush=True)
            try:
                for relative in notebooks:
                    if deadline.left() <= 5:
                        results.append(Result(relative, kind_of(relative), ["no time left"]))
                        continue
                    budget = deadline.within(args.per_notebook)
                    results.append(
                        run_one(browser, server, relative, budget, shots, plots[relative])
                    )
            finally:
                browser.close()
    except Exception as error:  # noqa: BLE001 - the harness itself failed
        print(f"FAIL: {type(error).__name__}: {error}", file=sys.stderr)
        done = {r.notebook for r in results}
        results.extend(
            Result(n, kind_of(n), [f"not run: {type(error).__name__}"])
            for n in notebooks
            if n not in done
        )
    finally:
        server.stop()
        watchdog.cancel()
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        print(f"{status} {result.notebook} ({result.kind}, {result.seconds:.1f} s)")
        for note in result.notes:
            print(f"     {note}")
        for failure in result.failures:
            print(f"     ✗ {failure}")
    print(f"screenshots: {shots}")
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed in {time.monotonic() - started:.0f} s")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
