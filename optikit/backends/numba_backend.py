"""The ``numba`` backend (``optikit[fast]``): each group of expressions compiled into one fused
loop over the rows that accumulates all its sums in a single pass.

The loops are printed by :mod:`optikit.backends.codegen` and compiled with ``numba.njit``
without ``fastmath``. Sums follow the NumPy backend's rule up to
:data:`~optikit.backends.numpy.SEQUENTIAL_SUM_ROWS` rows (row order, the same digits); above,
four interleaved accumulators (all rows) or row order (given rows) replace NumPy's pairwise sum,
so large batches agree with NumPy to about ``n * 1e-16`` relative rather than digit for digit. Per-row values, predictions and the
Gauss-Newton pieces come from the NumPy evaluator, which this one holds.

:meth:`NumbaEvaluator.epoch` runs a whole epoch of mini-batch steps in compiled code with an
optimizer's :meth:`~optikit.Optimizer.kernel`; the engine calls it when both are there.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..data import DataSource
from ..errors import SpecError
from ..symbolic import SymbolicProblem
from . import scalar
from .base import Backend, Rows, Sums, split_totals, summed_parts
from .codegen import define_function, loop_source
from .numba_cache import cached_function
from .numpy import SEQUENTIAL_SUM_ROWS, NumpyEvaluator
from .vectors import VectorEvaluator

__all__ = ["NumbaBackend", "NumbaEvaluator", "MISSING", "load_numba"]

MISSING = "the numba backend needs numba: install optikit[fast] (pip install 'optikit[fast]')"
_EMPTY_ROWS = np.empty(0, dtype=np.int64)


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


class NumbaEvaluator:
    """Sums of a :class:`SymbolicProblem` over an in-memory source by compiled fused loops."""

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
    def epoch(self, kernel: Any, params: np.ndarray, state: Any, order: np.ndarray, batch_size: int, factor: float,
              lower: np.ndarray, upper: np.ndarray, max_steps: int) -> tuple[np.ndarray, Any, int] | None:
        """One epoch of steps over ``order`` cut into batches, in compiled code with ``kernel``
        (an :class:`~optikit.Kernel`): ``(params, state, steps)``, or ``None`` when a gradient or
        a parameter is not finite, or the kernel does not compile, so that the caller can replay
        the epoch step by step in Python and handle it there."""
        in_place = getattr(kernel, "step", None)
        grad_loop, data, _ = self._loop(("grad",))
        fn = self._epoch_fn(in_place if in_place is not None else kernel.update, in_place is not None, grad_loop)
        if fn is None:
            return None
        bounded = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
        if in_place is not None:  # its own copies: the engine's state stays as it was if the epoch is replayed
            state = type(state)(*(v.copy() if isinstance(v, np.ndarray) else v for v in state))
        try:
            p, new_state, steps, ok = fn(np.array(params, dtype=float), state, kernel.hyper,
                                         np.ascontiguousarray(order, dtype=np.int64), int(batch_size), float(factor),
                                         lower, upper, bounded, int(max_steps), np.empty(len(params)), data)
        except self._numba.core.errors.NumbaError:  # a kernel numba cannot compile: step in Python
            self._epochs[in_place if in_place is not None else kernel.update] = None
            return None
        return (p, new_state, int(steps)) if ok else None

    def _epoch_fn(self, update: Callable[..., Any], in_place: bool, grad_loop: Any) -> Callable[..., Any] | None:
        if update not in self._epochs:
            compile_epoch = _compile_epoch_in_place if in_place else _compile_epoch
            rows_sums = _rows_call(self._numba, grad_loop, len(self._loop(("grad",))[1]))
            self._epochs[update] = compile_epoch(self._numba, jit_pure(self._numba, update), rows_sums)
        return self._epochs[update]


_JITTED: dict[Any, Any] = {}


def jit_pure(numba: Any, fn: Callable[..., Any]) -> Any:
    """``fn`` compiled by numba together with the plain functions it calls by global name
    (a kernel's helpers), each compiled once. Each is inlined where it is called: a call of a
    kernel that numba does not inline costs some 100 ns (its tuple of hyperparameters and its
    branches on them), several times the arithmetic of a per-sample step; inlining changes no
    operation."""
    if fn in _JITTED:
        return _JITTED[fn]
    globs = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        value = globs.get(name)
        if isinstance(value, type(fn)) and value is not fn:
            globs[name] = jit_pure(numba, value)
    clone = type(fn)(fn.__code__, globs, fn.__name__, fn.__defaults__, fn.__closure__)
    jitted = _JITTED[fn] = numba.njit(cache=False, error_model="numpy", inline="always")(clone)
    return jitted


def _rows_call(numba: Any, grad_loop: Any, columns: int) -> Any:
    """``rows_sums(p, rows, out, data)``: ``grad_loop(p, rows, False, out, *data)`` with the columns
    named one by one, which numba calls directly (about 10 ns) where it spends some 400 ns
    unpacking ``*data`` on every call."""
    items = "".join(f", data[{i}]" for i in range(columns))
    source = f"def rows_sums(p, rows, out, data):\n    grad_loop(p, rows, False, out{items})\n"
    fn = define_function(source, "rows_sums", {"grad_loop": grad_loop}, "<optikit rows call>")
    return numba.njit(cache=False, error_model="numpy")(fn)


# The gradient loop is a constant of the compiled epoch (a closure), not an argument, which numba
# would call through a pointer: an epoch is compiled per evaluator and kernel.
def _compile_epoch(numba: Any, update: Any, grad_loop: Any) -> Callable[..., Any]:
    @numba.njit(cache=False, error_model="numpy")
    def epoch(p, state, hyper, order, batch, factor, lo, hi, bounded, max_steps, gbuf, data):
        # the engine's step, operation for operation: mean gradient, update, scale, clip, check
        n = order.shape[0]
        steps = 0
        for start in range(0, n, batch):
            if steps >= max_steps:
                break
            rows = order[start:start + batch]
            grad_loop(p, rows, gbuf, data)
            g = gbuf / rows.shape[0]
            if not np.all(np.isfinite(g)):
                return p, state, steps, False
            delta, new_state = update(g, state, p, hyper)
            new = p + delta if factor == 1.0 else p + factor * delta
            if bounded:
                new = np.minimum(np.maximum(new, lo), hi)
            if not np.all(np.isfinite(new)):
                return p, state, steps, False
            p, state = new, new_state
            steps += 1
        return p, state, steps, True

    return epoch


def _compile_epoch_in_place(numba: Any, step: Any, grad_loop: Any) -> Callable[..., Any]:
    @numba.njit(cache=False, error_model="numpy")
    def epoch(p, state, hyper, order, batch, factor, lo, hi, bounded, max_steps, gbuf, data):
        # _compile_epoch's step with no array allocated per step: the same operations element by element
        n, k = order.shape[0], p.shape[0]
        g, delta, new = np.empty(k), np.empty(k), np.empty(k)
        steps = 0
        for start in range(0, n, batch):
            if steps >= max_steps:
                break
            rows = order[start:start + batch]
            grad_loop(p, rows, gbuf, data)
            m = rows.shape[0]
            for j in range(k):
                g[j] = gbuf[j] / m
                if not np.isfinite(g[j]):
                    return p, state, steps, False
            state = step(g, state, p, hyper, delta)
            for j in range(k):
                v = p[j] + delta[j] if factor == 1.0 else p[j] + factor * delta[j]
                if bounded:
                    if v != v:  # NaN, which np.clip keeps and min/max would drop
                        return p, state, steps, False
                    v = min(max(v, lo[j]), hi[j])
                if not np.isfinite(v):
                    return p, state, steps, False
                new[j] = v
            p[:] = new
            steps += 1
        return p, state, steps, True

    return epoch
