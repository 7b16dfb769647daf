"""The one pattern every exercise self-check follows.

A check runs the learner's function on a small case. It prints a pass line, or raises an
``AssertionError`` whose message is a hint, or, when the exercise is still a stub, says so and
hands back the package's reference implementation so the rest of the notebook still runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def run_check(
    exercise: str,
    learner_fn: F,
    reference_fn: F,
    test: Callable[[F], None],
    passed_message: str,
    reference_name: str | None = None,
) -> F:
    """Check ``learner_fn`` with ``test`` and return the function later cells should use.

    Args:
      exercise: the exercise id, e.g. ``"2.1"``.
      learner_fn: the function the learner wrote (or the stub).
      reference_fn: the package's implementation, used when the exercise is not done yet.
      test: calls the function on small inputs; raises ``AssertionError`` with a hint if wrong.
      passed_message: what passing means, printed after the tick.
      reference_name: dotted name of the reference, shown to the learner who skipped.

    Returns:
      ``learner_fn`` when it passes, ``reference_fn`` when it is still a stub.

    Raises:
      AssertionError: the learner's function gives a wrong answer; the message is a hint.
    """
    name = reference_name or f"{reference_fn.__module__}.{reference_fn.__qualname__}"
    try:
        test(learner_fn)
    except NotImplementedError:
        print(
            f"⏭ Exercise {exercise} not done yet: the rest of this notebook uses the "
            f"reference implementation `{name}`."
        )
        return reference_fn
    except AssertionError as error:
        hint = str(error)
        prefix = f"Exercise {exercise}:"
        raise AssertionError(hint if hint.startswith(prefix) else f"{prefix} {hint}") from None
    print(f"✅ Exercise {exercise} passed: {passed_message}")
    return learner_fn
