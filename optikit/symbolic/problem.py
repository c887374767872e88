"""Spec to :class:`Problem`: the per-sample loss, its exact derivatives, and NumPy callables.

SymPy differentiates the per-sample loss once; common subexpressions are shared (``cse``) and
every callable takes its arguments in one fixed order: the parameters as the spec declares
them, then the data columns the expressions use. The batch loss (and gradient, Hessian) is the
sum over the batch's rows in data order divided by their number, so a full-batch run repeats a
hand-written loop's arithmetic (for batches of up to :data:`SEQUENTIAL_SUM_ROWS` rows; larger
ones are summed pairwise, which is faster and more accurate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping

import numpy as np
import sympy

from . import bounded
from .. import expr
from ..expr.special import stabilize
from ..errors import ExpressionError, SpecError, did_you_mean
from ..spec import MODEL, Spec

__all__ = ["Problem", "compile_spec", "resolve_loss"]

Rows = np.ndarray | None
#: Batches up to this many rows are summed strictly in row order; larger ones pairwise.
SEQUENTIAL_SUM_ROWS = 4096


def resolve_loss(spec: Spec, losses: Mapping[str, Any] | None) -> sympy.Expr:
    """The per-sample loss of ``spec`` as a SymPy expression, looking up a named loss in ``losses``
    (name -> registry entry whose ``obj`` is expression text in ``model`` and ``target``)."""
    if spec.loss_expr is not None:
        return spec.loss_expr
    from .losses import BUILTIN_LOSSES

    table = {name: text for name, (text, _) in BUILTIN_LOSSES.items()}
    if losses is not None:
        table = {name: entry.obj for name, entry in losses.items()}
    if spec.loss not in table:
        raise spec.error(f"unknown loss {spec.loss!r}; named losses: {', '.join(sorted(table))}", "loss",
                         hint=did_you_mean(spec.loss, table) or "or write a per-sample expression in 'model'")
    model, target = sympy.Symbol(MODEL, real=True), sympy.Symbol("target", real=True)
    try:
        template = expr.parse(table[spec.loss], {MODEL: model, "target": target})
    except ExpressionError as exc:
        raise spec.error(f"named loss {spec.loss!r} has an invalid expression: {exc.message}", "loss") from None
    return template.subs({model: spec.model_expr, target: spec.symbols[spec.target]})


def compile_spec(spec: Spec, losses: Mapping[str, Any] | None = None, *,
                 use_hand_gradient: bool = False) -> Problem:
    """Differentiate ``spec``'s loss and build its :class:`Problem`.

    With ``use_hand_gradient`` and a spec that has a top-level ``gradient``, the problem's
    ``grad_exprs`` (what the engine trains with) are the hand-written expressions; the derived
    ones stay in ``derived_grad_exprs``. The gradient is compiled now; the Hessian, residual
    Jacobian and predictor on first use.
    """
    loss = stabilize(resolve_loss(spec, losses))
    params = [spec.symbols[p.name] for p in spec.parameters]
    derived, cse = bounded.derive(spec, loss, params)  # time- and memory-bounded for large trees
    derived = grads = tuple(derived)
    if use_hand_gradient and spec.gradient:
        grads = tuple(spec.gradient[p.name] for p in spec.parameters)
    problem = Problem(spec=spec, loss_expr=loss, grad_exprs=grads, derived_grad_exprs=derived)
    problem._cache["cse"] = cse
    for name, tree in [("loss", loss), *[(f"gradient of {p}", g) for p, g in zip(params, grads)]]:
        problem._check(tree, name)
    problem._loss_grad  # compile eagerly: a spec that cannot be evaluated fails before the run
    return problem


def _rows(columns: Mapping[str, np.ndarray], names: tuple[str, ...], rows: Rows) -> list[np.ndarray]:
    return [columns[c] if rows is None else columns[c][rows] for c in names]


@dataclass(eq=False)
class Problem:
    """A compiled spec: loss, gradient and (on demand) Hessian of the batch-mean loss."""

    spec: Spec
    loss_expr: sympy.Expr
    grad_exprs: tuple[sympy.Expr, ...]
    #: SymPy's derivative of the loss; differs from ``grad_exprs`` only when training with a hand gradient
    derived_grad_exprs: tuple[sympy.Expr, ...] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---- structure -----------------------------------------------------------------------
    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self.spec.parameter_names

    @property
    def params(self) -> list[sympy.Symbol]:
        return [self.spec.symbols[n] for n in self.parameter_names]

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The data columns the loss uses, in the spec's column order."""
        used = {s.name for s in self.loss_expr.free_symbols}
        return tuple(c for c in self.spec.data if c in used)

    @property
    def n_rows(self) -> int:
        """Rows of data; an objective without data counts as one row."""
        return self.spec.n_rows or 1

    @property
    def data(self) -> Mapping[str, np.ndarray]:
        return self.spec.data

    def _args(self) -> list[sympy.Symbol]:
        return self.params + [self.spec.symbols[c] for c in self.columns]

    def _check(self, tree: sympy.Expr, what: str) -> None:
        try:
            expr.check_tree(tree)
        except ExpressionError as exc:
            where = "model" if self.spec.model is not None else "objective"
            raise self.spec.error(f"the {what} cannot be evaluated numerically: {exc.message}", where) from None

    def _lambdify(self, exprs: list[sympy.Expr]) -> Callable[..., list[Any]]:
        return sympy.lambdify(self._args(), exprs, modules="numpy", cse=self._cache.get("cse", True),
                              docstring_limit=0)

    @staticmethod
    def _mean(values: Any, n: int) -> float:
        """Mean over the rows: summed in row order, then divided (the seed program's arithmetic)."""
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 0:  # a derivative that does not depend on the row: its mean is itself
            return float(arr)
        arr = np.broadcast_to(arr, (n,))
        if n <= SEQUENTIAL_SUM_ROWS:
            # cumsum adds strictly in row order (sum() pairs rows up from 8 on): a hand-written
            # loop over the rows is reproduced digit for digit
            return np.cumsum(arr)[-1] / n
        return arr.sum() / n  # pairwise: ten times faster than cumsum here, and more accurate

    def _n(self, rows: Rows) -> int:
        return self.n_rows if rows is None else len(rows)

    def _call(self, fn: Callable[..., Any], p: np.ndarray, rows: Rows) -> Any:
        return fn(*p, *_rows(self.data, self.columns, rows))

    # ---- values --------------------------------------------------------------------------
    @cached_property
    def _loss_grad(self) -> Callable[..., list[Any]]:
        return self._lambdify([self.loss_expr, *self.grad_exprs])

    @cached_property
    def _loss_only(self) -> Callable[..., Any]:
        return self._lambdify([self.loss_expr])

    def per_sample(self, params: np.ndarray, rows: Rows = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss ``(n,)`` and gradient ``(p, n)`` at ``params``."""
        n = self._n(rows)
        values = self._call(self._loss_grad, params, rows)
        out = [np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in values]
        return out[0], np.stack(out[1:]) if len(out) > 1 else np.empty((0, n))

    def loss_and_grad(self, params: np.ndarray, rows: Rows = None) -> tuple[float, np.ndarray]:
        """Batch-mean loss and gradient at ``params`` over ``rows`` (all rows when ``None``)."""
        n = self._n(rows)
        values = self._call(self._loss_grad, params, rows)
        means = [self._mean(v, n) for v in values]
        return float(means[0]), np.array(means[1:], dtype=float)

    def loss(self, params: np.ndarray, rows: Rows = None) -> float:
        """Batch-mean loss at ``params``."""
        return float(self._mean(self._call(self._loss_only, params, rows)[0], self._n(rows)))

    @cached_property
    def _grad_only(self) -> Callable[..., list[Any]]:
        return self._lambdify(list(self.grad_exprs))

    def grad(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """Batch-mean gradient at ``params`` (the loss is not computed)."""
        n = self._n(rows)
        return np.array([self._mean(v, n) for v in self._call(self._grad_only, params, rows)], dtype=float)

    # ---- second order, on demand ----------------------------------------------------------
    @cached_property
    def hessian_exprs(self) -> tuple[tuple[sympy.Expr, ...], ...]:
        params = self.params
        rows = []
        for g in self.grad_exprs:
            # the second derivative of a kink (abs, max, the Huber loss) is a DiracDelta: zero
            # everywhere but on the kink, where no Hessian exists; Newton-type methods use the rest
            rows.append(tuple(sympy.diff(g, q).replace(sympy.DiracDelta, lambda *a: sympy.S.Zero) for q in params))
        for i, row in enumerate(rows):
            for j, h in enumerate(row):
                self._check(h, f"second derivative by {params[i]} and {params[j]}")
        return tuple(rows)

    @cached_property
    def _hessian(self) -> Callable[..., list[Any]]:
        return self._lambdify([h for row in self.hessian_exprs for h in row])

    def hessian(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """Batch-mean Hessian ``(p, p)`` at ``params``."""
        n, k = self._n(rows), len(params)
        values = self._call(self._hessian, params, rows)
        return np.array([self._mean(v, n) for v in values], dtype=float).reshape(k, k)

    @cached_property
    def residual_expr(self) -> sympy.Expr | None:
        """``r`` when the per-sample loss is ``c * r**2`` with ``c > 0`` constant (least squares), else None."""
        coeff, rest = self.loss_expr.as_coeff_Mul()
        if coeff.is_positive and isinstance(rest, sympy.Pow) and rest.exp == 2:
            return sympy.sqrt(coeff) * rest.base
        return None

    @cached_property
    def _residuals(self) -> Callable[..., list[Any]]:
        r = self.residual_expr
        if r is None:
            raise self.spec.error("this optimizer needs a least-squares loss (per-sample r**2, such as mse)",
                                  "loss" if self.spec.model is not None else "objective")
        jac = [sympy.diff(r, p) for p in self.params]
        for i, j in enumerate(jac):
            self._check(j, f"derivative of the residual by {self.params[i]}")
        return self._lambdify([r, *jac])

    def residuals(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """Per-row residuals ``r`` with ``loss == mean(r**2)``."""
        n = self._n(rows)
        return np.broadcast_to(np.asarray(self._call(self._residuals, params, rows)[0], float), (n,)).copy()

    def jacobian(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """``(n, p)`` derivatives of the residuals by the parameters."""
        n = self._n(rows)
        values = self._call(self._residuals, params, rows)[1:]
        return np.stack([np.broadcast_to(np.asarray(v, float), (n,)) for v in values], axis=1)

    def oracle(self, rows: Rows = None) -> BatchOracle:
        """The :class:`~optikit.optimizers.base.Oracle` of one batch."""
        return BatchOracle(self, rows)

    # ---- prediction ----------------------------------------------------------------------
    @cached_property
    def _predictor(self) -> tuple[tuple[str, ...], Callable[..., Any]]:
        model = self.spec.model_expr
        if model is None:
            raise SpecError("an objective spec has no model to predict with")
        inputs = tuple(c for c in self.spec.data if self.spec.symbols[c] in model.free_symbols)
        fn = sympy.lambdify(self.params + [self.spec.symbols[c] for c in inputs], model, modules="numpy",
                            docstring_limit=0)
        return inputs, fn

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        """The model's prediction at ``params`` for input columns ``inputs`` (name -> value(s))."""
        names, fn = self._predictor
        cols = [np.asarray(inputs[c], dtype=float) for c in names]
        shape = np.broadcast_shapes(*(c.shape for c in cols)) if cols else ()
        return np.broadcast_to(np.asarray(fn(*params, *cols), dtype=float), shape)


@dataclass(frozen=True)
class BatchOracle:
    """Loss derivatives restricted to one batch of rows, as optimizers that ``require`` them see it."""

    problem: Problem
    rows: Rows = None

    def loss(self, params: np.ndarray) -> float:
        return self.problem.loss(params, self.rows)

    def grad(self, params: np.ndarray) -> np.ndarray:
        return self.problem.grad(params, self.rows)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        return self.problem.hessian(params, self.rows)

    def residuals(self, params: np.ndarray) -> np.ndarray:
        return self.problem.residuals(params, self.rows)

    def jacobian(self, params: np.ndarray) -> np.ndarray:
        return self.problem.jacobian(params, self.rows)
