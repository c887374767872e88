"""Second-order optimizers: damped Newton and Levenberg-Marquardt.

``newton`` solves with the exact Hessian, shifted towards the identity until it is positive
definite (Nocedal & Wright, *Numerical Optimization*, Algorithm 3.3), then backtracks along the
direction until the Armijo condition holds, so the loss never increases. ``levenberg-marquardt``
works on the residuals of a least-squares loss and needs only their Jacobian.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import Optimizer

# Keep lambda where ``A + lambda * D`` stays representable and informative: below the floor it
# is Gauss-Newton to machine precision, above the ceiling every step is numerically zero.
_LAMBDA_MIN = 1e-15
_LAMBDA_MAX = 1e15
# Doublings of the identity shift before the Hessian is given up on (2**60 * shift).
_MAX_SHIFTS = 60


class NewtonState(NamedTuple):
    """``damping``: multiple of the identity added to the last Hessian; ``count``: steps taken."""

    damping: float
    count: int


class LMState(NamedTuple):
    """``lambda_``: current damping; ``scale``: diagonal scaling (Moré's running maximum);
    ``count``: updates taken."""

    lambda_: float
    scale: np.ndarray
    count: int


def _cholesky(a: np.ndarray) -> np.ndarray | None:
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return None


def _cho_solve(lower: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(lower.T, np.linalg.solve(lower, b))


class Newton(Optimizer):
    """Newton's method with a positive-definite Hessian shift and an Armijo line search.

    If ``H + damping*I`` has no Cholesky factor, the shift grows (starting from
    ``-min(diag H) + shift`` when the diagonal is not positive, then doubling) until it has one.
    The step ``-(H + tau*I)^-1 g`` is then shortened by ``backtrack`` until the loss decreases
    by at least ``c1 * t * g.d``; if it never does, the step is zero.

    Parameters
    ----------
    lr : float
        Initial step length of the line search (1 is the full Newton step).
    c1 : float
        Sufficient-decrease constant of the Armijo condition, in (0, 1).
    backtrack : float
        Factor the step length is multiplied by after a rejected trial, in (0, 1).
    max_backtracks : int
        Largest number of step reductions in one update.
    damping : float
        Multiple of the identity always added to the Hessian (0: pure Newton when it is PD).
    shift : float
        Smallest multiple of the identity added when the Hessian is not positive definite.
    """

    name = "newton"
    batch_size = None
    requires = frozenset({"hessian", "loss"})
    supports_bounds = False

    def __init__(
        self,
        lr: float = 1.0,
        c1: float = 1e-4,
        backtrack: float = 0.5,
        max_backtracks: int = 40,
        damping: float = 0.0,
        shift: float = 1e-3,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0 < c1 < 1:
            raise ValueError(f"c1 must be in (0, 1), got {c1}")
        if not 0 < backtrack < 1:
            raise ValueError(f"backtrack must be in (0, 1), got {backtrack}")
        if int(max_backtracks) != max_backtracks or max_backtracks < 0:
            raise ValueError(f"max_backtracks must be an integer >= 0, got {max_backtracks}")
        if not damping >= 0:
            raise ValueError(f"damping must be >= 0, got {damping}")
        if not shift > 0:
            raise ValueError(f"shift must be > 0, got {shift}")
        self.lr = lr
        self.c1 = c1
        self.backtrack = backtrack
        self.max_backtracks = int(max_backtracks)
        self.damping = damping
        self.shift = shift

    def init(self, params: np.ndarray) -> NewtonState:
        return NewtonState(damping=float(self.damping), count=0)

    def _direction(self, hess: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, float]:
        """Algorithm 3.3: the Newton direction of ``hess + tau*I`` for the first PD shift."""
        if not np.all(np.isfinite(hess)):
            return -grad, float("inf")
        hess = 0.5 * (hess + hess.T)
        eye = np.eye(len(grad))
        min_diag = float(np.min(np.diag(hess))) if len(grad) else 1.0
        tau = self.damping if min_diag > 0 else max(self.damping, -min_diag + self.shift)
        for _ in range(_MAX_SHIFTS):
            lower = _cholesky(hess + tau * eye)
            if lower is not None:
                return _cho_solve(lower, -grad), float(tau)
            tau = max(2.0 * tau, self.shift)
        return -grad, float("inf")

    def update(self, grad, state, params, oracle=None):
        grad = np.asarray(grad, dtype=float)
        params = np.asarray(params, dtype=float)
        zero = np.zeros_like(params)
        if not np.any(grad):
            return zero, NewtonState(state.damping, state.count + 1)
        direction, tau = self._direction(np.asarray(oracle.hessian(params), dtype=float), grad)
        slope = float(grad @ direction)
        if not (np.isfinite(slope) and slope < 0):
            # rounding in an ill-conditioned solve can leave an ascent direction
            direction, slope = -grad, -float(grad @ grad)
        f0 = float(oracle.loss(params))
        t = self.lr
        for _ in range(self.max_backtracks + 1):
            f = float(oracle.loss(params + t * direction))
            if f <= f0 + self.c1 * t * slope:
                return t * direction, NewtonState(tau, state.count + 1)
            t *= self.backtrack
        return zero, NewtonState(tau, state.count + 1)


class LevenbergMarquardt(Optimizer):
    """Levenberg-Marquardt on the residuals of a least-squares loss.

    Each update solves ``(J^T J + lambda * D) delta = -J^T r`` and accepts ``delta`` if it lowers
    ``sum(r**2)``, dividing ``lambda`` by ``decrease``; a rejected trial multiplies ``lambda`` by
    ``increase`` and is retried within the same update, up to ``max_tries`` times (then the step
    is zero). ``D`` is ``diag(J^T J)`` (``"marquardt"``), its running maximum over the updates
    (``"more"``, Moré 1978) or the identity (``"levenberg"``).

    Parameters
    ----------
    lambda_ : float
        Initial damping.
    increase : float
        Factor lambda is multiplied by after a rejected trial (> 1).
    decrease : float
        Factor lambda is divided by after an accepted step (>= 1).
    max_tries : int
        Largest number of trial steps in one update.
    scaling : str
        Damping matrix: "marquardt", "more" or "levenberg".
    """

    name = "levenberg-marquardt"
    batch_size = None
    requires = frozenset({"residuals", "loss"})
    supports_bounds = False

    _SCALINGS = ("marquardt", "more", "levenberg")

    def __init__(
        self,
        lambda_: float = 1e-3,
        increase: float = 10.0,
        decrease: float = 10.0,
        max_tries: int = 10,
        scaling: str = "marquardt",
    ) -> None:
        if not lambda_ > 0:
            raise ValueError(f"lambda_ must be > 0, got {lambda_}")
        if not increase > 1:
            raise ValueError(f"increase must be > 1, got {increase}")
        if not decrease >= 1:
            raise ValueError(f"decrease must be >= 1, got {decrease}")
        if int(max_tries) != max_tries or max_tries < 1:
            raise ValueError(f"max_tries must be an integer >= 1, got {max_tries}")
        if scaling not in self._SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(self._SCALINGS)}; got {scaling!r}")
        self.lambda_ = lambda_
        self.increase = increase
        self.decrease = decrease
        self.max_tries = int(max_tries)
        self.scaling = scaling

    def init(self, params: np.ndarray) -> LMState:
        return LMState(lambda_=float(self.lambda_), scale=np.zeros(np.shape(params)), count=0)

    def update(self, grad, state, params, oracle=None):
        params = np.asarray(params, dtype=float)
        lam, scale, count = state
        r = np.asarray(oracle.residuals(params), dtype=float)
        jac = np.asarray(oracle.jacobian(params), dtype=float).reshape(len(r), len(params))
        jtj = jac.T @ jac
        g = jac.T @ r
        cost = float(r @ r)
        diag = np.diag(jtj)
        if self.scaling == "more":
            scale = np.maximum(scale, diag)
            d = scale
        elif self.scaling == "marquardt":
            d = diag
        else:
            d = np.ones_like(diag)
        # a parameter the residuals ignore has a zero column; any positive scale leaves it put
        d = np.where(d > 0, d, 1.0)
        zero = np.zeros_like(params)
        if not np.any(g) or not np.isfinite(cost):
            return zero, LMState(lam, scale, count + 1)
        for _ in range(self.max_tries):
            lower = _cholesky(jtj + lam * np.diag(d))
            if lower is not None:
                delta = _cho_solve(lower, -g)
                predicted = float(delta @ (lam * d * delta - g))
                if not predicted > 0:
                    # the linear model promises nothing: the residuals are already stationary
                    return zero, LMState(lam, scale, count + 1)
                r_new = np.asarray(oracle.residuals(params + delta), dtype=float)
                new_cost = float(r_new @ r_new)
                if new_cost < cost:
                    return delta, LMState(max(lam / self.decrease, _LAMBDA_MIN), scale, count + 1)
            lam = min(lam * self.increase, _LAMBDA_MAX)
        return zero, LMState(lam, scale, count + 1)


OPTIMIZERS = (Newton, LevenbergMarquardt)
