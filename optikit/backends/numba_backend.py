"""The ``numba`` backend (``optikit[fast]``): each group of expressions compiled into one fused
loop over the rows that accumulates all its sums in a single pass.

The loops are printed by :mod:`optikit.backends.codegen` and compiled with ``numba.njit``
without ``fastmath``. Sums follow the NumPy backend's rule up to
:data:`~optikit.backends.numpy.SEQUENTIAL_SUM_ROWS` rows (row order, the same digits); above,
four interleaved accumulators (all rows) or row order (given rows) replace NumPy's pairwise sum,
so large batches agree with NumPy to about ``n * 1e-16`` relative rather than digit for digit. Per-row values, predictions and the
Gauss-Newton pieces come from the NumPy evaluator, which this one holds.

:meth:`NumbaEvaluator.epoch` runs a whole epoch of mini-batch steps in compiled code with an
optimizer's :meth:`~optikit.Optimizer.kernel`; the engine calls it when both are there. A
per-sample epoch with an in-place rule runs a function printed for the problem, the row's
gradient inline (:mod:`optikit.backends.numba_epochs`).
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..data import DataSource
from ..errors import SpecError
from ..symbolic import SymbolicProblem
from . import scalar
from .base import Backend, Rows, Sums, split_totals, summed_parts
from .codegen import define_function, loop_source, row_epoch_source
from .numba_cache import cached_function
from .numba_epochs import compile_epoch as compile_epoch_
from .numba_epochs import compile_epoch_in_place, compile_row_epoch, jit_pure, rows_call
from .numpy import SEQUENTIAL_SUM_ROWS, NumpyEvaluator
from .vectors import VectorEvaluator

__all__ = ["NumbaBackend", "NumbaEvaluator", "MISSING", "load_numba"]

MISSING = "the numba backend needs numba: install optikit[fast] (pip install 'optikit[fast]')"
_EMPTY_ROWS = np.empty(0, dtype=np.int64)
#: The forms of a per-sample epoch, tried in turn until one compiles with the rule:
#: ``(tuples, counted)``. Gradient and parameters as tuples (their length known, the rule's loop
#: unrolled; measured 9.0 against 10.1 ns a step on ``w*x + b``) or arrays (a rule that does array
#: arithmetic on them); without reference counts, then with them (a rule that allocates).
ROW_EPOCH_FORMS = ((True, False), (False, False), (False, True))
#: Above this many parameters the gradient and parameters reach the rule as arrays: a tuple
#: indexed by a loop variable is a branch over its elements.
TUPLE_PARAMETERS = 16


def load_numba() -> Any:
    """The ``numba`` module, or a one-line :class:`SpecError` naming the extra to install."""
    try:
        import numba
    except ImportError:
        raise SpecError(MISSING, field="backend") from None
    return numba


class NumbaBackend(Backend):
    """Fused loops compiled with numba: loss and gradient in one pass, whole SGD epochs in compiled code."""

    name = "numba"

    def compile(self, problem: SymbolicProblem, source: DataSource | None) -> NumbaEvaluator | VectorEvaluator:
        load_numba()  # the missing extra is reported whatever the problem
        if problem.vectors is not None:
            # sums over vectors are matrix products, which NumPy already hands to BLAS
            return VectorEvaluator(problem, source)
        return NumbaEvaluator(problem, source, load_numba())


_JIT = "@numba.njit(cache=True, error_model='numpy')\n"


def _module_head() -> str:
    """The head of a cached loop's module: the scalar helpers' own source (numba reloads
    cached calls only to functions of the same file), each compiled by numba."""
    parts = ["import math\n\nimport numba\n\n_LOGE2 = math.log(2.0)\n"]
    for fn in (scalar.logaddexp, scalar.sigmoid, scalar.softplus):
        parts.append(_JIT + inspect.getsource(fn))
    return "\n\n".join(parts) + "\n\n"


_DRAW: list[Any] = []  # the compiled permutation once made: [draw], or [None] if it disagreed with NumPy


def _compiled_draw(numba: Any) -> Any:
    """:func:`optikit.backends.numba_draw.draw` compiled (from the cache when it can be) and
    checked against NumPy in this process, or ``None``."""
    if not _DRAW:
        from . import numba_draw

        fn = cached_function(numba_draw.module_source(_JIT), "draw", numba, lambda: jit_pure(numba, numba_draw.draw))
        _DRAW.append(fn if numba_draw.agrees(fn) else None)
    return _DRAW[0]


class NumbaEvaluator:
    """Sums of a :class:`SymbolicProblem` over an in-memory source by compiled fused loops."""

    #: Rows of a chunk of an epoch handed over at a time (:mod:`optikit.engine.fused`): a few
    #: milliseconds of steps, against some 30 µs of Python per call.
    epoch_chunk_rows = 1 << 18

    def __init__(self, problem: SymbolicProblem, source: DataSource | None, numba: Any) -> None:
        self.problem = problem
        self.reference = NumpyEvaluator(problem, source)  # columns, per-row values, predictions
        self.n_rows = self.reference.n_rows
        self._numba = numba
        self._loops: dict[tuple[str, ...], tuple[Callable[..., Any], tuple[np.ndarray, ...], np.ndarray]] = {}
        self._epochs: dict[Any, Callable[..., Any]] = {}

    def _loop(self, parts: tuple[str, ...]) -> tuple[Callable[..., Any], tuple[np.ndarray, ...], np.ndarray]:
        """The compiled loop of ``parts``, its column arrays and its output buffer."""
        hit = self._loops.get(parts)
        if hit is None:
            group = self.reference._group(parts)  # the same expressions and cse as the NumPy backend
            columns = [self.problem.symbol(c) for c in group.columns]
            text = loop_source("loop", self.problem.params, columns, group.exprs, SEQUENTIAL_SUM_ROWS, group.cse)

            def in_memory() -> Any:
                from .numba_helpers import NAMESPACE

                loop = define_function(text, "loop", dict(NAMESPACE), f"<optikit loop {'+'.join(parts)}>")
                return self._numba.njit(cache=False, error_model="numpy")(loop)

            fn = cached_function(_module_head() + _JIT + text, "loop", self._numba, in_memory)
            data = tuple(self.reference.columns[c] for c in group.columns)
            hit = self._loops[parts] = (fn, data, np.empty(len(group.exprs)))
        return hit

    def _totals(self, parts: tuple[str, ...], params: np.ndarray, rows: Rows) -> np.ndarray:
        fn, data, out = self._loop(parts)
        p = np.ascontiguousarray(params, dtype=float)
        if rows is None:
            fn(p, _EMPTY_ROWS, True, out, *data)
        else:
            fn(p, np.ascontiguousarray(rows, dtype=np.int64), False, out, *data)
        return out

    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        n = self.n_rows if rows is None else len(rows)
        k = len(params)
        parts = summed_parts(loss, grad, hessian)
        out: dict[str, Any] = split_totals(parts, self._totals(parts, params, rows), k) if parts else {}
        if gauss_newton:
            g = self.reference.sums(params, rows, loss=False, grad=False, gauss_newton=True)
            out["jtj"], out["jtr"] = g.jtj, g.jtr
        return Sums(n, **out)

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        return self.reference.per_row(params, parts, rows)

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        return self.reference.predict(params, inputs)

    # ---- whole epochs of mini-batch steps --------------------------------------------------
    def permutation(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``rng.permutation(n)`` drawn in compiled code (:mod:`optikit.backends.numba_draw`): the
        same rows, and ``rng`` left in the same state."""
        from .numba_draw import permutation

        return permutation(_compiled_draw(self._numba), rng, n)

    def epoch(self, kernel: Any, params: np.ndarray, state: Any, order: np.ndarray, batch_size: int, factor: float,
              lower: np.ndarray, upper: np.ndarray, max_steps: int) -> tuple[np.ndarray, Any, int] | None:
        """One epoch of steps over ``order`` cut into batches, in compiled code with ``kernel``
        (an :class:`~optikit.Kernel`): ``(params, state, steps)``, or ``None`` when a gradient or
        a parameter is not finite, or the kernel does not compile, so that the caller can replay
        the epoch step by step in Python and handle it there."""
        in_place = getattr(kernel, "step", None)
        if not isinstance(in_place if in_place is not None else kernel.update, types.FunctionType):
            return None  # a bound method or other callable: compiled here only as a plain function
        bounded = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
        order = np.ascontiguousarray(order, dtype=np.int64)
        if in_place is not None:  # its own copies: the engine's state stays as it was if the epoch is replayed
            state = type(state)(*(v.copy() if isinstance(v, np.ndarray) else v for v in state))
            if batch_size == 1:
                return self._row_epoch(kernel, params, state, order, factor, lower, upper, bounded, max_steps)
        grad_loop, data, _ = self._loop(("grad",))
        fn = self._epoch_fn(in_place if in_place is not None else kernel.update, in_place is not None, grad_loop)
        if fn is None:
            return None
        try:
            p, new_state, steps, ok = fn(np.array(params, dtype=float), state, kernel.hyper, order, int(batch_size),
                                         float(factor), lower, upper, bounded, int(max_steps), np.empty(len(params)),
                                         data)
        except self._numba.core.errors.NumbaError:  # a kernel numba cannot compile: step in Python
            self._epochs[in_place if in_place is not None else kernel.update] = None
            return None
        return (p, new_state, int(steps)) if ok else None

    def _epoch_fn(self, update: Callable[..., Any], in_place: bool, grad_loop: Any) -> Callable[..., Any] | None:
        if update not in self._epochs:
            compile_epoch = compile_epoch_in_place if in_place else compile_epoch_
            rows_sums = rows_call(self._numba, grad_loop, len(self._loop(("grad",))[1]))
            self._epochs[update] = compile_epoch(self._numba, jit_pure(self._numba, update), rows_sums)
        return self._epochs[update]

    def _row_epoch(self, kernel: Any, params: np.ndarray, state: Any, order: np.ndarray, factor: float,
                   lower: np.ndarray, upper: np.ndarray, bounded: bool,
                   max_steps: int) -> tuple[np.ndarray, Any, int] | None:
        """Per-sample steps by the epoch printed for this problem (:func:`codegen.row_epoch_source`):
        the first of its forms that compiles with the rule (:data:`ROW_EPOCH_FORMS`)."""
        from .numba_helpers import NAMESPACE

        _, data, _ = self._loop(("grad",))
        p = np.array(params, dtype=float)
        k = len(p)
        for tuples, counted in ROW_EPOCH_FORMS:
            key = ("row", kernel.step, tuples, counted)
            if tuples and k > TUPLE_PARAMETERS:
                continue
            if key not in self._epochs:
                self._epochs[key] = compile_row_epoch(self._numba, self._row_source(tuples), kernel.step, NAMESPACE,
                                                      counted)
            fn = self._epochs[key]
            if fn is None:
                continue
            try:
                new_state, steps, ok = fn(p, np.empty(k), np.empty(k), state, kernel.hyper, order, float(factor),
                                          lower, upper, bounded, int(max_steps), *data)
            except (self._numba.core.errors.NumbaError, KeyError):  # a rule (or numba) this form cannot take
                self._epochs[key] = None
                continue
            if not counted and any(isinstance(v, np.ndarray) and w is not v for v, w in zip(state, new_state)):
                # without counts numba returns an array as the argument it came from: only a rule
                # that changes its state's arrays in place (Kernel.step's contract) reads right
                for form in ROW_EPOCH_FORMS:
                    if not form[1]:
                        self._epochs[("row", kernel.step, *form)] = None
                return None
            return (p, new_state, int(steps)) if ok else None
        return None

    def _row_source(self, tuples: bool) -> str:
        group = self.reference._group(("grad",))
        columns = [self.problem.symbol(c) for c in group.columns]
        return row_epoch_source("epoch", self.problem.params, columns, group.exprs, group.cse, tuples)
