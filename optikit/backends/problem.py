"""A compiled problem: the symbolic problem and its evaluator side by side, with batch means.

This is what the engine trains and what reports, plugins and gradient checks read: names and
bounds from the :class:`~optikit.symbolic.SymbolicProblem`, numbers from the
:class:`~optikit.backends.Evaluator` (sums, divided here once).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

import numpy as np
import sympy

from ..data import DataSource, batches
from ..spec import Spec
from ..symbolic import SymbolicProblem
from .base import Backend, BatchOracle, Evaluator, Rows
from .numpy import NumpyBackend
from .streaming import evaluator_for

__all__ = ["Problem"]


@dataclass(eq=False)
class Problem:
    """A spec compiled by a backend against its data: loss, gradient, Hessian as batch means."""

    symbolic: SymbolicProblem
    evaluator: Evaluator
    source: DataSource | None = None
    backend: Backend | None = None
    #: the evaluator of held-out rows (``split`` in the spec's data section), if any
    validation: Evaluator | None = None
    validation_source: DataSource | None = None

    def with_gradient(self, grads: tuple[sympy.Expr, ...]) -> Problem:
        """The same problem over the same data, trained on ``grads`` (one per parameter) instead."""
        if tuple(grads) == self.symbolic.grad_exprs:
            return self
        return self._recompiled(replace(self.symbolic, grad_exprs=tuple(grads), cse=True))

    def with_parts(self, **groups: tuple[sympy.Expr, ...]) -> Problem:
        """The same problem over the same data with more expression groups to evaluate."""
        return self._recompiled(self.symbolic.with_parts(**groups))

    def _recompiled(self, symbolic: SymbolicProblem) -> Problem:
        backend = self.backend if self.backend is not None else NumpyBackend()
        evaluator = evaluator_for(symbolic, self.source, backend, getattr(self.evaluator, "buffer_rows", None))
        held = self.validation_source
        validation = evaluator_for(symbolic, held, backend) if held is not None else None
        return Problem(symbolic, evaluator, self.source, backend, validation=validation, validation_source=held)

    # ---- structure -----------------------------------------------------------------------
    @property
    def spec(self) -> Spec:
        return self.symbolic.spec

    @property
    def name(self) -> str:
        return self.symbolic.name

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self.symbolic.parameter_names

    @property
    def params(self) -> list[sympy.Symbol]:
        return self.symbolic.params

    @property
    def initial(self) -> np.ndarray:
        """Initial parameter vector, in declaration order."""
        return np.array(self.symbolic.initial, dtype=float)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of the parameters (``-inf`` where there is none)."""
        return np.array(self.symbolic.lower, dtype=float)

    @property
    def upper(self) -> np.ndarray:
        return np.array(self.symbolic.upper, dtype=float)

    @property
    def loss_expr(self) -> sympy.Expr:
        return self.symbolic.loss_expr

    @property
    def grad_exprs(self) -> tuple[sympy.Expr, ...]:
        return self.symbolic.grad_exprs

    @property
    def derived_grad_exprs(self) -> tuple[sympy.Expr, ...]:
        return self.symbolic.derived_grad_exprs

    @property
    def hessian_exprs(self) -> tuple[tuple[sympy.Expr, ...], ...]:
        return self.symbolic.hessian_exprs

    @property
    def columns(self) -> tuple[str, ...]:
        return self.symbolic.columns

    @property
    def n_rows(self) -> int:
        """Rows of data; an objective without data counts as one row."""
        return self.evaluator.n_rows

    @property
    def data(self) -> DataSource | None:
        return self.source

    def batches(self, batch_size: int | None, rng: np.random.Generator | None, shuffle: bool = True) -> Iterator[Rows]:
        """One epoch's batches (:func:`optikit.data.batches`; a streamed source draws them within
        its shuffle buffer, see :func:`optikit.data.buffered_batches`)."""
        stream = getattr(self.evaluator, "batches", None)
        if stream is not None:
            return stream(batch_size, rng, shuffle)
        return batches(self.n_rows, batch_size, rng, shuffle)

    def validation_loss(self, params: np.ndarray) -> float | None:
        """Mean loss over the held-out rows; ``None`` without a validation split."""
        if self.validation is None:
            return None
        s = self.validation.sums(params, grad=False)
        return s.loss / s.n

    # ---- batch means ---------------------------------------------------------------------
    def loss_and_grad(self, params: np.ndarray, rows: Rows = None) -> tuple[float, np.ndarray]:
        """Batch-mean loss and gradient at ``params`` over ``rows`` (all rows when ``None``)."""
        s = self.evaluator.sums(params, rows)
        return s.loss / s.n, s.grad / s.n

    def loss(self, params: np.ndarray, rows: Rows = None) -> float:
        """Batch-mean loss at ``params``."""
        s = self.evaluator.sums(params, rows, grad=False)
        return s.loss / s.n

    def grad(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """Batch-mean gradient at ``params`` (the loss is not computed)."""
        s = self.evaluator.sums(params, rows, loss=False)
        return s.grad / s.n

    def hessian(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """Batch-mean Hessian ``(p, p)`` at ``params``."""
        s = self.evaluator.sums(params, rows, loss=False, grad=False, hessian=True)
        return s.hessian / s.n

    def per_sample(self, params: np.ndarray, rows: Rows = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss ``(n,)`` and gradient ``(p, n)`` at ``params``."""
        loss, grad = self.evaluator.per_row(params, ("loss", "grad"), rows)
        return loss[0], grad

    def residuals(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """Per-row residuals ``r`` with ``loss == mean(r**2)``."""
        return self.oracle(rows).residuals(params)

    def jacobian(self, params: np.ndarray, rows: Rows = None) -> np.ndarray:
        """``(n, p)`` derivatives of the residuals by the parameters."""
        return self.oracle(rows).jacobian(params)

    def oracle(self, rows: Rows = None) -> BatchOracle:
        """The :class:`~optikit.Oracle` of one batch."""
        return BatchOracle(self.evaluator, rows)

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        """The model's prediction at ``params`` for input columns ``inputs`` (name -> value(s))."""
        return self.evaluator.predict(params, inputs)
