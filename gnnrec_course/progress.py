"""The progress bar every long loop of the package shows.

A plain-text ``tqdm`` bar on standard output, not the notebook widget of ``tqdm.auto``: a
notebook stores a widget only as its first frame ("0%| 0/500"), which reads like an
interrupted run, while a text bar is stored as the line it ended on. A loop that stops early
(early stopping) calls :func:`finish`, so the stored line reads as complete ("161/161") and
says why it ended.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

__all__ = ["finish", "progress_bar"]


def progress_bar(total: int, desc: str, disable: bool = False) -> tqdm:
    """A text progress bar over ``total`` steps, labelled ``desc``; use it as a context manager."""
    return tqdm(
        total=total, desc=desc, disable=disable, leave=True, file=sys.stdout, mininterval=2.0,
        dynamic_ncols=False, ncols=100,
    )  # fmt: skip


def finish(bar: tqdm, steps_done: int, **postfix: Any) -> None:
    """End ``bar`` at ``steps_done`` steps (fewer than planned) with a last postfix."""
    if bar.disable:
        return
    bar.total = steps_done
    if postfix:
        bar.set_postfix(postfix, refresh=False)
    bar.refresh()
