"""Every exercise self-check keeps the same promise to the learner.

A wrong answer prints "❌ Exercise N.k: <hint>" and hands back the reference (saying so), a
stub that still raises ``NotImplementedError`` hands back the reference too, and the reference
passes. In strict mode (``GNNREC_STRICT_CHECKS=1``, for graders) a wrong answer or a stub
raises ``AssertionError("Exercise N.k…")`` instead. The tables of checks, references and
deliberately wrong answers live beside each notebook's specific tests in
``tests/test_checks_nb0N.py`` (and ``tests/test_checks_a1.py`` for the appendix).
"""

from __future__ import annotations

import importlib

import pytest

import gnnrec_course.checks as checks
from gnnrec_course.checks.common import STRICT_ENV

NOTEBOOKS = (1, 2, 3, 4, 5, 6, 7)
# The check modules of each notebook (checks/nb0N.py, checks/a1.py; notebook 04's are two),
# its table in test_checks_<m>.py.
MODULES = (*(f"nb0{n}" for n in NOTEBOOKS), "a1")
PARTS = {"nb04": ("nb04", "nb04_branches")}


def _exported(name: str) -> dict:
    """Check name -> function over the check modules of notebook ``name``."""
    out = {}
    for part in PARTS.get(name, (name,)):
        module = importlib.import_module(f"gnnrec_course.checks.{part}")
        out.update({check: getattr(module, check) for check in module.__all__})
    return out
TABLES = [importlib.import_module(f"test_checks_{m}") for m in MODULES]
CHECKS = [row for table in TABLES for row in table.CHECKS]
WRONG = [row for table in TABLES for row in table.WRONG]
REFERENCES = {exercise: reference for exercise, _, reference in CHECKS}
# Strict mode changes only what happens after a test fails: one wrong answer per exercise.
FIRST_WRONG = [next(row for row in WRONG if row[0] == exercise) for exercise, *_ in CHECKS]


def _id(row) -> str:
    return f"{row[0]}-{getattr(row[2], '__name__', row[2])}"


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise N.k: not done yet")


def crashes(*args, **kwargs):
    return {}["no such key"]


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    """Learner mode, whatever the environment of the test run says."""
    monkeypatch.delenv(STRICT_ENV, raising=False)


@pytest.mark.parametrize(("exercise", "check", "wrong", "hint"), WRONG, ids=map(_id, WRONG))
def test_wrong_answer_falls_back_with_a_hint(exercise, check, wrong, hint, capsys):
    reference = REFERENCES[exercise]
    assert check(wrong) is reference
    out = capsys.readouterr().out
    assert out.startswith(f"❌ Exercise {exercise}:")
    assert hint in out
    assert "✅" not in out
    assert f"uses the reference implementation `{reference.__module__}." in out


@pytest.mark.parametrize(
    ("exercise", "check", "wrong", "hint"), FIRST_WRONG, ids=map(_id, FIRST_WRONG)
)
def test_wrong_answer_raises_the_hint_in_strict_mode(
    exercise, check, wrong, hint, monkeypatch, capsys
):
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(AssertionError) as info:
        check(wrong)
    message = str(info.value)
    assert message.startswith(f"Exercise {exercise}:")
    assert hint in message
    assert "✅" not in capsys.readouterr().out


@pytest.mark.parametrize(("exercise", "check", "reference"), CHECKS)
def test_stub_returns_the_reference(exercise, check, reference, capsys):
    assert check(stub) is reference
    out = capsys.readouterr().out
    assert f"Exercise {exercise} not done yet" in out
    assert f"`{reference.__module__}." in out


@pytest.mark.parametrize(("exercise", "check", "reference"), CHECKS)
def test_stub_fails_in_strict_mode(exercise, check, reference, monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(AssertionError, match=rf"^Exercise {exercise} not done"):
        check(stub)


@pytest.mark.parametrize(("exercise", "check", "reference"), CHECKS)
def test_a_function_that_crashes_falls_back(exercise, check, reference, capsys):
    assert check(crashes) is reference
    out = capsys.readouterr().out
    assert out.startswith(f"❌ Exercise {exercise}:")
    assert "KeyError" in out


@pytest.mark.parametrize(("exercise", "check", "reference"), CHECKS)
def test_reference_passes(exercise, check, reference, capsys, monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")  # a right answer passes in both modes
    assert check(reference) is reference
    assert f"✅ Exercise {exercise} passed" in capsys.readouterr().out


@pytest.mark.parametrize("number", NOTEBOOKS)
def test_checks_are_exported(number):
    for name, check in _exported(f"nb0{number}").items():
        assert getattr(checks, name) is check


@pytest.mark.parametrize("name", MODULES)
def test_every_exercise_has_wrong_answers(name):
    table = TABLES[MODULES.index(name)]
    assert {check.__name__ for _, check, _ in table.CHECKS} == set(_exported(name))
    assert {exercise for exercise, *_ in table.WRONG} == {e for e, *_ in table.CHECKS}
