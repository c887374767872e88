"""Second-order optimizers: damped Newton and Levenberg-Marquardt.

``newton`` solves with the exact Hessian, shifted towards the identity until it is positive
definite (Nocedal & Wright, *Numerical Optimization*, Algorithm 3.3), then backtracks along the
direction until the Armijo condition holds, so the loss never increases. ``levenberg-marquardt``
works on the residuals of a least-squares loss and needs only their Jacobian (it lives in
``levenberg.py`` and is re-exported here).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import Optimizer
from .levenberg import LevenbergMarquardt
from .linalg import check_tol, cho_solve, cholesky, small_step

# Doublings of the identity shift before the Hessian is given up on (2**60 * shift).
_MAX_SHIFTS = 60


class NewtonState(NamedTuple):
    """``damping``: multiple of the identity added to the last Hessian; ``count``: steps taken;
    ``converged``: whether the last update met ftol or xtol, or found a zero gradient."""

    damping: float
    count: int
    converged: bool = False


class Newton(Optimizer):
    """Newton's method with a positive-definite Hessian shift and an Armijo line search.

    If ``H + damping*I`` has no Cholesky factor, the shift grows (starting from
    ``-min(diag H) + shift`` when the diagonal is not positive, then doubling) until it has one.
    The step ``-(H + tau*I)^-1 g`` is then shortened by ``backtrack`` until the loss decreases
    by at least ``c1 * t * g.d``; if it never does, the step is zero.

    The run stops as converged when the gradient is zero, when an accepted step lowers the loss
    by at most ``ftol`` of it (and the quadratic model predicts no more), or when a step
    (accepted, or the last one the line search tried) is at most ``xtol`` of the parameters:
    MINPACK's relative tests. The run setting ``gtol`` adds a test on the gradient.

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
    ftol : float
        Relative loss reduction below which the run has converged (0: off).
    xtol : float
        Relative step length below which the run has converged (0: off).
    """

    name = "newton"
    batch_size = None
    requires = frozenset({"hessian", "loss"})
    supports_bounds = False
    default_epochs = 1000

    def __init__(
        self,
        lr: float = 1.0,
        c1: float = 1e-4,
        backtrack: float = 0.5,
        max_backtracks: int = 40,
        damping: float = 0.0,
        shift: float = 1e-3,
        ftol: float = 1e-10,
        xtol: float = 1e-10,
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
        self.ftol = check_tol("ftol", ftol)
        self.xtol = check_tol("xtol", xtol)

    def init(self, params: np.ndarray) -> NewtonState:
        return NewtonState(damping=float(self.damping), count=0)

    def converged(self, state: NewtonState) -> bool:
        return bool(state.converged)

    def _direction(self, hess: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, float]:
        """Algorithm 3.3: the Newton direction of ``hess + tau*I`` for the first PD shift."""
        if not np.all(np.isfinite(hess)):
            return -grad, float("inf")
        hess = 0.5 * (hess + hess.T)
        eye = np.eye(len(grad))
        min_diag = float(np.min(np.diag(hess))) if len(grad) else 1.0
        tau = self.damping if min_diag > 0 else max(self.damping, -min_diag + self.shift)
        for _ in range(_MAX_SHIFTS):
            lower = cholesky(hess + tau * eye)
            if lower is not None:
                return cho_solve(lower, -grad), float(tau)
            tau = max(2.0 * tau, self.shift)
        return -grad, float("inf")

    def update(self, grad, state, params, oracle=None):
        grad = np.asarray(grad, dtype=float)
        params = np.asarray(params, dtype=float)
        zero = np.zeros_like(params)
        if not np.any(grad):
            return zero, NewtonState(state.damping, state.count + 1, True)
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
                # MINPACK's pair: the actual and the predicted (Newton decrement) reduction are both small
                flat = f0 - f <= self.ftol * abs(f0) and -0.5 * slope <= self.ftol * abs(f0)
                tiny = small_step(t * direction, params, self.xtol)
                return t * direction, NewtonState(tau, state.count + 1, flat or tiny)
            t *= self.backtrack
        # no decrease along the direction: converged if the last trial was already below xtol
        t /= self.backtrack
        return zero, NewtonState(tau, state.count + 1, small_step(t * direction, params, self.xtol))


OPTIMIZERS = (Newton, LevenbergMarquardt)
