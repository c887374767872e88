"""Levenberg-Marquardt on the residuals of a least-squares loss, with MINPACK's convergence tests.

Each update solves ``(J^T J + lambda * D) v = -J^T r`` and accepts a step when it lowers
``sum(r**2)``; a rejected trial raises ``lambda`` and is retried within the same update. The
tests for convergence are those of MINPACK's ``lmder`` (Moré, Garbow and Hillstrom, 1980), with
tolerances of 1e-12. The defaults were measured on the NIST StRD suite (benchmarks/bench_nist.py,
docs/fitting.md): tolerances of 1e-12 solve more problems to more digits than scipy's 1e-8 at no
measurable cost, Nielsen's damping update more than the multiplicative one, and geodesic
acceleration (Transtrum and Sethna 2012), a floor on lambda relative to the scale and a cap of
5000 updates solve every problem from both starts, where the method without them misses two.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .base import Optimizer, check_flag
from .linalg import check_tol, cho_solve, cholesky, small_step

# Keep lambda where ``A + lambda * D`` stays representable and informative: below the floor it
# is Gauss-Newton to machine precision, above the ceiling every step is numerically zero. The
# floor is relative to diag(J^T J) / D: MINPACK's D keeps the largest scale seen, which can
# exceed the current diag(J^T J) by many orders after a far-off start, and a fixed floor would
# then damp that direction for good.
_LAMBDA_MIN = 1e-15
_LAMBDA_MAX = 1e15
_LAMBDA_TINY = 1e-300


class LMState(NamedTuple):
    """``lambda_``: current damping; ``scale``: diagonal scaling (Moré's running maximum);
    ``count``: updates taken; ``nu``: Nielsen's growth factor for the next rejection;
    ``converged``: whether the last update met ftol, xtol or cosine_tol."""

    lambda_: float
    scale: np.ndarray
    count: int
    nu: float = 2.0
    converged: bool = False


class LevenbergMarquardt(Optimizer):
    """Levenberg-Marquardt on the residuals of a least-squares loss, with geodesic acceleration.

    ``D`` is ``diag(J^T J)`` (``"marquardt"``), its running maximum over the updates (``"more"``,
    Moré 1978, as MINPACK) or the identity (``"levenberg"``). ``damping="multiply"`` divides
    ``lambda`` by ``decrease`` after an accepted step and multiplies it by ``increase`` after a
    rejected one; ``damping="nielsen"`` (Nielsen 1999, Madsen-Nielsen-Tingleff §3.2) scales it by
    ``max(1/3, 1 - (2 rho - 1)**3)`` with ``rho`` the ratio of actual to predicted reduction, and
    by 2, 4, 8, ... after rejections.

    With ``acceleration`` (Transtrum and Sethna 2012; GSL's ``lmaccel``) a trial step is
    ``v + a/2``: ``v`` is the step above and ``a`` solves the same damped system with the second
    directional derivative of the residuals along ``v`` in place of ``r`` (a forward difference
    of step ``fvv_step`` against the exact Jacobian: one more evaluation of the residuals per
    trial). A trial whose ``|a|/|v|`` (both in the metric ``D``) exceeds ``avmax`` is rejected
    like one that does not lower ``sum(r**2)``, which keeps the fit from leaping to where the
    linear model no longer holds. ``acceleration=False`` takes the plain damped steps ``v``.

    The run stops as converged when the reduction of ``sum(r**2)``, actual and predicted, is at
    most ``ftol`` of it, when the scaled step is at most ``xtol`` of the scaled parameters, or
    when the cosine between the residuals and every Jacobian column is at most ``cosine_tol``
    (MINPACK's and scipy's ``gtol``; in a spec ``gtol`` is the run setting on the raw gradient).

    Parameters
    ----------
    lambda_ : float
        Initial damping.
    increase : float
        Factor lambda is multiplied by after a rejected trial (> 1), with damping "multiply".
    decrease : float
        Factor lambda is divided by after an accepted step (>= 1), with damping "multiply".
    max_tries : int
        Largest number of trial steps in one update.
    scaling : str
        Damping matrix: "marquardt", "more" or "levenberg".
    damping : str
        How lambda changes between trials: "multiply" or "nielsen".
    ftol : float
        Relative reduction of the sum of squares below which the fit has converged (0: off).
    xtol : float
        Relative (scaled) step below which the fit has converged (0: off).
    cosine_tol : float
        Largest cosine between the residuals and a Jacobian column at convergence (0: off).
    acceleration : bool
        Add the geodesic acceleration to each trial and reject trials where it is large.
    avmax : float
        Largest ratio |a|/|v| of acceleration to velocity in an accepted trial (> 0).
    fvv_step : float
        Step along the velocity of the finite difference for the acceleration (> 0).
    """

    name = "levenberg-marquardt"
    batch_size = None
    requires = frozenset({"residuals", "loss"})
    supports_bounds = False
    default_epochs = 5000

    _SCALINGS = ("marquardt", "more", "levenberg")
    _DAMPINGS = ("multiply", "nielsen")

    def __init__(
        self,
        lambda_: float = 1e-3,
        increase: float = 10.0,
        decrease: float = 10.0,
        max_tries: int = 10,
        scaling: str = "more",
        damping: str = "nielsen",
        ftol: float = 1e-12,
        xtol: float = 1e-12,
        cosine_tol: float = 1e-12,
        acceleration: bool = True,
        avmax: float = 0.75,
        fvv_step: float = 0.02,
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
        if damping not in self._DAMPINGS:
            raise ValueError(f"damping must be one of {', '.join(self._DAMPINGS)}; got {damping!r}")
        self.lambda_ = lambda_
        self.increase = increase
        self.decrease = decrease
        self.max_tries = int(max_tries)
        self.scaling = scaling
        self.damping = damping
        self.ftol = check_tol("ftol", ftol)
        self.xtol = check_tol("xtol", xtol)
        self.cosine_tol = check_tol("cosine_tol", cosine_tol)
        self.acceleration = check_flag("acceleration", acceleration)
        for name, value in (("avmax", avmax), ("fvv_step", fvv_step)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        self.avmax, self.fvv_step = float(avmax), float(fvv_step)

    def init(self, params: np.ndarray) -> LMState:
        return LMState(lambda_=float(self.lambda_), scale=np.zeros(np.shape(params)), count=0)

    def converged(self, state: LMState) -> bool:
        return bool(state.converged)

    def _scale(self, diag: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.scaling == "more":
            scale = np.maximum(scale, diag)
            d = scale
        elif self.scaling == "marquardt":
            d = diag
        else:
            d = np.ones_like(diag)
        # a parameter the residuals ignore has a zero column; any positive scale leaves it put
        return np.where(d > 0, d, 1.0), scale

    def update(self, grad, state, params, oracle=None):
        params = np.asarray(params, dtype=float)
        lam, scale, count, nu = state.lambda_, state.scale, state.count, state.nu
        normal = getattr(oracle, "gauss_newton", None)
        if normal is not None:  # JᵀJ, Jᵀr and Σr² summed where the rows are (a cluster's workers)
            jtj, g, cost = normal(params)
            jtj, g, cost = np.asarray(jtj, dtype=float), np.asarray(g, dtype=float), float(cost)
        else:
            r = np.asarray(oracle.residuals(params), dtype=float)
            jac = np.asarray(oracle.jacobian(params), dtype=float).reshape(len(r), len(params))
            jtj = jac.T @ jac
            g = jac.T @ r
            cost = float(r @ r)
        d, scale = self._scale(np.diag(jtj), scale)
        zero = np.zeros_like(params)

        def done(step: np.ndarray, converged: bool, lam: float, nu: float) -> tuple[np.ndarray, LMState]:
            return step, LMState(lam, scale, count + 1, nu, converged)

        if not np.isfinite(cost):
            return done(zero, False, lam, nu)
        norms = np.sqrt(np.diag(jtj))
        with np.errstate(divide="ignore", invalid="ignore"):
            cosines = np.where(norms > 0, np.abs(g) / (norms * np.sqrt(cost)), 0.0)
        if cost == 0.0 or float(np.max(cosines, initial=0.0)) <= self.cosine_tol:
            return done(zero, True, lam, nu)
        root_d = np.sqrt(d)
        ratios = np.diag(jtj)[np.diag(jtj) > 0] / d[np.diag(jtj) > 0]
        lam_min = max(_LAMBDA_MIN * float(np.min(ratios, initial=1.0)), _LAMBDA_TINY)
        for _ in range(self.max_tries):
            lower = cholesky(jtj + lam * np.diag(d))
            if lower is not None:
                delta = cho_solve(lower, -g)
                predicted = float(delta @ (lam * d * delta - g))
                if not predicted > 0:
                    # the linear model promises nothing: the residuals are already stationary
                    return done(zero, True, lam, nu)
                tiny = small_step(delta, params, self.xtol, root_d)
                bent = False
                # rows elsewhere (a cluster) give Jᵀ r_vv summed where they are; without it, plain steps
                curved = normal is None or hasattr(oracle, "geodesic")
                # near a solution (a step or a promised reduction within the tolerances) the finite
                # difference is rounding noise, which would only move the answer by its own size
                settled = tiny or predicted <= self.ftol * cost
                if self.acceleration and not settled and curved:
                    acc = self._acceleration(oracle, params, delta, None if normal is not None else (r, jac), lower)
                    ratio = float(np.linalg.norm(root_d * acc)) / float(np.linalg.norm(root_d * delta))
                    bent = not ratio <= self.avmax  # a NaN ratio (residuals not finite there) too
                    delta = delta + 0.5 * acc
                new_cost = cost if bent else _cost(oracle, params + delta)
                if new_cost < cost:
                    actual = cost - new_cost
                    flat = actual <= self.ftol * cost and predicted <= self.ftol * cost
                    if self.damping == "nielsen":
                        rho = actual / predicted
                        lam, nu = lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 2.0
                    else:
                        lam = lam / self.decrease
                    return done(delta, flat or tiny, max(lam, lam_min), nu)
                if tiny:  # the trials have shrunk below xtol without a decrease: nothing left to gain
                    return done(zero, True, lam, nu)
            if self.damping == "nielsen":
                lam, nu = lam * nu, 2.0 * nu
            else:
                lam = lam * self.increase
            lam = min(lam, _LAMBDA_MAX)
        return done(zero, False, lam, nu)

    def _acceleration(self, oracle, params, v, local, lower) -> np.ndarray:
        """The geodesic acceleration along ``v``: ``(J^T J + lambda D) a = -J^T r_vv`` with the
        second directional derivative ``r_vv ~ (2/h) ((r(p + h v) - r(p)) / h - J v)``
        (Transtrum and Sethna 2012, eq. 19; ``lower`` is the Cholesky factor of the system);
        ``local``: the residuals and Jacobian at ``params``, or None to ask the oracle for ``J^T r_vv``."""
        h = self.fvv_step
        if local is None:
            return cho_solve(lower, -np.asarray(oracle.geodesic(params, v, h), dtype=float))
        r, jac = local
        r_vv = (2.0 / h) * ((_residuals(oracle, params + h * v) - r) / h - jac @ v)
        return cho_solve(lower, -(jac.T @ r_vv))


def _residuals(oracle, params: np.ndarray) -> np.ndarray:
    return np.asarray(oracle.residuals(params), dtype=float)


def _cost(oracle, params: np.ndarray) -> float:
    """``Σr²`` at ``params`` (inf or NaN where the residuals are not finite: never a decrease): from
    the oracle when it sums it where the rows are, else from the residuals."""
    summed = getattr(oracle, "residual_cost", None)
    if summed is not None:
        return float(summed(params))
    r = _residuals(oracle, params)
    return float(r @ r)
