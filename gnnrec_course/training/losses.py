"""Masked losses over rating edges, and the table of loss names."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from ..config import ConfigError

__all__ = ["LOSSES", "get_loss", "masked_l1_loss", "masked_mse_loss"]

Array = jax.Array


def _mask_or_ones(target: Array, mask: Array | None) -> Array:
    if mask is None:
        return jnp.ones_like(target, dtype=jnp.float32)
    return jnp.asarray(mask, dtype=jnp.float32)


def masked_l1_loss(pred: Array, target: Array, mask: Array | None = None) -> Array:
    """Mean absolute error over the edges where ``mask`` is 1.

    ``pred``, ``target``, ``mask``: ``[E]``. The sum is divided by the number of masked edges
    (``mask.sum()``), not by ``E``: dividing by all edges, as the original tutorial did, makes
    the loss, and the gradient, shrink with the share of masked edges. Returns a scalar; 0.0
    when no edge is masked. ``mask=None`` means every edge.
    """
    mask = _mask_or_ones(target, mask)
    return jnp.sum(jnp.abs(pred - target) * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def masked_mse_loss(pred: Array, target: Array, mask: Array | None = None) -> Array:
    """Mean squared error over the edges where ``mask`` is 1 (divided by ``mask.sum()``).

    ``pred``, ``target``, ``mask``: ``[E]``; returns a scalar (0.0 when nothing is masked).
    """
    mask = _mask_or_ones(target, mask)
    return jnp.sum(jnp.square(pred - target) * mask) / jnp.maximum(jnp.sum(mask), 1.0)


#: The rating losses by name (``TrainConfig.loss``).
LOSSES: dict[str, Callable[..., Array]] = {"mse": masked_mse_loss, "l1": masked_l1_loss}


def get_loss(name: str) -> Callable[..., Array]:
    """The loss called ``name``; an unknown name is a ``ConfigError`` listing the valid ones."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"Unknown loss {name!r}: use one of {', '.join(LOSSES)}.") from None
