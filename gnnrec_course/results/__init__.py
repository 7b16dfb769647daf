"""Measured results that notebooks read, shipped with the package (no MovieLens data in them).

A notebook that shows a many-seed experiment reads its numbers from here instead of rerunning
it: they are in every install (a clone, ``pip install``, Colab) and need no network. Each file
is written by the benchmark script named in it, never by hand:

* ``repair_ladder.json``: notebook 04's repair ladder and message-passing experiments
  (``benchmarks/repair_ladder.py``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..errors import CourseError

__all__ = ["RESULT_NAMES", "UnknownResultsError", "load_results"]

RESULT_NAMES: tuple[str, ...] = ("repair_ladder",)


class UnknownResultsError(CourseError, ValueError):
    """A results name that the package does not ship."""


def load_results(name: str) -> dict[str, Any]:
    """The results file ``name`` (without ``.json``) as a dict.

    Raises:
      UnknownResultsError: for a name not in :data:`RESULT_NAMES`.
    """
    if name not in RESULT_NAMES:
        raise UnknownResultsError(
            f"No results named {name!r}: the package ships {', '.join(RESULT_NAMES)}."
        )
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)
