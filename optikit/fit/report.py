"""The fit report: standard errors, confidence intervals, correlations and goodness of fit.

For a least-squares loss the covariance is ``s**2 (J^T J)^-1`` from the exact Jacobian of the
residuals, with ``s**2`` the residual sum of squares over the degrees of freedom, as
``scipy.optimize.curve_fit`` computes it (with ``sigma:`` and ``absolute: true``, ``(J^T J)^-1``
alone). For any other loss it is the inverse Hessian of the summed per-sample loss, the loss
read as a negative log-likelihood. Parameters at a bound are held there: they get no standard
error and the others are computed as if they were fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..backends import Problem
from ..engine import Result
from ..engine.bounds import at_bounds
from ..symbolic.problem import least_squares_form
from ..data import gather
from .diagnose import explain_singular, null_directions
from .predict import Bands, bands, model_gradient
from .stats import normal_quantile, t_quantile

__all__ = ["FitReport", "fit_report"]

#: Scaled eigenvalues below this (relative to the largest) count as zero: the matrix is singular.
SINGULAR_RTOL = 1e-12
#: Condition numbers (of the unit-diagonal information matrix) above this are reported as ill-conditioned.
ILL_CONDITIONED = 1e10


@dataclass(frozen=True)
class FitReport:
    """What a fit determined. ``stderr`` and ``values`` are dicts of name -> float; a standard error
    that does not exist is NaN and ``notes`` says why (a bound, a singular matrix, no data)."""

    name: str
    optimizer: str
    values: Mapping[str, float]
    stderr: Mapping[str, float]
    covariance: np.ndarray | None
    correlation: np.ndarray | None
    method: str
    n: int
    dof: int
    rss: float | None
    chisqr: float | None
    redchi: float | None
    r2: float | None
    aic: float | None
    bic: float | None
    stop_reason: str
    steps: int
    epochs: int
    elapsed: float
    at_bound: Mapping[str, str] = field(default_factory=dict)
    condition: float | None = None
    notes: tuple[str, ...] = ()
    #: quantiles of Student's t (least squares with estimated scale) or else of the normal
    t_based: bool = True
    #: the model's gradient by the parameters, compiled (None for an objective)
    gradient: Any = field(default=None, repr=False, compare=False)
    #: the noise variance of a new observation with unit sigma (None: unknown, a likelihood loss)
    noise_scale: float | None = field(default=None, repr=False)
    #: whether a new observation's noise needs its own sigma (a fit with ``sigma:``)
    weighted: bool = field(default=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values)

    @property
    def relerr(self) -> dict[str, float]:
        """Standard error over the absolute value, per parameter (inf for a value of zero)."""
        return {k: (self.stderr[k] / abs(v) if v != 0 else math.inf) for k, v in self.values.items()}

    def ci(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Two-sided confidence intervals ``value -/+ q * stderr`` at ``level`` (t with ``dof``
        degrees of freedom where the scale was estimated from the residuals, normal otherwise)."""
        q = self._quantile(level)
        return {k: (v - q * self.stderr[k], v + q * self.stderr[k]) for k, v in self.values.items()}

    def _quantile(self, level: float) -> float:
        return quantile(level, self.dof, self.t_based)

    def uncertainty(self) -> dict[str, Any] | None:
        """What predicting with uncertainty needs, as plain JSON-ready data (``optikit run --save``
        keeps it for ``optikit predict --uncertainty``); None for an objective."""
        if self.gradient is None or self.covariance is None:
            return None
        cov = self.covariance.copy()
        held = [i for i, name in enumerate(self.values) if name in self.at_bound]
        cov[held, :] = 0.0  # held at a bound: no spread; an undetermined parameter stays NaN
        cov[:, held] = 0.0
        return {"covariance": [[float(v) if math.isfinite(v) else None for v in row] for row in cov],
                "dof": self.dof, "t_based": self.t_based, "noise_scale": self.noise_scale, "weighted": self.weighted}

    def predict_uncertainty(self, inputs: Mapping[str, Any], level: float = 0.95, sigma: Any = None) -> Bands:
        """The model at ``inputs`` (column -> values) with its standard error by the delta method,
        and the confidence and prediction bands at ``level``. A fit weighted by ``sigma:`` needs the
        new observations' ``sigma`` for the prediction band."""
        state = self.uncertainty()
        if state is None:
            raise ValueError("an objective spec has no model to predict with")
        p = np.array(list(self.values.values()), dtype=float)
        return saved_bands(state, self.gradient, p, inputs, level, sigma)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """The report as JSON-ready data (NaN becomes ``null``)."""
        def num(x: Any) -> Any:
            return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x

        def matrix(m: np.ndarray | None) -> Any:
            return None if m is None else [[num(float(v)) for v in row] for row in m]

        ci = self.ci(level)
        return {
            "method": self.method,
            "parameters": {k: {"value": v, "stderr": num(self.stderr[k]), "relerr": num(self.relerr[k]),
                               "ci": [num(ci[k][0]), num(ci[k][1])], "at_bound": self.at_bound.get(k) or None}
                           for k, v in self.values.items()},
            "ci_level": level,
            "correlation": matrix(self.correlation),
            "covariance": matrix(self.covariance),
            "n": self.n, "dof": self.dof, "rss": num(self.rss), "chisqr": num(self.chisqr),
            "redchi": num(self.redchi), "r2": num(self.r2), "aic": num(self.aic), "bic": num(self.bic),
            "condition": num(self.condition), "stop_reason": self.stop_reason, "steps": self.steps,
            "epochs": self.epochs, "elapsed": self.elapsed, "notes": list(self.notes),
        }

    def __str__(self) -> str:
        from .text import format_report

        return format_report(self)


def quantile(level: float, dof: int, t_based: bool) -> float:
    """The two-sided quantile at ``level``: Student's t with ``dof`` where the scale was estimated
    from the residuals, the normal otherwise."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    p = 0.5 + 0.5 * float(level)
    return t_quantile(p, dof) if t_based and dof > 0 else normal_quantile(p)


def saved_bands(state: Mapping[str, Any], gradient: Any, params: np.ndarray, inputs: Mapping[str, Any],
                level: float = 0.95, sigma: Any = None) -> Bands:
    """:class:`Bands` from a report's :meth:`FitReport.uncertainty` (kept in a file, or not)."""
    weighted = bool(state["weighted"])
    if sigma is not None and not weighted:
        raise ValueError("sigma= is for a fit weighted by 'sigma:'; this one is not")
    noise = None
    if state["noise_scale"] is not None and (sigma is not None or not weighted):
        noise = state["noise_scale"] * (np.asarray(sigma, dtype=float) ** 2 if sigma is not None else 1.0)
    cov = np.array([[math.nan if v is None else v for v in row] for row in state["covariance"]], dtype=float)
    return bands(gradient, params, cov, inputs, quantile(level, int(state["dof"]), bool(state["t_based"])), noise, level)


def _target_and_model(problem: Problem, p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    spec = problem.spec
    if spec.model is None or problem.data is None:
        return None
    y = np.asarray(gather(problem.data, [spec.target])[spec.target], dtype=float)
    return y, np.asarray(problem.evaluator.per_row(p, ("model",))[0][0], dtype=float)


def fit_report(problem: Problem, result: Result) -> FitReport:
    """The :class:`FitReport` of ``result``, a run of ``problem`` (what ``Result.report()`` returns)."""
    spec, sym = problem.spec, problem.symbolic
    names = problem.parameter_names
    p = np.array([result.parameters[n] for n in names], dtype=float)
    k, n = len(p), problem.n_rows
    bounds = dict(zip(names, at_bounds(p, problem.lower, problem.upper)))
    free = [i for i, n_ in enumerate(names) if not bounds[n_]]
    notes = [f"{n_!r} is at its {side} bound: held there, no standard error" for n_, side in bounds.items() if side]
    base = dict(name=result.name, optimizer=result.optimizer, values=dict(zip(names, p.tolist())),
                stop_reason=result.stop_reason, steps=result.steps, epochs=result.epochs, elapsed=result.elapsed,
                at_bound={k_: v for k_, v in bounds.items() if v})
    nan = dict.fromkeys(names, math.nan)
    if spec.model is None:
        notes.append("an objective has no data: the fit has no standard errors or goodness of fit")
        return FitReport(**base, stderr=nan, covariance=None, correlation=None, method="objective (no data)",
                         n=0, dof=0, rss=None, chisqr=None, redchi=None, r2=None, aic=None, bic=None, notes=tuple(notes))
    dof = n - len(free)
    pair = _target_and_model(problem, p)
    least_squares = sym.is_least_squares
    if least_squares:
        scale = _residual_scale(sym)
        r = np.asarray(problem.residuals(p), dtype=float) / scale
        jac = np.asarray(problem.jacobian(p), dtype=float).reshape(n, k) / scale
        chisqr = float(r @ r)
        info = jac.T @ jac
        absolute = spec.sigma is not None and spec.absolute_sigma
        s2 = 1.0 if absolute else (chisqr / dof if dof > 0 else math.nan)
        method = ("least squares: (J^T J)^-1 (absolute sigma)" if absolute else
                  "least squares: s^2 (J^T J)^-1, s^2 = chi-square / dof" if spec.sigma else
                  "least squares: s^2 (J^T J)^-1, s^2 = RSS / dof")
        aic = n * math.log(chisqr / n) + 2 * k if chisqr > 0 else -math.inf
        bic = n * math.log(chisqr / n) + math.log(n) * k if chisqr > 0 else -math.inf
        zero_cols = [i for i in range(k) if not np.any(jac[:, i])]
        expr = sym.residual_expr
    else:
        total = n * float(problem.loss(p))
        info = n * np.asarray(problem.hessian(p), dtype=float)
        chisqr, s2, absolute = None, 1.0, True
        method = "likelihood: the inverse Hessian of the summed loss (the loss as a negative log-likelihood)"
        aic, bic = 2 * total + 2 * k, 2 * total + math.log(n) * k
        per_row = np.asarray(problem.per_sample(p)[1], dtype=float).reshape(k, -1)
        zero_cols = [i for i in range(k) if not np.any(per_row[i]) and not np.any(info[i])]
        expr = sym.loss_expr
    cov, condition = _covariance(info, free, s2, names, sym, expr, zero_cols, notes)
    if dof <= 0:
        notes.append(f"no degrees of freedom ({n} rows for {len(free)} free parameters): no standard errors")
        cov = np.full((k, k), math.nan)
    stderr = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(stderr, stderr)
    rss = r2 = None
    if pair is not None:
        y, model = pair
        w = 1.0 / np.asarray(gather(problem.data, [spec.sigma])[spec.sigma], dtype=float) ** 2 if spec.sigma else np.ones_like(y)
        rss = float(np.sum((model - y) ** 2))
        ybar = float(np.sum(w * y) / np.sum(w))
        tss = float(np.sum(w * (y - ybar) ** 2))
        r2 = 1.0 - float(np.sum(w * (model - y) ** 2)) / tss if tss > 0 else None
    redchi = chisqr / dof if chisqr is not None and dof > 0 else None
    noise = (1.0 if absolute else s2) if least_squares else None
    return FitReport(**base, stderr=dict(zip(names, stderr.tolist())), covariance=cov, correlation=corr,
                     method=method, n=n, dof=dof, rss=rss, chisqr=chisqr, redchi=redchi, r2=r2, aic=aic, bic=bic,
                     condition=condition, notes=tuple(notes), t_based=not absolute, gradient=model_gradient(sym),
                     noise_scale=noise, weighted=spec.sigma is not None)


def _residual_scale(sym) -> float:
    """``sqrt(c)`` of a per-sample loss ``c * r**2``: the residuals the report uses are ``r``."""
    return math.sqrt(float(least_squares_form(sym.loss_expr)[0]))


def _covariance(info, free, s2, names, sym, expr, zero_cols, notes) -> tuple[np.ndarray, float | None]:
    """``s2 * inverse(info)`` over the ``free`` parameters (NaN elsewhere), with notes on singularity."""
    k = len(names)
    cov = np.full((k, k), math.nan)
    if not free:
        return cov, None
    sub = info[np.ix_(free, free)]
    if not np.all(np.isfinite(sub)):
        notes.append("the information matrix is not finite at the fitted values: no standard errors")
        return cov, None
    nulls = null_directions(sub, SINGULAR_RTOL)
    d = np.sqrt(np.abs(np.diag(sub)))
    safe = np.where(d > 0, d, 1.0)
    eig = np.linalg.eigvalsh(sub / np.outer(safe, safe))
    condition = float(eig[-1] / eig[0]) if eig[0] > 0 else math.inf
    if nulls:
        involved = sorted({free[i] for v in nulls for i in np.flatnonzero(np.abs(v) > 0.1)})
        # the symbolic reading needs a symbol per parameter; a vector's stands for all its elements
        reasons = explain_singular(expr if sym.vectors is None else None, sym.params, names, involved, zero_cols)
        notes.append("the information matrix is singular: " + "; ".join(reasons) +
                     f". No standard error for {', '.join(repr(names[i]) for i in involved)}")
        inv = np.linalg.pinv(sub / np.outer(safe, safe), rcond=SINGULAR_RTOL) / np.outer(safe, safe)
        bad = set(involved)
    else:
        inv = np.linalg.inv(sub / np.outer(safe, safe)) / np.outer(safe, safe)
        bad = set()
        if condition > ILL_CONDITIONED:
            notes.append(f"the information matrix is ill-conditioned (condition number {condition:.3g}): "
                         "the standard errors and correlations are uncertain in their leading digits")
    for a, i in enumerate(free):
        for b, j in enumerate(free):
            if i not in bad and j not in bad:
                cov[i, j] = s2 * inv[a, b]
    return cov, condition
