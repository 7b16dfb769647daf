"""tools/course_runner.py: saved notebooks keep a progress bar's last frame, not every redraw."""

from __future__ import annotations

import nbformat

from tools.course_runner import collapse_streams, terminal_text


def test_terminal_text_keeps_what_follows_the_last_carriage_return() -> None:
    assert terminal_text("a:  0%\ra: 50%\ra: 100%\nnext\n") == "a: 100%\nnext\n"
    assert terminal_text("done\r") == "done"  # a trailing \r erases nothing
    assert terminal_text("plain\ntext") == "plain\ntext"


def test_consecutive_stream_outputs_become_one_finished_line() -> None:
    cell = nbformat.v4.new_code_cell("train()")
    frames = ["\rbar:   0%| 0/3", "\rbar:  33%| 1/3", "\rbar: 100%| 3/3", "\n"]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in frames]
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="warning\n"))
    cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="3 epochs\n"))
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    collapse_streams(nb)
    texts = [(o.name, o.text) for o in nb.cells[0].outputs]
    assert texts == [
        ("stdout", "bar: 100%| 3/3\n"),
        ("stderr", "warning\n"),
        ("stdout", "3 epochs\n"),
    ]
