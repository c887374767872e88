"""Finite-difference building blocks: check points, per-row evaluation, and kinks of non-smooth losses."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from ..backends import Problem
from ..errors import SpecError, did_you_mean
from ..spec import Spec

__all__ = ["Numeric", "Means", "check_points", "kinks", "crosses", "mean", "N_RANDOM_POINTS"]

N_RANDOM_POINTS = 3


def check_points(spec: Spec, at: Sequence[Mapping[str, float]] | None = None, seed: int = 0) -> list[np.ndarray]:
    """Parameter vectors to check at: ``at`` (missing names take their initial value), else
    ``check.at`` from the spec, else the initial values and a few seeded random points around them."""
    init = spec.initial
    if at is None and spec.check is not None and spec.check.at:
        at = spec.check.at
    if at:
        return [_point(spec, point) for point in at]
    rng = np.random.default_rng(seed)
    lo = np.array([-np.inf if p.min is None else p.min for p in spec.flat_parameters])
    hi = np.array([np.inf if p.max is None else p.max for p in spec.flat_parameters])
    scale = 0.5 * np.maximum(1.0, np.abs(init))
    return [init.copy()] + [np.clip(init + scale * rng.standard_normal(len(init)), lo, hi)
                            for _ in range(N_RANDOM_POINTS)]


def _point(spec: Spec, point: Mapping[str, Any]) -> np.ndarray:
    """A check point as a flat vector: initial values, then the point's values by declared name
    (a vector's by one number or a list) and by element (``w[1]``)."""
    values = spec.initial.copy()
    at = 0
    slots = {}
    for p in spec.parameters:
        slots[p.name] = slice(at, at + p.size)
        at += p.size
    flat = {n: i for i, n in enumerate(spec.parameter_names)}
    for name, value in point.items():
        if name in slots:
            values[slots[name]] = value
        elif name in flat:
            values[flat[name]] = value
        else:
            raise SpecError(f"{name!r} is not a parameter (parameters: {', '.join(slots)})", field="points=",
                            hint=did_you_mean(name, [*slots, *flat]))
    return values


def kinks(expr: sympy.Expr) -> list[sympy.Expr]:
    """Expressions whose sign change marks a point where ``expr`` may not be differentiable."""
    out: list[sympy.Expr] = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
            out.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            out.extend(a - b for i, a in enumerate(node.args) for b in node.args[i + 1:])
        elif isinstance(node, sympy.Piecewise):
            for cond in (pair.cond for pair in node.args):
                out.extend(r.lhs - r.rhs for r in cond.atoms(sympy.core.relational.Relational))
    return out


class Numeric:
    """Per-row values of one expression group of a compiled problem at a parameter vector, as a
    ``(size, n)`` array; values that cannot be computed are NaN (the check reports them)."""

    def __init__(self, problem: Problem, part: str) -> None:
        self.problem, self.part = problem, part
        self.size = len(problem.symbolic.part(part))
        self.n = problem.n_rows

    def __call__(self, p: np.ndarray) -> np.ndarray:
        if not self.size:
            return np.empty((0, self.n))
        with np.errstate(all="ignore"):
            try:
                return self.problem.evaluator.per_row(p, (self.part,))[0]
            except (ZeroDivisionError, OverflowError, ValueError):
                return np.full((self.size, self.n), np.nan)


class Means:
    """Batch means of the loss, gradient and Hessian of a compiled problem, from its evaluator's
    partial sums (the backend's own summation rule); NaN where they cannot be computed."""

    def __init__(self, problem: Problem) -> None:
        self.evaluator = problem.evaluator

    def _sums(self, p: np.ndarray, **parts: bool) -> Any:
        with np.errstate(all="ignore"):
            try:
                return self.evaluator.sums(p, **parts)
            except (ZeroDivisionError, OverflowError, ValueError):
                return None

    def loss(self, p: np.ndarray) -> float:
        s = self._sums(p, grad=False)
        return s.loss / s.n if s is not None else float("nan")

    def grad(self, p: np.ndarray) -> np.ndarray:
        s = self._sums(p, loss=False)
        return s.grad / s.n if s is not None else np.full(len(p), np.nan)

    def hessian(self, p: np.ndarray) -> np.ndarray:
        s = self._sums(p, loss=False, grad=False, hessian=True)
        return s.hessian / s.n if s is not None else np.full((len(p), len(p)), np.nan)


def mean(rows: np.ndarray) -> np.ndarray:
    """Row mean of values a Python callable returned (pairwise sum, then divide)."""
    return rows.sum(axis=-1) / rows.shape[-1]


def crosses(down: np.ndarray, mid: np.ndarray, up: np.ndarray) -> bool:
    """Whether any kink expression is zero or changes sign across a finite-difference stencil."""
    s = np.sign(np.stack([down, mid, up]))
    return bool(np.any(s == 0) or np.any(s.min(axis=0) != s.max(axis=0)))
