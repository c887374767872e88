"""Limited-memory BFGS with a strong-Wolfe (or backtracking) line search.

Hyperparameters follow torch.optim.LBFGS where they mean the same thing, but one ``update`` is
one L-BFGS iteration (torch's ``step`` runs up to ``max_iter`` of them): the direction comes from
the two-loop recursion over the stored ``(s, y)`` pairs, the line search picks the step length,
and the new pair is stored when its curvature ``y.s`` is positive.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .base import Optimizer

_EPS = float(np.finfo(float).eps)


class LBFGSState(NamedTuple):
    """``s``/``y``: stored steps and gradient changes, oldest first, rows ``[:size]`` valid;
    ``size``: pairs stored; ``count``: iterations taken; ``converged``: whether the last
    iteration met torch's stopping tests (see ``LBFGS``)."""

    s: np.ndarray
    y: np.ndarray
    size: int
    count: int
    converged: bool = False


class _Point(NamedTuple):
    t: float
    f: float
    slope: float
    grad: np.ndarray | None


def _cubic_min(a: _Point, b: _Point, lo: float, hi: float) -> float:
    """Minimiser in ``[lo, hi]`` of the cubic matching value and slope at ``a`` and ``b``."""
    mid = 0.5 * (lo + hi)
    values = (a.t, a.f, a.slope, b.t, b.f, b.slope)
    if a.t == b.t or not all(math.isfinite(v) for v in values):
        return mid
    d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.t - b.t)
    disc = d1 * d1 - a.slope * b.slope
    if disc < 0:
        return mid
    d2 = math.sqrt(disc)
    x1, g1, x2, g2 = (a.t, a.slope, b.t, b.slope) if a.t <= b.t else (b.t, b.slope, a.t, a.slope)
    denom = g2 - g1 + 2.0 * d2
    if denom == 0:
        return mid
    t = x2 - (x2 - x1) * (g2 + d2 - d1) / denom
    return min(max(t, lo), hi) if math.isfinite(t) else mid


def _two_loop(grad: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``-H grad`` for the L-BFGS inverse Hessian of the pairs, scaled by ``s.y / y.y``."""
    q = -grad
    if not len(s):
        return q
    rho = 1.0 / np.einsum("ij,ij->i", y, s)
    alpha = np.empty(len(s))
    for i in range(len(s) - 1, -1, -1):
        alpha[i] = rho[i] * (s[i] @ q)
        q = q - alpha[i] * y[i]
    r = q * (float(s[-1] @ y[-1]) / float(y[-1] @ y[-1]))
    for i in range(len(s)):
        beta = rho[i] * (y[i] @ r)
        r = r + s[i] * (alpha[i] - beta)
    return r


class LBFGS(Optimizer):
    """Limited-memory BFGS: quasi-Newton steps from the last ``history_size`` curvature pairs.

    The first iteration (and any after the memory is reset) tries ``lr * min(1, 1/|g|_1)``, as
    torch does; later ones try ``lr``. Every accepted step satisfies the Armijo condition, so the
    loss never increases; a line search that finds no such step returns a zero step.
    The run stops as converged on torch's tests: ``max |grad| <= tolerance_grad``, a step of at
    most ``tolerance_change`` (max abs), or a loss change of at most ``tolerance_change`` of the
    loss (relative, where torch's is absolute: a fit with a small loss would stop early).

    Parameters
    ----------
    lr : float
        Initial step length tried by the line search.
    history_size : int
        Number of (s, y) pairs kept (scipy's maxcor default; torch keeps 100).
    line_search : str
        "strong_wolfe" (Nocedal & Wright Alg. 3.5 with cubic interpolation) or "backtracking".
    tolerance_grad : float
        Converged (a zero step) when max |grad| is at most this.
    tolerance_change : float
        Converged when a step, or the relative loss change it brings, is at most this; also the narrowest
        line-search bracket, in parameter units.
    max_ls : int
        Largest number of loss evaluations in one line search.
    c1 : float
        Sufficient-decrease (Armijo) constant, in (0, c2).
    c2 : float
        Curvature constant of the strong Wolfe conditions, in (c1, 1).
    """

    name = "lbfgs"
    batch_size = None
    requires = frozenset({"loss"})
    supports_bounds = False
    default_epochs = 1000

    _LINE_SEARCHES = ("strong_wolfe", "backtracking")

    def __init__(
        self,
        lr: float = 1.0,
        history_size: int = 10,
        line_search: str = "strong_wolfe",
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        max_ls: int = 25,
        c1: float = 1e-4,
        c2: float = 0.9,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if int(history_size) != history_size or history_size < 1:
            raise ValueError(f"history_size must be an integer >= 1, got {history_size}")
        if line_search not in self._LINE_SEARCHES:
            raise ValueError(f"line_search must be one of {', '.join(self._LINE_SEARCHES)}; got {line_search!r}")
        if not tolerance_grad >= 0:
            raise ValueError(f"tolerance_grad must be >= 0, got {tolerance_grad}")
        if not tolerance_change >= 0:
            raise ValueError(f"tolerance_change must be >= 0, got {tolerance_change}")
        if int(max_ls) != max_ls or max_ls < 1:
            raise ValueError(f"max_ls must be an integer >= 1, got {max_ls}")
        if not 0 < c1 < c2 < 1:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        self.lr = lr
        self.history_size = int(history_size)
        self.line_search = line_search
        self.tolerance_grad = tolerance_grad
        self.tolerance_change = tolerance_change
        self.max_ls = int(max_ls)
        self.c1 = c1
        self.c2 = c2

    def init(self, params: np.ndarray) -> LBFGSState:
        shape = (self.history_size, np.size(params))
        return LBFGSState(s=np.zeros(shape), y=np.zeros(shape), size=0, count=0)

    def converged(self, state: LBFGSState) -> bool:
        return bool(state.converged)

    def update(self, grad, state, params, oracle=None):
        params = np.asarray(params, dtype=float)
        grad = np.asarray(grad, dtype=float)
        s_hist, y_hist, size, count = state[:4]
        zero = np.zeros_like(params)
        if not np.max(np.abs(grad), initial=0.0) > self.tolerance_grad:
            return zero, LBFGSState(s_hist, y_hist, size, count + 1, True)

        direction = _two_loop(grad, s_hist[:size], y_hist[:size])
        slope = float(grad @ direction)
        if not (np.isfinite(slope) and slope < 0):
            # stale pairs (e.g. from another batch) can spoil the direction: start the memory over
            size, direction, slope = 0, -grad, -float(grad @ grad)
        t0 = self.lr if size else self.lr * min(1.0, 1.0 / float(np.sum(np.abs(grad))))

        f0 = float(oracle.loss(params))

        def phi(t: float) -> _Point:
            x = params + t * direction
            f = float(oracle.loss(x))
            g = np.asarray(oracle.grad(x), dtype=float)
            return _Point(t, f, float(g @ direction), g)

        start = _Point(0.0, f0, slope, None)
        if self.line_search == "strong_wolfe":
            best = self._strong_wolfe(phi, start, t0, float(np.max(np.abs(direction))))
        else:
            best = self._backtracking(oracle, params, direction, start, t0)
            if best.t > 0:
                best = phi(best.t)
        if not best.t > 0:
            # no length along a descent direction lowers the loss: with the memory, start it over;
            # along the steepest descent itself, the loss is flat to rounding
            return zero, LBFGSState(s_hist, y_hist, 0, count + 1, size == 0)
        # relative, as MINPACK's ftol: torch's absolute test stops a fit of a small loss early
        flat = abs(f0 - best.f) <= self.tolerance_change * abs(f0)
        tiny = float(np.max(np.abs(best.t * direction))) <= self.tolerance_change

        step = best.t * direction
        dy = best.grad - grad
        ys = float(dy @ step)
        # scipy's test: skip pairs whose curvature is lost in rounding, which would break the
        # positive definiteness of the implicit inverse Hessian
        if ys > _EPS * float(dy @ dy):
            if size < self.history_size:
                s_hist, y_hist = s_hist.copy(), y_hist.copy()
                s_hist[size], y_hist[size] = step, dy
                size += 1
            else:
                s_hist = np.concatenate([s_hist[1:], step[None]])
                y_hist = np.concatenate([y_hist[1:], dy[None]])
        return step, LBFGSState(s_hist, y_hist, size, count + 1, flat or tiny)

    def _armijo(self, start: _Point, p: _Point) -> bool:
        return p.f <= start.f + self.c1 * p.t * start.slope

    def _backtracking(self, oracle, params, direction, start: _Point, t: float) -> _Point:
        for _ in range(self.max_ls):
            p = _Point(t, float(oracle.loss(params + t * direction)), math.nan, None)
            if self._armijo(start, p):
                return p
            t *= 0.5
        return start

    def _strong_wolfe(self, phi, start: _Point, t: float, dmax: float) -> _Point:
        """Nocedal & Wright Algorithm 3.5: bracket a strong-Wolfe step, then zoom in on it."""
        curvature = -self.c2 * start.slope
        prev, best = start, start
        for evals in range(1, self.max_ls + 1):
            cur = phi(t)
            if not self._armijo(start, cur) or (prev.t > 0 and cur.f >= prev.f):
                return self._zoom(phi, start, prev, cur, evals, dmax)
            best = cur
            if abs(cur.slope) <= curvature:
                return cur
            if cur.slope >= 0:
                return self._zoom(phi, start, cur, prev, evals, dmax)
            t_next = _cubic_min(prev, cur, t + 0.01 * (t - prev.t), 10.0 * t)
            prev, t = cur, t_next
        return best

    def _zoom(self, phi, start: _Point, lo: _Point, hi: _Point, evals: int, dmax: float) -> _Point:
        """Algorithm 3.6: ``lo`` is the best point so far that satisfies Armijo."""
        curvature = -self.c2 * start.slope
        while evals < self.max_ls and abs(hi.t - lo.t) * dmax >= self.tolerance_change:
            a, b = min(lo.t, hi.t), max(lo.t, hi.t)
            margin = 0.1 * (b - a)
            # stay off the ends so the bracket keeps shrinking
            t = min(max(_cubic_min(lo, hi, a, b), a + margin), b - margin)
            cur = phi(t)
            evals += 1
            if not self._armijo(start, cur) or cur.f >= lo.f:
                hi = cur
            else:
                if abs(cur.slope) <= curvature:
                    return cur
                if cur.slope * (hi.t - lo.t) >= 0:
                    hi = lo
                lo = cur
        return lo


OPTIMIZERS = (LBFGS,)
