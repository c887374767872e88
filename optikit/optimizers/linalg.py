"""Small linear-algebra and stopping-test helpers shared by the second-order optimizers."""

from __future__ import annotations

import numpy as np

__all__ = ["cholesky", "cho_solve", "small_step", "check_tol"]


def cholesky(a: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of ``a``, or None when ``a`` is not (numerically) positive definite."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return None


def cho_solve(lower: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(lower.T, np.linalg.solve(lower, b))


def small_step(step: np.ndarray, params: np.ndarray, xtol: float, scale: np.ndarray | None = None) -> bool:
    """MINPACK's relative-step test ``|D step| <= xtol * (|D params| + xtol)`` (``D`` = ``scale``, or 1)."""
    if scale is not None:
        step, params = scale * step, scale * params
    return float(np.linalg.norm(step)) <= xtol * (float(np.linalg.norm(params)) + xtol)


def check_tol(name: str, value: float) -> float:
    """A convergence tolerance: a number >= 0 (0 turns its test off)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)
