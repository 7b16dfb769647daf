"""Run the solution notebooks headless, time each one, and optionally save HTML.

``make course`` uses this to measure the course's time budget (each notebook ≤ 90 s, the
whole course ≤ 5 min on 2 CPU cores); ``make notebooks`` uses it to re-execute the
solutions in place so that readers on GitHub see their results. Run it from the repository
root: ``python -m tools.course_runner [--html build/] [--inplace] [notebooks...]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools.paths import PROJECT_ROOT, solution_notebooks

TIMEOUT_PER_CELL_S = 600


def terminal_text(text: str) -> str:
    """``text`` as a terminal shows it: on each line only what follows its last ``\\r``.

    A text progress bar redraws itself with ``\\r``; the kernel sends every redraw, so a saved
    notebook would hold each half-drawn frame (GitHub and nbviewer print them all).
    """
    lines = []
    for line in text.split("\n"):
        frames = [frame for frame in line.split("\r") if frame]
        lines.append(frames[-1] if frames else "")
    return "\n".join(lines)


def collapse_streams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Merge each cell's consecutive stdout/stderr outputs into one, as a terminal shows them."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list = []
        for out in cell.outputs:
            if out.output_type == "stream" and merged and merged[-1].get("name") == out.name:
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = terminal_text(out.text)
        cell.outputs = merged
    return nb


def run_notebook(path: Path, *, inplace: bool = False) -> tuple[nbformat.NotebookNode, float]:
    """Execute one notebook in its own folder; return the executed notebook and its seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_PER_CELL_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    collapse_streams(nb)
    if inplace:
        nbformat.write(nb, path)
    return nb, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: solutions/*.ipynb")
    parser.add_argument("--html", type=Path, help="write an HTML copy of each into this folder")
    parser.add_argument("--inplace", action="store_true", help="save the executed notebooks")
    parser.add_argument(
        "--timings", type=Path, default=PROJECT_ROOT / "build" / "course_timings.json"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or solution_notebooks()
    timings: dict[str, float] = {}
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        nb, seconds = run_notebook(path, inplace=args.inplace)
        timings[path.name] = round(seconds, 1)
        if args.html:
            from nbconvert import HTMLExporter

            args.html.mkdir(parents=True, exist_ok=True)
            body, _ = HTMLExporter().from_notebook_node(nb)
            (args.html / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
    args.timings.parent.mkdir(parents=True, exist_ok=True)
    args.timings.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    print("\n| notebook | seconds |\n|---|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"| **total** | {sum(timings.values()):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
