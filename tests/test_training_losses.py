"""Tests for gnnrec_course.training.losses: the masked losses and the loss table."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from gnnrec_course import training
from gnnrec_course.errors import CourseError

# ----- losses --------------------------------------------------------------------------------

PRED = jnp.array([1.0, 2.0, 3.0, 5.0])
TARGET = jnp.array([1.0, 1.0, 1.0, 1.0])
MASK = jnp.array([1.0, 0.0, 1.0, 0.0])


def test_masked_l1_divides_by_masked_count():
    # |1-1| + |3-1| over 2 masked edges = 1.0 (the tutorial's /4 would give 0.5)
    assert float(training.masked_l1_loss(PRED, TARGET, MASK)) == pytest.approx(1.0)


def test_masked_mse_divides_by_masked_count():
    # (0^2 + 2^2) / 2 = 2.0
    assert float(training.masked_mse_loss(PRED, TARGET, MASK)) == pytest.approx(2.0)


def test_losses_accept_boolean_mask_and_no_mask():
    assert float(training.masked_l1_loss(PRED, TARGET, MASK > 0)) == pytest.approx(1.0)
    assert float(training.masked_l1_loss(PRED, TARGET)) == pytest.approx((0 + 1 + 2 + 4) / 4)
    assert float(training.masked_mse_loss(PRED, TARGET)) == pytest.approx((0 + 1 + 4 + 16) / 4)


def test_losses_with_empty_mask_are_zero_not_nan():
    empty = jnp.zeros(4)
    assert float(training.masked_l1_loss(PRED, TARGET, empty)) == 0.0
    assert float(training.masked_mse_loss(PRED, TARGET, empty)) == 0.0


def test_losses_ignore_values_outside_the_mask():
    pred = PRED.at[1].set(1e6)
    assert float(training.masked_mse_loss(pred, TARGET, MASK)) == pytest.approx(2.0)


def test_get_loss_names_the_valid_losses():
    assert training.get_loss("l1") is training.masked_l1_loss
    with pytest.raises(CourseError, match="mse") as info:
        training.get_loss("huber")
    assert "\n" not in str(info.value)
