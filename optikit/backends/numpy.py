"""The NumPy backend, the default: ``sympy.lambdify`` to NumPy, sums over rows in memory.

Sums over rows follow the summation rule of :mod:`optikit.backends.summation`. A problem with
vector parameters or sums is evaluated by :mod:`optikit.backends.vectors`.

Evaluation: ``[loss, *grad]`` (and any other groups asked for together) is one function with
common subexpressions shared (``cse``). A pass over all rows writes into buffers allocated
once (:mod:`optikit.backends.buffers`, the same operations as ``lambdify``'s code). Batches of up to :data:`SCALAR_ROWS` rows (a per-sample
SGD step) run that function as scalar ``math`` code row by row, adding in row order, which the
summation rule above prescribes anyway; +, -, *, / and integer squares are IEEE operations
either way, so the two paths give the same digits on such models (functions such as ``exp``
may differ from NumPy's vectorised ones in the last place).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from ..data import DataError, DataSource
from ..errors import SpecError, did_you_mean
from ..symbolic import SymbolicProblem
from ..symbolic.shared import FirstOf, shared_subexpressions
from .base import Backend, Rows, Sums, split_totals, summed_parts
from .buffers import BufferedPass, buffered_pass
from .pyepoch import python_epoch
from .pystep import per_sample_epoch
from .scalar import SCALAR_FUNCTIONS
from .summation import SEQUENTIAL_SUM_ROWS, row_sum
from .vectors import VectorEvaluator

__all__ = ["NumpyBackend", "NumpyEvaluator", "SEQUENTIAL_SUM_ROWS", "SCALAR_ROWS", "lambdified", "generated_code"]

#: Batches up to this many rows are evaluated as scalar ``math`` code, row by row.
SCALAR_ROWS = 8


class NumpyBackend(Backend):
    """Vectorised NumPy over columns held in memory; the reference every other backend is held to."""

    name = "numpy"

    def compile(self, problem: SymbolicProblem, source: DataSource | None) -> NumpyEvaluator | VectorEvaluator:
        if problem.vectors is not None:
            return VectorEvaluator(problem, source)
        return NumpyEvaluator(problem, source)


def group_cse(problem: SymbolicProblem, parts: tuple[str, ...]) -> Callable[[Any], Any]:
    """The ``cse`` of ``parts`` for ``sympy.lambdify`` and the printed loops: the derivation's own
    (precomputed, maybe cached) for ``[loss, *grad]``, the loss's part of it for the loss alone
    (a run's final loss and the fit report's equal every epoch's), else the same elimination."""
    if parts == ("loss", "grad"):
        return problem.cse if callable(problem.cse) else shared_subexpressions
    if parts == ("loss",) and problem.vectors is None:
        return FirstOf(group_cse(problem, ("loss", "grad")), [problem.loss_expr, *problem.grad_exprs])
    return shared_subexpressions


def lambdified(problem: SymbolicProblem, parts: tuple[str, ...]) -> tuple[Callable[..., Any], tuple[str, ...]]:
    """The NumPy function of ``problem``'s expression groups ``parts`` (arguments: the parameters,
    then the data columns it reads) and those columns."""
    exprs = [e for part in parts for e in problem.part(part)]
    columns = problem.columns_of(*exprs)
    args = [*problem.params, *(problem.symbol(c) for c in columns)]
    cse = group_cse(problem, parts)
    # use_imps=False: the trees hold no implemented_function (check_tree refuses them), and
    # looking for one walks every tree without sharing, seconds on a wide model
    return sympy.lambdify(args, exprs, modules="numpy", cse=cse, docstring_limit=0, use_imps=False), columns


def free_symbols(exprs: Sequence[sympy.Expr]) -> list[frozenset[sympy.Symbol]]:
    """``e.free_symbols`` of each expression, visiting each shared subtree once (the components
    of a wide model's gradient all hold the same sum; SymPy walks it again for each)."""
    memo: dict[int, frozenset[sympy.Symbol]] = {}

    def visit(e: sympy.Basic) -> frozenset[sympy.Symbol]:
        found = memo.get(id(e))
        if found is None:
            found = memo[id(e)] = (frozenset((e,)) if e.is_Symbol else
                                   frozenset().union(*map(visit, e.args)) if e.args else e.free_symbols)
        return found

    return [visit(e) for e in exprs]


def generated_code(problem: SymbolicProblem, parts: tuple[str, ...] = ("loss", "grad")) -> str:
    """The Python source this backend runs for ``parts``, as ``sympy.lambdify`` generated it, with
    a header saying what its arguments and the items it returns are."""
    import inspect

    if problem.vectors is not None:
        raise SpecError("a problem with vector parameters or sums is evaluated with matrix products "
                        "(optikit/backends/vectors.py), not by one generated function", field="--code")
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


class _Group:
    """Expression groups compiled together: a NumPy function over columns and, on first use, the
    same function as scalar ``math`` code; both share common subexpressions."""

    def __init__(self, problem: SymbolicProblem, parts: tuple[str, ...]) -> None:
        exprs = [e for part in parts for e in problem.part(part)]
        free = free_symbols(exprs)
        used = {s.name for f in free for s in f}
        self.columns = tuple(c for c in problem.spec.columns if c in used)  # as problem.columns_of, once
        self.args = [*problem.params, *(problem.symbol(c) for c in self.columns)]
        self.exprs = exprs
        self.cse = group_cse(problem, parts)
        self._vector: Callable[..., Any] | None = None
        col_symbols = {problem.symbol(c) for c in self.columns}
        #: which outputs are the same on every row (multiplied by the row count, not summed)
        self.constant = [not (f & col_symbols) for f in free]
        self._scalar: Callable[..., Any] | None = None
        # by row count: the evaluators of a streamed file's chunks share groups, and its last chunk is shorter
        self._buffered: dict[int, BufferedPass | None] = {}
        self._per_sample: dict[tuple[bool, bool], Callable[..., Any]] = {}
        self._problem = problem

    @property
    def vector(self) -> Callable[..., Any]:
        """lambdify's NumPy function (what :func:`lambdified` returns), made on first use: a pass
        over all rows runs the buffered form, which is printed without it."""
        if self._vector is None:
            self._vector = sympy.lambdify(self.args, self.exprs, modules="numpy", cse=self.cse, docstring_limit=0,
                                          use_imps=False)
        return self._vector

    @property
    def scalar(self) -> Callable[..., Any]:
        if self._scalar is None:
            self._scalar = sympy.lambdify(self.args, self.exprs, modules=[SCALAR_FUNCTIONS, "math"], cse=self.cse,
                                          docstring_limit=0, use_imps=False)
        return self._scalar

    def per_sample(self, factor_one: bool, bounded: bool) -> Callable[..., Any]:
        """This group's per-sample epoch (:func:`optikit.backends.pystep.per_sample_epoch`), made once."""
        key = (factor_one, bounded)
        if key not in self._per_sample:
            columns = [self._problem.symbol(c) for c in self.columns]
            self._per_sample[key] = per_sample_epoch(self._problem.params, columns, self.exprs, self.cse, factor_one,
                                                      bounded)
        return self._per_sample[key]

    def buffered(self, n: int) -> BufferedPass | None:
        """The buffered pass over ``n`` rows (None where one cannot be built)."""
        if n not in self._buffered:
            columns = [self._problem.symbol(c) for c in self.columns]
            self._buffered[n] = buffered_pass(self._problem.params, columns, self.exprs, self.cse, n, {})
        return self._buffered[n]

    def scalar_sums(self, params: np.ndarray, columns: Mapping[str, np.ndarray], rows: Rows, n: int) -> list[float] | None:
        """Row-ordered sums of the outputs over ``n`` (few) rows, or ``None`` where scalar code
        cannot follow NumPy (a domain error, overflow or a complex power): the caller then uses
        the vectorised path, which gives NaN or inf as NumPy does."""
        fn, pv = self.scalar, params.tolist()
        cols = [columns[c] for c in self.columns]
        if n == 1:  # a per-sample step: one row, nothing to add up
            i = 0 if rows is None else int(rows[0])
            try:
                vals = fn(*pv, *[c.item(i) for c in cols])
            except (ArithmeticError, ValueError):
                return None
            return None if any(type(v) is complex for v in vals) else [float(v) for v in vals]
        acc: list[Any] | None = None
        try:
            for i in (range(n) if rows is None else rows.tolist()):
                vals = fn(*pv, *[c.item(i) for c in cols])
                acc = list(vals) if acc is None else [a + v for a, v in zip(acc, vals)]
        except (ArithmeticError, ValueError):
            return None
        if acc is None or any(isinstance(a, complex) for a in acc):
            return None
        return [float(v) * n if const else float(a) for a, v, const in zip(acc, vals, self.constant)]


class NumpyEvaluator:
    """Loss, gradient and the rest of a :class:`SymbolicProblem` over an in-memory source."""

    def __init__(self, problem: SymbolicProblem, source: DataSource | None, *,
                 compiled: dict[tuple[str, ...], _Group] | None = None) -> None:
        self.problem = problem
        self.source = source
        # shared by the evaluators of a streamed file's chunks, so that each expression compiles once
        self._groups: dict[tuple[str, ...], _Group] = compiled if compiled is not None else {}
        self._scratch = np.empty(SEQUENTIAL_SUM_ROWS)
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
    def _group(self, parts: tuple[str, ...]) -> _Group:
        group = self._groups.get(parts)
        if group is None:
            group = self._groups[parts] = _Group(self.problem, parts)
        missing = [c for c in group.columns if c not in self.columns]
        if missing:  # a column only a hand-written gradient uses, say
            have = ", ".join(self.columns) or "none"
            raise DataError(f"the data has no column {missing[0]!r}, which the {' and '.join(parts)} use(s) "
                            f"(columns: {have})", hint=did_you_mean(missing[0], self.columns))
        return group

    def _values(self, parts: tuple[str, ...], params: np.ndarray, rows: Rows) -> list[Any]:
        group = self._group(parts)
        data = [self.columns[c] if rows is None else self.columns[c][rows] for c in group.columns]
        return group.vector(*params, *data)

    def _n(self, rows: Rows) -> int:
        return self.n_rows if rows is None else len(rows)

    def totals(self, parts: tuple[str, ...], params: np.ndarray, rows: Rows) -> list[float]:
        """The sum over ``rows`` of each expression of ``parts``, by the summation rule."""
        n = self._n(rows)
        group = self._group(parts)
        scratch = self._scratch
        if 0 < n <= SCALAR_ROWS:
            sums = group.scalar_sums(params, self.columns, rows, n)
            if sums is not None:
                return sums
        elif rows is None and group.columns and (buffered := group.buffered(n)) is not None:
            return buffered(params.tolist(), [self.columns[c] for c in group.columns], lambda v: row_sum(v, n, scratch))
        return [row_sum(v, n, scratch) for v in self._values(parts, params, rows)]

    # ---- the Evaluator protocol ----------------------------------------------------------
    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        n, k = self._n(rows), len(params)
        parts = summed_parts(loss, grad, hessian)
        out: dict[str, Any] = split_totals(parts, self.totals(parts, params, rows), k) if parts else {}
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

    def epoch(self, kernel: Any, params: np.ndarray, state: Any, order: np.ndarray, batch_size: int, factor: float,
              lower: np.ndarray, upper: np.ndarray, max_steps: int) -> tuple[np.ndarray, Any, int] | None:
        """One epoch of mini-batch steps with an optimizer's kernel in one Python loop
        (:func:`optikit.backends.pyepoch.python_epoch`); ``None``: replay it step by step."""
        return python_epoch(self, kernel, params, state, order, batch_size, factor, lower, upper, max_steps)

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        group = self._group(("model",))
        fn = group.vector
        cols = [np.asarray(inputs[c], dtype=float) for c in group.columns]
        shape = np.broadcast_shapes(*(c.shape for c in cols)) if cols else ()
        return np.broadcast_to(np.asarray(fn(*params, *cols)[0], dtype=float), shape)
