"""Every exercise self-check keeps the same promise to the learner.

A wrong answer raises ``AssertionError("Exercise N.k: <hint>")``, a stub that still raises
``NotImplementedError`` hands back the reference (saying so), and the reference passes. The
tables of checks, references and deliberately wrong answers live beside each notebook's
specific tests in ``tests/test_checks_nb0N.py``; notebook 05's file tests the same promise
with its own table layout.
"""

from __future__ import annotations

import importlib

import pytest

import gnnrec_course.checks as checks

TABLES = [importlib.import_module(f"test_checks_nb0{n}") for n in (1, 2, 3, 4)]
CHECKS = [row for table in TABLES for row in table.CHECKS]
WRONG = [row for table in TABLES for row in table.WRONG]


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise N.k: not done yet")


@pytest.mark.parametrize(("exercise", "check", "wrong", "hint"), WRONG)
def test_wrong_answer_raises_a_hint(exercise, check, wrong, hint):
    with pytest.raises(AssertionError) as info:
        check(wrong)
    message = str(info.value)
    assert message.startswith(f"Exercise {exercise}:")
    assert hint in message


@pytest.mark.parametrize(("exercise", "check", "reference"), CHECKS)
def test_stub_returns_the_reference(exercise, check, reference, capsys):
    assert check(stub) is reference
    assert f"Exercise {exercise} not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(("exercise", "check", "reference"), CHECKS)
def test_reference_passes(exercise, check, reference, capsys):
    assert check(reference) is reference
    assert f"✅ Exercise {exercise} passed" in capsys.readouterr().out


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_checks_are_exported(number):
    module = importlib.import_module(f"gnnrec_course.checks.nb0{number}")
    for name in module.__all__:
        assert getattr(checks, name) is getattr(module, name)
