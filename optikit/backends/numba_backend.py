"""The ``numba`` backend (``optikit[fast]``): each group of expressions compiled into one fused
loop over the rows that accumulates all its sums in a single pass.

The loops are printed by :mod:`optikit.backends.codegen` and compiled with ``numba.njit``
without ``fastmath``. Sums follow the NumPy backend's rule up to
:data:`~optikit.backends.numpy.SEQUENTIAL_SUM_ROWS` rows (row order, the same digits); above,
four interleaved accumulators replace NumPy's pairwise sum, so large batches agree with NumPy to
about ``n * 1e-16`` relative rather than digit for digit. Per-row values, predictions and the
Gauss-Newton pieces come from the NumPy evaluator, which this one holds.

:meth:`NumbaEvaluator.epoch` runs a whole epoch of mini-batch steps in compiled code with an
optimizer's :meth:`~optikit.Optimizer.kernel`; the engine calls it when both are there.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..data import DataSource
from ..errors import SpecError
from ..symbolic import SymbolicProblem
from . import scalar
from .base import Backend, Rows, Sums
from .codegen import loop_source
from .numpy import SEQUENTIAL_SUM_ROWS, NumpyEvaluator

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

    def compile(self, problem: SymbolicProblem, source: DataSource | None) -> NumbaEvaluator:
        return NumbaEvaluator(problem, source, load_numba())


_HELPERS: dict[str, Any] = {}


def _namespace(numba: Any) -> dict[str, Any]:
    """What generated loops may call: ``math`` and the compiled scalar helpers."""
    if not _HELPERS:
        jit = numba.njit(cache=False)
        logaddexp = jit(scalar.logaddexp)
        _HELPERS.update(math=math, logaddexp=logaddexp)
        # the helpers call logaddexp by their module's global name; recompile against the jitted one
        for name in ("sigmoid", "softplus"):
            fn = getattr(scalar, name)
            glb = {**fn.__globals__, "logaddexp": logaddexp}
            _HELPERS[name] = jit(type(fn)(fn.__code__, glb, name))
    return dict(_HELPERS)


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
            namespace = _namespace(self._numba)
            exec(compile(text, f"<optikit loop {'+'.join(parts)}>", "exec"), namespace)  # noqa: S102 - printed from vetted trees
            fn = self._numba.njit(cache=False, error_model="numpy")(namespace["loop"])
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
        parts = tuple(p for p, on in (("loss", loss), ("grad", grad), ("hessian", hessian)) if on)
        out: dict[str, Any] = {}
        if parts:
            totals = self._totals(parts, params, rows)
            at = 0
            for part in parts:
                size = 1 if part == "loss" else (k if part == "grad" else k * k)
                out[part] = float(totals[at]) if part == "loss" else totals[at:at + size].copy()
                at += size
            if "hessian" in out:
                out["hessian"] = out["hessian"].reshape(k, k)
        if gauss_newton:
            g = self.reference.sums(params, rows, loss=False, grad=False, gauss_newton=True)
            out["jtj"], out["jtr"] = g.jtj, g.jtr
        return Sums(n, **out)

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        return self.reference.per_row(params, parts, rows)

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        return self.reference.predict(params, inputs)
