"""The NumPy backend, the default: ``sympy.lambdify`` to NumPy, sums over rows in memory.

Summation rule, the one place it is decided: a batch of up to :data:`SEQUENTIAL_SUM_ROWS` rows
is summed strictly in row order (``cumsum``), so a hand-written loop over the rows is reproduced
digit for digit (the seed program's 102 lines); larger batches are summed pairwise (``sum``),
which is faster and more accurate. A derivative that does not depend on the row is summed over
the rows like the others, as a hand-written loop would sum it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from ..data import DataError, DataSource
from ..errors import did_you_mean
from ..symbolic import SymbolicProblem
from .base import Backend, Rows, Sums

__all__ = ["NumpyBackend", "NumpyEvaluator", "SEQUENTIAL_SUM_ROWS", "lambdified", "generated_code"]

#: Batches up to this many rows are summed strictly in row order; larger ones pairwise.
SEQUENTIAL_SUM_ROWS = 4096


class NumpyBackend(Backend):
    """Vectorised NumPy over columns held in memory; the reference every other backend is held to."""

    name = "numpy"

    def compile(self, problem: SymbolicProblem, source: DataSource | None) -> NumpyEvaluator:
        return NumpyEvaluator(problem, source)


def _sum(values: Any, n: int) -> float:
    # a value that is the same on every row is summed like any other, as a loop over the rows would
    arr = np.broadcast_to(np.asarray(values, dtype=float), (n,))
    if n <= SEQUENTIAL_SUM_ROWS:
        return float(np.cumsum(arr)[-1])  # sum() pairs rows up from 8 on; cumsum adds in row order
    return float(arr.sum())


def lambdified(problem: SymbolicProblem, parts: tuple[str, ...]) -> tuple[Callable[..., Any], tuple[str, ...]]:
    """The NumPy function of ``problem``'s expression groups ``parts`` (arguments: the parameters,
    then the data columns it reads) and those columns."""
    exprs = [e for part in parts for e in problem.part(part)]
    columns = problem.columns_of(*exprs)
    args = [*problem.params, *(problem.symbol(c) for c in columns)]
    cse = problem.cse if parts[:2] == ("loss", "grad") and len(parts) == 2 else True
    return sympy.lambdify(args, exprs, modules="numpy", cse=cse, docstring_limit=0), columns


def generated_code(problem: SymbolicProblem, parts: tuple[str, ...] = ("loss", "grad")) -> str:
    """The Python source this backend runs for ``parts``, as ``sympy.lambdify`` generated it, with
    a header saying what its arguments and the items it returns are."""
    import inspect

    fn, columns = lambdified(problem, parts)
    names = problem.parameter_names
    labels = {"loss": ["loss"], "grad": [f"d loss / d {n}" for n in names],
              "hessian": [f"d2 loss / d {a} d {b}" for a in names for b in names]}
    returned = [label for part in parts
                for label in labels.get(part, [f"{part}[{i}]" for i in range(len(problem.part(part)))])]
    return (f"# sympy.lambdify's code run by the numpy backend, one value per data row;\n"
            f"# numpy's functions (exp, log, ...) are its globals\n"
            f"# arguments: {', '.join([*names, *columns])}\n# returns: {', '.join(returned)}\n"
            + inspect.getsource(fn))


class NumpyEvaluator:
    """Loss, gradient and the rest of a :class:`SymbolicProblem` over an in-memory source."""

    def __init__(self, problem: SymbolicProblem, source: DataSource | None, *,
                 compiled: dict[tuple[str, ...], tuple[Callable[..., Any], tuple[str, ...]]] | None = None) -> None:
        self.problem = problem
        self.source = source
        # shared by the evaluators of a streamed file's chunks, so that each expression compiles once
        self._fns = compiled if compiled is not None else {}
        wanted = problem.spec.columns
        if source is None:
            if problem.columns:
                raise DataError(f"the loss uses data columns ({', '.join(problem.columns)}) but there is no data")
            self.columns: dict[str, np.ndarray] = {}
            self.n_rows = 1  # an objective is one "row"
            return
        missing = [c for c in problem.columns if c not in source.columns]
        if missing:
            raise DataError(f"the data has no column {missing[0]!r}, which the "
                            f"{'model' if problem.spec.model is not None else 'objective'} uses "
                            f"(columns: {', '.join(source.columns)})", hint=did_you_mean(missing[0], source.columns))
        full = source.take(None)
        self.columns = {c: full[c] for c in wanted if c in full}
        self.n_rows = source.n_rows

    # ---- compilation, once per group of expression groups --------------------------------
    def _fn(self, parts: tuple[str, ...]) -> tuple[Callable[..., Any], tuple[str, ...]]:
        if parts not in self._fns:
            self._fns[parts] = lambdified(self.problem, parts)
        return self._fns[parts]

    def _values(self, parts: tuple[str, ...], params: np.ndarray, rows: Rows) -> list[Any]:
        fn, columns = self._fn(parts)
        missing = [c for c in columns if c not in self.columns]
        if missing:  # a column only a hand-written gradient uses, say
            have = ", ".join(self.columns) or "none"
            raise DataError(f"the data has no column {missing[0]!r}, which the {' and '.join(parts)} use(s) "
                            f"(columns: {have})", hint=did_you_mean(missing[0], self.columns))
        data = [self.columns[c] if rows is None else self.columns[c][rows] for c in columns]
        return fn(*params, *data)

    def _n(self, rows: Rows) -> int:
        return self.n_rows if rows is None else len(rows)

    # ---- the Evaluator protocol ----------------------------------------------------------
    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        n, k = self._n(rows), len(params)
        parts = tuple(p for p, on in (("loss", loss), ("grad", grad), ("hessian", hessian)) if on)
        out: dict[str, Any] = {}
        if parts:
            values = self._values(parts, params, rows)
            at = 0
            for part in parts:
                size = 1 if part == "loss" else (k if part == "grad" else k * k)
                sums = [_sum(v, n) for v in values[at:at + size]]
                at += size
                out[part] = sums[0] if part == "loss" else np.array(sums, dtype=float)
            if "hessian" in out:
                out["hessian"] = out["hessian"].reshape(k, k)
        if gauss_newton:
            r, jac = self.per_row(params, ("residual", "jacobian"), rows)
            out["jtj"], out["jtr"] = jac @ jac.T, jac @ r[0]
        return Sums(n, **out)

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        parts = tuple(parts)
        n = self._n(rows)
        values = self._values(parts, params, rows)
        out, at = [], 0
        for part in parts:
            size = len(self.problem.part(part))
            block = [np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in values[at:at + size]]
            out.append(np.stack(block) if block else np.empty((0, n)))
            at += size
        return out

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        fn, columns = self._fn(("model",))
        cols = [np.asarray(inputs[c], dtype=float) for c in columns]
        shape = np.broadcast_shapes(*(c.shape for c in cols)) if cols else ()
        return np.broadcast_to(np.asarray(fn(*params, *cols)[0], dtype=float), shape)
