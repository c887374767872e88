"""Bounds for methods a projection would break: the run in unbounded internal coordinates.

MINUIT's and lmfit's transform: a parameter with both bounds is ``lo + (hi - lo) * (sin u + 1) / 2``,
one with a lower bound only ``lo - 1 + sqrt(u**2 + 1)``, one with an upper bound only
``hi + 1 - sqrt(u**2 + 1)``; a free parameter is ``u`` itself. The optimizer sees ``u`` and the
derivatives with respect to it (chain rule, the Hessian with its curvature term), so its steps stay
its own; every ``u`` maps inside the bounds, and a parameter at a bound is a stationary ``u``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BoundTransform", "TransformedOracle", "at_bounds"]


@dataclass(frozen=True)
class BoundTransform:
    """The map ``u -> p`` for bounds ``lower``/``upper`` (``-inf``/``inf`` where a side is open)."""

    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self) -> None:
        lo, hi = np.isfinite(self.lower), np.isfinite(self.upper)
        object.__setattr__(self, "_both", lo & hi)
        object.__setattr__(self, "_low", lo & ~hi)
        object.__setattr__(self, "_high", hi & ~lo)

    def _parts(self, u: np.ndarray):
        half = np.where(self._both, 0.5 * (self.upper - self.lower), 0.0)
        root = np.sqrt(u * u + 1.0)
        return half, root

    def params(self, u: np.ndarray) -> np.ndarray:
        """``p`` for internal ``u``: always within the bounds."""
        half, root = self._parts(u)
        p = np.array(u, dtype=float)
        p = np.where(self._both, self.lower + half * (np.sin(u) + 1.0), p)
        p = np.where(self._low, self.lower - 1.0 + root, p)
        p = np.where(self._high, self.upper + 1.0 - root, p)
        # sin and sqrt may round a hair past a bound
        return np.clip(p, self.lower, self.upper)

    def internal(self, p: np.ndarray) -> np.ndarray:
        """``u`` for ``p`` (clipped into the bounds first). A value exactly on a bound is moved a
        hair inside: there ``dp/du`` is zero, so the gradient in ``u`` would vanish and the
        parameter could never leave the bound, whatever the loss wants."""
        p = np.clip(np.asarray(p, dtype=float), self.lower, self.upper)
        with np.errstate(invalid="ignore", over="ignore"):
            span = np.where(np.isfinite(self.upper - self.lower), (self.upper - self.lower) / 4, np.inf)
            low = self.lower + np.minimum(1e-8 * np.maximum(1.0, np.abs(self.lower)), span)
            high = self.upper - np.minimum(1e-8 * np.maximum(1.0, np.abs(self.upper)), span)
            p = np.where(np.isfinite(self.lower) & (p <= self.lower), low, p)
            p = np.where(np.isfinite(self.upper) & (p >= self.upper), high, p)
        u = p.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            span = self.upper - self.lower
            both = np.arcsin(np.clip(np.where(span > 0, 2.0 * (p - self.lower) / span - 1.0, 0.0), -1.0, 1.0))
            low = np.sqrt(np.maximum((p - self.lower + 1.0) ** 2 - 1.0, 0.0))
            high = np.sqrt(np.maximum((self.upper - p + 1.0) ** 2 - 1.0, 0.0))
        u = np.where(self._both, both, u)
        u = np.where(self._low, low, u)
        return np.where(self._high, high, u)

    def derivatives(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(dp/du, d2p/du2)``, element by element."""
        half, root = self._parts(u)
        d1, d2 = np.ones_like(u, dtype=float), np.zeros_like(u, dtype=float)
        d1 = np.where(self._both, half * np.cos(u), d1)
        d2 = np.where(self._both, -half * np.sin(u), d2)
        d1 = np.where(self._low, u / root, d1)
        d2 = np.where(self._low, 1.0 / root**3, d2)
        d1 = np.where(self._high, -u / root, d1)
        return d1, np.where(self._high, -1.0 / root**3, d2)


class TransformedOracle:
    """An :class:`~optikit.Oracle` in internal coordinates ``u`` over one in parameters ``p``."""

    def __init__(self, oracle, transform: BoundTransform) -> None:
        self._oracle, self._t = oracle, transform

    def loss(self, u: np.ndarray) -> float:
        return self._oracle.loss(self._t.params(u))

    def grad(self, u: np.ndarray) -> np.ndarray:
        return self._t.derivatives(u)[0] * np.asarray(self._oracle.grad(self._t.params(u)), dtype=float)

    def hessian(self, u: np.ndarray) -> np.ndarray:
        p = self._t.params(u)
        d1, d2 = self._t.derivatives(u)
        h = np.asarray(self._oracle.hessian(p), dtype=float)
        g = np.asarray(self._oracle.grad(p), dtype=float)
        return d1[:, None] * h * d1[None, :] + np.diag(d2 * g)

    def residuals(self, u: np.ndarray) -> np.ndarray:
        return self._oracle.residuals(self._t.params(u))

    def jacobian(self, u: np.ndarray) -> np.ndarray:
        jac = np.asarray(self._oracle.jacobian(self._t.params(u)), dtype=float)
        return jac * self._t.derivatives(u)[0].reshape((1,) * (jac.ndim - 1) + (-1,))


def at_bounds(p: np.ndarray, lower: np.ndarray, upper: np.ndarray, rtol: float = 1e-6) -> list[str]:
    """Per parameter: ``"lower"``, ``"upper"`` or ``""`` when within ``rtol`` (relative to
    ``max(1, |bound|)``) of a bound."""
    out = []
    for v, lo, hi in zip(p, lower, upper):
        if np.isfinite(lo) and abs(v - lo) <= rtol * max(1.0, abs(lo)):
            out.append("lower")
        elif np.isfinite(hi) and abs(v - hi) <= rtol * max(1.0, abs(hi)):
            out.append("upper")
        else:
            out.append("")
    return out
