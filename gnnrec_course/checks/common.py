"""The one pattern every exercise self-check follows, and the helpers the checks share.

A check runs the learner's function on a small case (its *test*) and returns the function the
rest of the notebook should use:

- the answer is right: it prints "✅ Exercise N.k passed: …" and returns the learner's function;
- the exercise is still a stub (``NotImplementedError``): it prints "⏭ Exercise N.k not done
  yet" and returns the package's reference implementation;
- the answer is wrong (or the function fails): it prints "❌ Exercise N.k: <hint>", says that
  the rest of the notebook uses the reference implementation, and returns the reference, so
  that later cells never run on a wrong function. Notebooks therefore always rebind:
  ``fn = checks.check_fn(fn)``.

Strict mode, for graders: with the environment variable ``GNNREC_STRICT_CHECKS=1`` (nbgrader's
autograde sets it, see ``docs/instructor-guide.md``) a wrong answer raises
``AssertionError("Exercise N.k: <hint>")`` and a stub raises
``AssertionError("Exercise N.k not done …")`` instead of falling back, so the check cell
fails and scores no points.

A test raises ``AssertionError(hint)`` when the answer is wrong. The helpers below convert
the learner's answer (:func:`as_array`, :func:`as_number`, :func:`as_indices`) and match it
against the expected answer and a table of known mistakes (:func:`expect`,
:func:`match_known_mistake`), so every check states its mistakes the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable)

STRICT_ENV = "GNNREC_STRICT_CHECKS"


def strict_mode() -> bool:
    """Whether ``GNNREC_STRICT_CHECKS`` asks checks to raise instead of falling back."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes"}


# --- running a check ----------------------------------------------------------------------


def _hint(exercise: str, error: BaseException) -> str:
    """``"Exercise N.k: <hint>"`` for a failed test; the message of an unexpected error."""
    if isinstance(error, AssertionError):
        text = str(error) or "the answer is wrong."
    else:  # the learner's function itself failed
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        text = f"your function raised {type(error).__name__}: {first_line}"
    prefix = f"Exercise {exercise}:"
    return text if text.startswith(prefix) else f"{prefix} {text}"


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
      reference_fn: the package's implementation, used when the exercise is not done or wrong.
      test: calls the function on small inputs; raises ``AssertionError`` with a hint if wrong.
      passed_message: what passing means, printed after the tick.
      reference_name: dotted name of the reference, shown when the reference takes over.

    Returns:
      ``learner_fn`` when it passes, else ``reference_fn``.

    Raises:
      AssertionError: only in strict mode (:func:`strict_mode`), for a wrong answer or a stub;
        the message starts with ``"Exercise N.k"``.
    """
    name = reference_name or f"{reference_fn.__module__}.{reference_fn.__qualname__}"
    try:
        test(learner_fn)
    except NotImplementedError:
        if strict_mode():
            raise AssertionError(f"Exercise {exercise} not done: the function is a stub.") from None
        print(
            f"⏭ Exercise {exercise} not done yet: the rest of this notebook uses the "
            f"reference implementation `{name}`."
        )
        return reference_fn
    except Exception as error:  # noqa: BLE001 - a wrong answer or a failing function
        hint = _hint(exercise, error)
        if strict_mode():
            raise AssertionError(hint) from None
        print(f"❌ {hint}")
        print(
            f"   The rest of this notebook uses the reference implementation `{name}`; "
            "fix your function and run its cell and this one again to use yours."
        )
        return reference_fn
    print(f"✅ Exercise {exercise} passed: {passed_message}")
    return learner_fn


# --- converting answers -------------------------------------------------------------------


def _not_none(out: object, what: str) -> None:
    if out is None:
        raise AssertionError(f"{what} returned None: did you forget the `return`?")


def as_array(out: object, what: str) -> np.ndarray:
    """The learner's result as a float64 NumPy array, with a hint when that is impossible.

    ``what`` names the call in hints, e.g. ``"degrees(graph)"``.
    """
    _not_none(out, what)
    try:
        return np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{what} should return an array of numbers, got {out!r}.") from error


def as_number(out: object, what: str, *, scalar: bool = False, hint: str = "") -> float:
    """The learner's result as one Python float.

    Any one-element result is accepted; with ``scalar`` only shape ``()`` (a loss must be a
    scalar for ``jax.grad``). ``hint`` is added when the shape is wrong, e.g. "Take a mean.".
    """
    _not_none(out, what)
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{what} should return one number, got {out!r}.") from error
    if arr.shape != () and (scalar or arr.size != 1):
        wanted = "one number (shape ())" if scalar else "one number"
        raise AssertionError(
            f"{what} returned an array of shape {arr.shape}; it should be {wanted}. {hint}".strip()
        )
    return float(arr.reshape(()))


def as_indices(out: object, what: str) -> list[int]:
    """The learner's result as a list of Python ints (a ranked list of indices)."""
    _not_none(out, what)
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{what} should return an array of indices, got {out!r}.") from error
    if arr.ndim != 1:
        raise AssertionError(
            f"{what} should return a 1-D array of indices, got shape {arr.shape}."
            + (" Did you argsort a [1, M] array? Work on the [M] scores." if arr.ndim > 1 else "")
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.all(np.isfinite(arr)) and np.allclose(arr, np.round(arr))):
            raise AssertionError(
                f"{what} returned {np.round(arr, 3).tolist()}: those look like scores. Return "
                "the *indices* of the best movies (np.argsort gives indices)."
            )
        arr = arr.astype(np.int64)
    return [int(i) for i in arr.tolist()]


# --- matching answers ---------------------------------------------------------------------

# A known mistake is the answer that mistake gives, or a predicate ``answer -> bool``.
Mistake = Any


def same(answer: object, other: object, *, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """Whether two answers agree: equal shapes and close values (lists and scalars too)."""
    try:
        a, b = np.asarray(answer), np.asarray(other)
    except ValueError:  # ragged lists
        return False
    if a.shape != b.shape:
        return False
    if np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number):
        return bool(np.allclose(a, b, atol=atol, rtol=rtol))
    return bool(np.array_equal(a, b))


def match_known_mistake(
    answer: object,
    mistakes: Mapping[str, Mistake],
    *,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> None:
    """Raise ``AssertionError(hint)`` for the first known mistake that ``answer`` matches.

    Args:
      answer: the learner's (converted) answer.
      mistakes: hint -> what that mistake gives: a value compared with :func:`same`, or a
        callable ``answer -> bool`` for mistakes that are not one value (checked in order).
      atol, rtol: tolerances of :func:`same`.
    """
    for hint, wrong in mistakes.items():
        hit = wrong(answer) if callable(wrong) else same(answer, wrong, atol=atol, rtol=rtol)
        if hit:
            raise AssertionError(hint)


def expect(
    answer: object,
    expected: object,
    *,
    mistakes: Mapping[str, Mistake] | None = None,
    otherwise: str,
    context: str = "",
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> None:
    """Pass if ``answer`` matches ``expected``, else raise a known mistake's hint or ``otherwise``.

    ``otherwise`` is the hint for a wrong answer that no known mistake explains (say what was
    expected and how to get it); ``context`` (e.g. "with reg=2: expected …, got …. ") is put
    before whichever hint is raised.
    """
    if same(answer, expected, atol=atol, rtol=rtol):
        return
    try:
        match_known_mistake(answer, mistakes or {}, atol=atol, rtol=rtol)
    except AssertionError as error:
        raise AssertionError(f"{context}{error}") from None
    raise AssertionError(f"{context}{otherwise}")
