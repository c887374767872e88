"""Gradient checks: SymPy's gradient against central finite differences and hand-written gradients.

Every parameter is checked at every check point, on every data row and on the batch mean.
Finite differences are central, in float64, with a step ``eps * max(1, |p|)``. A value pair
agrees when ``|got - reference| <= atol + rtol * |reference|``, the rule of
``torch.autograd.gradcheck``, whose defaults (``eps=1e-6, atol=1e-5, rtol=1e-3``) are ours.
A point where the loss is not finite, or where the finite-difference stencil straddles a kink of
``abs``/``max``/``min``/``relu``/``sign`` or a ``Piecewise`` boundary, is skipped and reported.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import sympy

from .report import (DIFFERS, DIFFERS_WITHIN_TOLERANCE, FD_MISMATCH, OK, UNCHECKED, CheckReport, Comparison,
                     ParameterReport)
from .equivalence import DIFFERS as SYMBOLIC_DIFFERS, UNDECIDED, compare
from ..errors import SpecError
from .finitediff import Means, Numeric, check_points, crosses, kinks, mean
from ..backends import DEFAULT_BACKEND, Data, Problem, compile_problem, find_backend
from ..plugins import OptikitPluginManager, Registry, plugin_manager
from ..expr.special import vsum
from ..spec import Spec, load_spec

__all__ = ["check", "check_problem", "check_callable",
           "DEFAULT_EPS", "DEFAULT_ATOL", "DEFAULT_RTOL"]

DEFAULT_EPS = 1e-6
DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-3


Hand = Callable[[np.ndarray], tuple[np.ndarray | None, np.ndarray]]  # params -> (per-row (k, n) or None, mean (k,))


def _run(problem: Problem, hand: Hand | None, hand_label: str, points: list[np.ndarray], *, atol: float,
         rtol: float, eps: float, hessian: bool, reports: list[ParameterReport]) -> None:
    spec = problem.spec
    names = spec.parameter_names
    derived = problem.derived_grad_exprs
    groups = {"kinks": _kinks(problem)}
    if hessian and problem.symbolic.vectors is not None:
        raise SpecError("--hessian checks second derivatives written out per pair of parameters; a problem with "
                        "vectors does not write them out", field="--hessian")
    if hessian:
        groups["derived_hessian"] = [sympy.diff(g, q) for g in derived for q in problem.params]
    problem = problem.with_parts(**groups)
    loss, grad, kink = Numeric(problem, "loss"), Numeric(problem, "derived"), Numeric(problem, "kinks")
    hess = Numeric(problem, "derived_hessian") if hessian else None
    means = Means(problem.with_gradient(derived))  # batch means as the run's backend sums them
    k = len(names)
    for rep in reports:
        rep.comparisons.append(Comparison("derived vs finite differences", "derived", "finite differences"))
        if hand is not None:
            rep.comparisons.append(Comparison(f"{hand_label} vs derived", hand_label, "derived"))
            rep.comparisons.append(Comparison(f"{hand_label} vs finite differences", hand_label, "finite differences"))
        if hess is not None:
            rep.comparisons.extend(Comparison(f"hessian d2/d{rep.name} d{b} vs finite differences",
                                              "hessian", "finite differences") for b in names)
    for p in points:
        where = {n: float(v) for n, v in zip(names, p)}
        shown = ", ".join(f"{n}={v:.6g}" for n, v in where.items())
        g0, g0_mean = grad(p), means.grad(p)
        hand_rows, hand_mean = hand(p) if hand is not None else (None, None)
        h0 = hess(p).reshape(k, k, -1) if hess is not None else None
        h0_mean = means.hessian(p) if hess is not None else None
        l0 = loss(p)[0]
        kink0 = kink(p) if kink.size else None
        for i, rep in enumerate(reports):
            step = eps * max(1.0, abs(p[i]))
            up, down = p.copy(), p.copy()
            up[i] += step
            down[i] -= step
            lp, lm = loss(up)[0], loss(down)[0]
            with np.errstate(all="ignore"):
                fd_rows = (lp - lm) / (2 * step)
                fd_mean = (means.loss(up) - means.loss(down)) / (2 * step)
            reasons: list[str | None] = [None] * loss.n
            kv = [kink(down), kink0, kink(up)] if kink0 is not None else None
            # the rows to explain are few; a check over many parameters and rows must not format every one
            finite = np.isfinite(lp) & np.isfinite(l0) & np.isfinite(lm)
            for r in np.flatnonzero(~finite | ~np.isfinite(g0[i]) | (kv is not None)).tolist():
                at = f"{shown}" + (f", row {r}" if problem.source is not None else "")
                if not finite[r]:
                    reasons[r] = f"loss not finite at {at}"
                elif kv is not None and crosses(kv[0][:, r], kv[1][:, r], kv[2][:, r]):
                    reasons[r] = f"loss not differentiable (kink within the step) at {at}"
                elif not np.isfinite(g0[i, r]):
                    reasons[r] = f"derived gradient not finite at {at}"
            mean_reason = next((f"batch mean: {x}" for x in reasons if x), None)
            _compare_rows(rep.comparisons[0], g0[i], fd_rows, g0_mean[i], fd_mean, reasons, mean_reason,
                          atol, rtol, where)
            if hand is not None:
                hr = hand_rows[i] if hand_rows is not None else None
                for c, ref_rows, ref_mean in ((rep.comparisons[1], g0[i], g0_mean[i]),
                                              (rep.comparisons[2], fd_rows, fd_mean)):
                    _compare_rows(c, hr, ref_rows, hand_mean[i], ref_mean, reasons, mean_reason, atol, rtol, where)
            if h0 is not None:
                gu, gd = grad(up), grad(down)
                with np.errstate(all="ignore"):
                    fdh = (gu - gd) / (2 * step)
                    fdh_mean = (means.grad(up) - means.grad(down)) / (2 * step)
                base = 3 if hand is not None else 1
                for j in range(k):
                    _compare_rows(rep.comparisons[base + j], h0[i, j], fdh[j], h0_mean[i, j], fdh_mean[j],
                                  reasons, mean_reason, atol, rtol, where)


def _compare_rows(c: Comparison, got_rows: np.ndarray | None, ref_rows: np.ndarray, got_mean: float,
                  ref_mean: float, reasons: list[str | None], mean_reason: str | None, atol: float, rtol: float,
                  where: dict[str, float]) -> None:
    if got_rows is not None:
        for r, reason in enumerate(reasons):
            if reason is None and not (np.isfinite(got_rows[r]) and np.isfinite(ref_rows[r])):
                reason = f"{c.got} or {c.reference} not finite at " + ", ".join(f"{n}={v:.6g}" for n, v in where.items())
            if reason:
                c.skip(reason)
            else:
                c.add(float(got_rows[r]), float(ref_rows[r]), atol, rtol, where, r)
    if mean_reason or not (np.isfinite(got_mean) and np.isfinite(ref_mean)):
        c.skip(mean_reason or f"batch mean: {c.got} or {c.reference} not finite")
    else:
        c.add(float(got_mean), float(ref_mean), atol, rtol, where, "mean")


def _shown(number: sympy.Expr) -> str:
    """A constant as a person reads it: ``1/2`` stays exact, a float loses SymPy's padding."""
    return sympy.sstr(number) if number.is_Rational else f"{float(number):.6g}"


def _columns(problem: Problem) -> dict[str, np.ndarray]:
    """The data columns the spec knows of, as arrays (none for an objective)."""
    if problem.source is None:
        return {}
    data = problem.source.take(None)
    return {c: np.asarray(v) for c, v in data.items() if c in problem.spec.symbols}


def _samples(problem: Problem, points: list[np.ndarray]) -> list[dict[sympy.Symbol, Any]]:
    spec = problem.spec
    cols = {spec.symbols[c]: v for c, v in _columns(problem).items()}
    return [{**cols, **{spec.symbols[n]: float(v) for n, v in zip(spec.parameter_names, p)}} for p in points]


def _verdicts(reports: list[ParameterReport]) -> None:
    for rep in reports:
        hand = rep.comparisons[1:3] if rep.hand is not None else []
        if any(not c.agree for c in hand):
            rep.verdict = DIFFERS
        elif rep.equivalence == SYMBOLIC_DIFFERS:
            rep.verdict = DIFFERS_WITHIN_TOLERANCE if any(c.compared for c in hand) else DIFFERS
        elif not all(c.agree for c in rep.comparisons):
            rep.verdict = FD_MISMATCH
        elif not any(c.compared for c in rep.comparisons):
            rep.verdict = UNCHECKED
        else:
            rep.verdict = OK


def check_problem(problem: Problem, *, points: Sequence[Mapping[str, float]] | None = None,
                  atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, eps: float = DEFAULT_EPS,
                  hessian: bool = False, seed: int = 0) -> CheckReport:
    """Check a compiled problem's derived gradient (and its spec's hand-written one) numerically."""
    spec = problem.spec
    names = spec.parameter_names
    derived = problem.derived_grad_exprs
    pts = check_points(spec, points, seed)
    hand_exprs: dict[str, sympy.Expr] = dict(spec.gradient or {})
    hand_text: dict[str, str] = dict(spec.gradient_text or {})
    if spec.check is not None:
        hand_exprs.update(spec.check.gradient)
        hand_text.update(spec.check.gradient_text)
    derived = _flat(spec, derived)
    reports = [ParameterReport(n, sympy.sstr(g)) for n, g in zip(names, derived)]
    hand = None
    if hand_exprs:
        samples = _samples(problem, pts)
        for rep, g in zip(reports, derived):
            if rep.name in hand_exprs:
                rep.hand = hand_text.get(rep.name, sympy.sstr(hand_exprs[rep.name]))
                eq = compare(g, hand_exprs[rep.name], samples, written=rep.hand)
                rep.equivalence = eq.verdict
                rep.difference = sympy.sstr(eq.difference) if eq.difference is not None else None
                rep.factor = _shown(eq.factor) if eq.factor is not None else None
        present = [i for i, n in enumerate(names) if n in hand_exprs]
        numeric = Numeric(problem.with_parts(hand=[hand_exprs[names[i]] for i in present]), "hand")
        # the batch mean of the hand gradient as the backend sums a training gradient
        hand_means = Means(problem.with_gradient(tuple(hand_exprs.get(n, g) for n, g in zip(names, derived))))

        def hand(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rows = np.full((len(names), numeric.n), np.nan)
            rows[present] = numeric(p)
            means = np.full(len(names), np.nan)
            means[present] = hand_means.grad(p)[present]
            return rows, means

    _run(problem, hand, "hand", pts, atol=atol, rtol=rtol, eps=eps, hessian=hessian, reports=reports)
    for rep in reports:
        if rep.hand is None and hand is not None:
            del rep.comparisons[1:3]  # this parameter has no hand gradient
    _verdicts(reports)
    return CheckReport(spec.name, atol, rtol, eps, [{n: float(v) for n, v in zip(names, p)} for p in pts],
                       problem.n_rows, reports, str(spec.path) if spec.path else None)


def check(spec_or_path: Spec | str | Path, *, points: Sequence[Mapping[str, float]] | None = None,
          atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, eps: float = DEFAULT_EPS,
          hessian: bool = False, seed: int = 0, plugins: Iterable[str] = (), pm: OptikitPluginManager | None = None,
          data: Data | None = None,
          backend: str = DEFAULT_BACKEND) -> CheckReport:
    """Check a spec's gradients: derived vs finite differences vs hand-written (``check.gradient``,
    else ``gradient``), per parameter, at every check point and data row; ``hessian`` adds the
    second derivatives. ``report.ok``, ``report["w"].verdict``, ``str(report)``, ``report.to_dict()``.
    ``data`` and ``backend`` as for :func:`optikit.run`: the numbers come from the same evaluator."""
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load_spec(spec_or_path)
    problem = _compile(spec, pm or plugin_manager(plugins), data, backend)
    return check_problem(problem, points=points, atol=atol, rtol=rtol, eps=eps, hessian=hessian, seed=seed)


def check_callable(spec_or_path: Spec | str | Path, fn: Callable[[dict, dict], Any], *,
                   points: Sequence[Mapping[str, float]] | None = None, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL, eps: float = DEFAULT_EPS, seed: int = 0,
                   plugins: Iterable[str] = (), pm: OptikitPluginManager | None = None, data: Data | None = None,
                   backend: str = DEFAULT_BACKEND) -> CheckReport:
    """Check a Python gradient ``fn(params, data)`` against the spec's derived gradient.

    ``params`` maps parameter names to floats, ``data`` column names to arrays. ``fn`` returns
    the gradient as a dict (name -> value) or a sequence in parameter order; each value is
    either the batch mean or an array with one entry per data row.
    """
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load_spec(spec_or_path)
    spec = _without_hand(spec)
    problem = _compile(spec, pm or plugin_manager(plugins), data, backend)
    names, n = spec.parameter_names, problem.n_rows
    data = _columns(problem)

    def hand(p: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        out = fn({k: float(v) for k, v in zip(names, p)}, {c: v.copy() for c, v in data.items()})
        values = [out[k] for k in names] if isinstance(out, Mapping) else list(out)
        arrays = [np.asarray(v, dtype=float) for v in values]
        if len(arrays) != len(names):
            raise ValueError(f"the gradient callable returned {len(arrays)} values for {len(names)} parameters")
        if all(a.ndim == 0 for a in arrays):
            return None, np.array([float(a) for a in arrays])
        rows = np.array([np.broadcast_to(a, (n,)) for a in arrays])
        return rows, mean(rows)

    pts = check_points(spec, points, seed)
    label = getattr(fn, "__name__", "callable")
    reports = [ParameterReport(nm, sympy.sstr(g), hand=f"{label}()", equivalence=UNDECIDED)
               for nm, g in zip(names, _flat(spec, problem.grad_exprs))]
    _run(problem, hand, "callable", pts, atol=atol, rtol=rtol, eps=eps, hessian=False, reports=reports)
    _verdicts(reports)
    return CheckReport(spec.name, atol, rtol, eps, [{k: float(v) for k, v in zip(names, p)} for p in pts], n,
                       reports, str(spec.path) if spec.path else None)


def _compile(spec: Spec, pm: OptikitPluginManager, data: Data | None, backend: str) -> Problem:
    registry = Registry.build(pm)
    return compile_problem(spec, registry.loss_texts(), find_backend(backend, registry.backends), data=data)


def _kinks(problem: Problem) -> list[sympy.Expr]:
    """The kinks of the loss a row's values can show: inside a sum a kink is an element's, not a row's."""
    loss = problem.loss_expr
    if problem.symbolic.vectors is None:
        return kinks(loss)
    sums = {s: sympy.Dummy() for s in loss.atoms(vsum)}
    back = {d: s for s, d in sums.items()}
    return [k.xreplace(back) for k in kinks(loss.xreplace(sums))]


def _flat(spec: Spec, exprs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
    """One expression per flat parameter: a vector parameter's element-wise one for each of its elements."""
    if len(exprs) == len(spec.parameter_names):
        return list(exprs)
    return [e for p, e in zip(spec.parameters, exprs) for _ in range(p.size)]


def _without_hand(spec: Spec) -> Spec:
    return replace(spec, gradient=None, gradient_text=None, check=None)
