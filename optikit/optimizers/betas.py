"""The ``betas`` pair of the Adam family, checked as torch checks it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .adaptive import _real

__all__ = ["betas"]


def betas(betas, *, closed: bool = False) -> tuple[float, float]:
    """A length-2 sequence of floats in ``[0, 1)`` (``[0, 1]`` if ``closed``) as a tuple."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, (Sequence, np.ndarray)) or len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas!r} (expected two numbers)")
    return tuple(
        _real(f"beta parameter at index {i}", b, high=1.0, high_open=not closed) for i, b in enumerate(betas)
    )  # type: ignore[return-value]
