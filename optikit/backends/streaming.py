"""Evaluation over a streamed source: the backend's evaluator applied chunk by chunk.

Full-data sums add the partial :class:`Sums` of the chunks (memory: one chunk). Mini-batches
come from :func:`optikit.data.buffered_batches`: the evaluator holds the current buffer, and the
index arrays the engine receives point into it.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..data import DataSource, buffered_batches
from ..symbolic import SymbolicProblem
from .base import Backend, Evaluator, Rows, Sums
from .numba_backend import NumbaBackend
from .numpy import NumpyBackend, NumpyEvaluator
from .vectors import VectorEvaluator

__all__ = ["StreamingEvaluator", "HeldRows", "evaluator_for", "DEFAULT_BUFFER_ROWS"]

#: Rows shuffled together when mini-batches are drawn from a streamed file.
DEFAULT_BUFFER_ROWS = 65536


class HeldRows:
    """Columns already read and checked (a chunk, a cluster's partition) as a source for one
    evaluator, not copied."""

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        self._columns = columns
        self.n_rows = len(next(iter(columns.values())))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._columns)

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        return self._columns if indices is None else {c: a[indices] for c, a in self._columns.items()}

    def chunks(self, rows: int) -> Iterator[Mapping[str, np.ndarray]]:
        for start in range(0, self.n_rows, rows):
            yield {c: a[start:start + rows] for c, a in self._columns.items()}


class StreamingEvaluator:
    """An :class:`~optikit.backends.Evaluator` over a source read in chunks (``source.streaming``)."""

    def __init__(self, problem: SymbolicProblem, source: DataSource, backend: Backend,
                 buffer_rows: int = DEFAULT_BUFFER_ROWS) -> None:
        self.problem = problem
        self.source = source
        self.backend = backend
        self.buffer_rows = buffer_rows
        self.n_rows = source.n_rows
        self._compiled: dict = {}
        self._current: Evaluator | None = None
        rows = getattr(source, "chunk_rows", DEFAULT_BUFFER_ROWS)
        first = next(iter(source.chunks(rows)))  # checks the columns the problem uses, as in memory
        self._probe = self._over(first)

    def _over(self, columns: Mapping[str, np.ndarray]) -> Evaluator:
        rows = HeldRows(columns)
        if self.problem.vectors is not None and isinstance(self.backend, (NumpyBackend, NumbaBackend)):
            # both evaluate sums over vectors so; one cache keeps each chunk from compiling again
            return VectorEvaluator(self.problem, rows, compiled=self._compiled)
        if isinstance(self.backend, NumpyBackend):
            return NumpyEvaluator(self.problem, rows, compiled=self._compiled)
        return self.backend.compile(self.problem, rows)  # type: ignore[arg-type]

    def _chunks(self) -> Iterator[Evaluator]:
        for chunk in self.source.chunks(getattr(self.source, "chunk_rows", DEFAULT_BUFFER_ROWS)):
            if not len(next(iter(chunk.values()))):
                continue
            yield self._over(chunk)

    def batches(self, batch_size: int | None, rng: np.random.Generator | None,
                shuffle: bool = True) -> Iterator[Rows]:
        """One epoch's batches: ``None`` for the full batch, else indices into the current buffer
        (see :func:`optikit.data.buffered_batches`)."""
        if batch_size is None or batch_size >= self.n_rows:
            yield None
            return
        buffer_of = None
        for buffer, rows in buffered_batches(self.source.chunks(), batch_size, self.buffer_rows, rng, shuffle):
            if buffer is not buffer_of:
                self._current, buffer_of = self._over(buffer), buffer
            yield rows

    def _batch(self, rows: np.ndarray) -> Evaluator:
        if self._current is None:
            raise RuntimeError("a streamed source's rows are indexed only within a batch of batches()")
        return self._current

    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        kw = dict(loss=loss, grad=grad, hessian=hessian, gauss_newton=gauss_newton)
        if rows is not None:
            return self._batch(rows).sums(params, rows, **kw)
        total: Sums | None = None
        for part in self._chunks():
            s = part.sums(params, None, **kw)
            total = s if total is None else total + s
        assert total is not None  # a source has at least one row
        return total

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        if rows is not None:
            return self._batch(rows).per_row(params, parts, rows)
        blocks = [part.per_row(params, parts) for part in self._chunks()]
        return [np.concatenate([b[i] for b in blocks], axis=1) for i in range(len(parts))]

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        return self._probe.predict(params, inputs)


def evaluator_for(problem: SymbolicProblem, source: DataSource | None, backend: Backend,
                  buffer_rows: int | None = None) -> Evaluator:
    """``backend``'s evaluator of ``problem`` over ``source``, chunk by chunk when it is streamed."""
    if source is not None and getattr(source, "streaming", False):
        return StreamingEvaluator(problem, source, backend, buffer_rows or DEFAULT_BUFFER_ROWS)
    return backend.compile(problem, source)
