"""The NumPy evaluator of problems with vector parameters or sums (:mod:`optikit.symbolic.vectors`).

Per evaluation: each sum is computed once per row (``X @ c`` when its body is a coefficient times
one vector input, as in ``dot(w, x)``; otherwise element-wise, then summed along the elements);
then the per-row scalars (loss, scalar gradients, the weights of the vector gradients) in one
``lambdify``'d function with shared subexpressions; then each vector gradient term is contracted
over the rows (``X.T @ weight`` for a factor that is an input times a coefficient). Sums over rows
of per-row scalars follow the numpy backend's summation rule; contractions are BLAS products.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from ..data import DataError, DataSource
from ..errors import did_you_mean
from ..symbolic import SymbolicProblem
from ..symbolic.vectors import Derivative, Term
from .base import Rows, Sums
from .summation import SEQUENTIAL_SUM_ROWS, row_sum
from .vector_hessian import summed_hessian

__all__ = ["VectorEvaluator"]


def _lambdified(args: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> Callable[..., Any]:
    return sympy.lambdify(list(args), list(exprs), modules="numpy", cse=True, docstring_limit=0)


class _Piece:
    """An element-wise expression, compiled for evaluation: ``coef * X`` (``column`` set) or in full."""

    def __init__(self, body: sympy.Expr, columns: Mapping[str, np.ndarray]) -> None:
        used = sorted(body.free_symbols, key=lambda s: s.name)
        cols = [s for s in used if s.name in columns]
        self.column: str | None = None
        coef, rest = body.as_independent(*cols, as_Add=False) if cols else (body, sympy.S.One)
        if isinstance(rest, sympy.Symbol) and columns[rest.name].ndim == 2:
            self.column, body = rest.name, coef
        self.args = sorted(body.free_symbols, key=lambda s: s.name)
        self.rowwise = any(s.name in columns for s in self.args)
        self.fn = _lambdified(self.args, [body])


class _Context:
    """One evaluation: parameter values, the columns of the rows asked for, sums computed on demand."""

    def __init__(self, ev: VectorEvaluator, params: np.ndarray, columns: Mapping[str, np.ndarray], m: int) -> None:
        self.ev, self.columns, self.m = ev, columns, m
        self.values: dict[str, Any] = {}
        at = 0
        for p in ev.problem.spec.parameters:
            self.values[p.name] = params[at] if p.shape is None else params[at:at + p.shape]
            at += p.size
        self.sums: dict[sympy.Symbol, np.ndarray] = {}

    def arg(self, s: sympy.Symbol, elementwise: bool) -> Any:
        if s.name in self.values:
            return self.values[s.name]
        if s.name.startswith("sum."):  # a sum's per-row symbol (see VectorForm)
            return self.reduce(s)
        col = self.columns[s.name]
        return col[:, None] if elementwise and col.ndim == 1 else col

    def piece(self, piece: _Piece, n: int) -> np.ndarray:
        """The element-wise value, ``(m, n)`` where it depends on the row, else ``(n,)``."""
        v = np.asarray(piece.fn(*[self.arg(s, True) for s in piece.args])[0], dtype=float)
        if piece.column is not None:
            v = self.columns[piece.column] * v
        return np.broadcast_to(v, (self.m, n) if piece.rowwise or piece.column else (n,))

    def reduce(self, symbol: sympy.Symbol) -> np.ndarray:
        if symbol not in self.sums:
            piece, n = self.ev.reduction(symbol)
            if piece.column is not None:
                coef = np.asarray(piece.fn(*[self.arg(s, True) for s in piece.args])[0], dtype=float)
                self.sums[symbol] = self.columns[piece.column] @ np.broadcast_to(coef, (n,))
            else:
                self.sums[symbol] = np.broadcast_to(self.piece(piece, n).sum(axis=-1), (self.m,))
        return self.sums[symbol]

    def rows(self, exprs: tuple[sympy.Expr, ...]) -> list[np.ndarray]:
        """Per-row values of scalar expressions, each ``(m,)``."""
        fn, args = self.ev.rowwise(exprs)
        return [np.broadcast_to(np.asarray(v, dtype=float), (self.m,))
                for v in fn(*[self.arg(s, False) for s in args])]

    def contract(self, weight: np.ndarray, term: Term, n: int) -> np.ndarray:
        """``Σ_rows weight · factor``, an ``(n,)`` vector."""
        piece = self.ev.piece(term.factor)
        if piece.column is not None:
            coef = np.asarray(piece.fn(*[self.arg(s, True) for s in piece.args])[0], dtype=float)
            return (self.columns[piece.column].T @ weight) * coef
        v = self.piece(piece, n)
        return v.T @ weight if v.ndim == 2 else v * weight.sum()

    def derivative(self, d: Derivative, summed: bool) -> np.ndarray:
        """Summed, the flat gradient ``(k,)``; per row, ``(k, m)``."""
        spec = self.ev.problem.spec
        weights = [t.weight for p in spec.parameters if p.shape is not None for t in d.vector[p.name]]
        scalars = [d.scalar[p.name] for p in spec.parameters if p.shape is None]
        values = self.rows(tuple(scalars + weights))
        out, si, wi = [], 0, len(scalars)
        for p in spec.parameters:
            if p.shape is None:
                v = values[si]
                out.append(np.array([row_sum(v, self.m, self.ev.scratch)]) if summed else v[None, :])
                si += 1
                continue
            total = np.zeros(p.shape) if summed else np.zeros((p.shape, self.m))
            for term in d.vector[p.name]:
                w = values[wi]
                wi += 1
                total += self.contract(w, term, p.shape) if summed else (self.piece(self.ev.piece(term.factor), p.shape)
                                                                          * w[:, None]).T
            out.append(total)
        return np.concatenate(out)


class VectorEvaluator:
    """Loss, gradient, Gauss-Newton sums and per-row values of a vector problem over an in-memory source."""

    def __init__(self, problem: SymbolicProblem, source: DataSource | None, *,
                 compiled: dict[Any, Any] | None = None, inputs: Mapping[str, Any] | None = None) -> None:
        assert problem.vectors is not None
        self.problem, self.vectors = problem, problem.vectors
        self._compiled = compiled if compiled is not None else {}
        self.scratch = np.empty(SEQUENTIAL_SUM_ROWS)
        if inputs is not None:  # the model's inputs alone, for predictions: no target, no loss
            cols = {c: np.asarray(v, dtype=float) for c, v in inputs.items()}
            self.n_rows = max([len(v) for v in cols.values() if v.ndim >= 1] or [1])
            self.columns = {c: (v if v.ndim == 2 else np.broadcast_to(v, (self.n_rows,))) for c, v in cols.items()}
            return
        if source is None:
            if problem.columns:
                raise DataError(f"the loss uses data columns ({', '.join(problem.columns)}) but there is no data")
            self.columns: dict[str, np.ndarray] = {}
            self.n_rows = 1
        else:
            missing = [c for c in problem.columns if c not in source.columns]
            if missing:
                raise DataError(f"the data has no column {missing[0]!r}, which the model uses (columns: "
                                f"{', '.join(source.columns)})", hint=did_you_mean(missing[0], source.columns))
            full = source.take(None)
            # the columns the loss reads, not a vector's member columns: a batch indexes each one
            self.columns = {c: np.asarray(full[c]) for c in problem.columns if c in full}
            self.n_rows = source.n_rows
        for r in self.vectors.form.reductions:
            self.reduction(r.symbol)  # lengths checked before the run, not at its first step
        if self.vectors.model is not None:
            self._outside(self.vectors.model, "model")
        self._outside(self.vectors.loss, "loss")

    # ---- compiled pieces, shared by the evaluators of a streamed file's chunks ------------
    def _cached(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._compiled:
            self._compiled[key] = make()
        return self._compiled[key]

    def piece(self, body: sympy.Expr) -> _Piece:
        # by the columns' dimensions too: predictions may hand over columns of other shapes
        dims = tuple(self.columns[s.name].ndim for s in sorted(body.free_symbols, key=lambda s: s.name)
                     if s.name in self.columns)
        return self._cached(("piece", body, dims), lambda: _Piece(body, self.columns))

    @property
    def _field(self) -> str:
        return "model" if self.problem.spec.model is not None else "objective"

    def reduction(self, symbol: sympy.Symbol) -> tuple[_Piece, int]:
        r = self.vectors.form.reduction(symbol)
        dims = tuple(self.columns[n].ndim for n in r.like if n in self.columns)
        return self._cached(("sum", symbol, dims), lambda: (self.piece(r.body), self._length(r.body, r.like)))

    def rowwise(self, exprs: tuple[sympy.Expr, ...]) -> tuple[Callable[..., Any], list[sympy.Symbol]]:
        def make() -> tuple[Callable[..., Any], list[sympy.Symbol]]:
            args = sorted(set().union(*[e.free_symbols for e in exprs]), key=lambda s: s.name) if exprs else []
            return _lambdified(args, exprs), args
        return self._cached(("rows", exprs), make)

    def _length(self, body: sympy.Expr, like: tuple[str, ...]) -> int:
        shapes = {p.name: p.shape for p in self.problem.spec.parameters if p.shape is not None}
        lengths = {name: shapes[name] if name in shapes else self.columns[name].shape[1] for name in like
                   if name in shapes or (name in self.columns and self.columns[name].ndim == 2)}
        if not lengths:
            raise DataError(f"sum({body}) has no vector in it: a sum runs over the elements of a vector parameter "
                            "(shape: N) or a vector input (several columns, or a 2-D array)", (self._field,))
        if len(set(lengths.values())) > 1:
            said = ", ".join(f"{k} has {v}" for k, v in lengths.items())
            raise DataError(f"sum({body}) mixes vectors of different lengths: {said}", (self._field,))
        return next(iter(lengths.values()))

    def _outside(self, e: sympy.Expr, what: str) -> None:
        loose = sorted(s.name for s in e.free_symbols if s.name in self.columns and self.columns[s.name].ndim == 2)
        if loose:
            raise DataError(f"the vector input {loose[0]!r} is used in the {what} outside sum() or dot(); a row's "
                            "value must be one number", (what if what == "model" or self.problem.spec.loss_expr is not None
                                                         else self._field,))

    # ---- the Evaluator protocol ----------------------------------------------------------
    def _context(self, params: np.ndarray, rows: Rows) -> _Context:
        cols = self.columns if rows is None else {c: v[rows] for c, v in self.columns.items()}
        return _Context(self, np.asarray(params, dtype=float), cols, self.n_rows if rows is None else len(rows))

    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        ctx = self._context(params, rows)
        out: dict[str, Any] = {}
        if loss:
            out["loss"] = row_sum(ctx.rows((self.vectors.loss,))[0], ctx.m, self.scratch)
        if grad:
            out["grad"] = ctx.derivative(self.vectors.grad, summed=True)
        if hessian:
            out["hessian"] = summed_hessian(ctx)
        if gauss_newton:
            r, jac = self.per_row(params, ("residual", "jacobian"), rows)
            out["jtj"], out["jtr"] = jac @ jac.T, jac @ r[0]
        return Sums(ctx.m, **out)

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        ctx = self._context(params, rows)
        out = []
        for part in parts:
            if part in ("grad", "derived") and part not in self.problem.extra:
                out.append(ctx.derivative(self.vectors.grad, summed=False))
            elif part in ("residual", "jacobian") and part not in self.problem.extra:
                residual, jac = self.vectors.residual(self.problem.residual_expr)
                out.append(ctx.derivative(jac, summed=False) if part == "jacobian" else ctx.rows((residual,))[0][None])
            elif part == "loss":
                out.append(ctx.rows((self.vectors.loss,))[0][None])
            elif part == "model" and self.vectors.model is not None:
                out.append(ctx.rows((self.vectors.model,))[0][None])
            else:
                lifted = tuple(self.vectors.form.lift(e) for e in self.problem.part(part))
                out.append(np.stack(ctx.rows(lifted)) if lifted else np.empty((0, ctx.m)))
        return out

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        return self.model_rows(params, inputs)[0]

    def model_rows(self, params: np.ndarray, inputs: Mapping[str, Any], derivatives: bool = False) -> list[np.ndarray]:
        """The model at ``inputs`` (``(m,)``) and, with ``derivatives``, its derivatives by every flat
        parameter (``(k, m)``), for predictions and their uncertainty."""
        model = self.vectors.model
        if model is None:
            raise DataError("an objective spec has no model to predict with")
        for name, arr in self.columns.items():
            given = np.asarray(inputs[name], dtype=float) if name in inputs else None
            if arr.ndim == 2 and given is not None and (given.ndim != 2 or given.shape[1] != arr.shape[1]):
                raise DataError(f"{name!r} is a vector input of {arr.shape[1]} elements: give an array of rows x "
                                f"{arr.shape[1]} (one row: [[...]]), not one of shape {given.shape}", ("data=", name))
        ev = VectorEvaluator(self.problem, None, compiled=self._compiled, inputs=inputs)
        for r in self.vectors.form.reductions:
            if r.symbol in self.vectors.model.free_symbols:
                ev.reduction(r.symbol)  # lengths checked: w has 3, x has 2
        ctx = ev._context(params, None)
        out = [ctx.rows((model,))[0]]
        if derivatives:
            out.append(ctx.derivative(self.vectors.model_derivative, summed=False))
        return out
