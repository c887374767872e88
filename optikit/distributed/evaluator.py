"""The client's side of a run on a cluster: an :class:`~optikit.backends.Evaluator` whose sums
are added up from the partial sums of the partitions, each computed where its rows are held.

The optimizer never knows: the engine asks for sums over all rows or over a batch's global row
indices; a batch is split by partition (each keeps its rows in the batch's order), and the
partial :class:`~optikit.backends.Sums` are added on the client in partition order, so a run
does not depend on which worker answered first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..backends.base import BatchOracle, Rows, Sums
from ..backends.numpy import NumpyEvaluator
from ..backends.problem import Problem
from ..backends.streaming import HeldRows
from ..data import batches
from ..errors import OptikitError, RunError, SpecError
from ..symbolic import SymbolicProblem
from .cluster import Session
from .worker import ProblemText, StreamedFile, partition_cost, partition_curvature, partition_per_row, partition_sums

__all__ = ["ClusterEvaluator", "ClusterOracle", "ClusterProblem"]


class ClusterEvaluator:
    """Sums over partitions held in the memory of a Dask cluster's workers."""

    def __init__(self, problem: SymbolicProblem, session: Session, text: ProblemText, partitions: list[Any],
                 lengths: Sequence[int], rescatter: Callable[[], list[Any]] | None = None) -> None:
        self.problem = problem
        #: scatters the client's rows again: Dask recomputes partitions read from files, not scattered ones
        self.rescatter = rescatter
        self.session = session
        self.text = text
        #: futures of the partitions: held here, so the rows stay in worker memory between steps
        self.partitions = partitions
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.n_rows = int(self.offsets[-1])
        self._probe: NumpyEvaluator | None = None

    def _split(self, rows: Rows) -> tuple[list[tuple[int, Rows]], np.ndarray | None]:
        """``(partition, local rows)`` pairs in partition order, and the permutation that puts
        their concatenated rows back in the batch's order."""
        if rows is None:
            return [(i, None) for i in range(len(self.partitions))], None
        rows = np.asarray(rows, dtype=np.int64)
        where = np.searchsorted(self.offsets, rows, side="right") - 1
        order = np.argsort(where, kind="stable")
        return [(int(i), rows[where == i] - self.offsets[i]) for i in np.unique(where)], order

    def _map(self, fn: Callable[..., Any], params: np.ndarray, rows: Rows, extra: Any) -> list[Any]:
        pieces, _ = self._split(rows)
        client = self.session.client
        params = np.array(params, dtype=float)
        for attempt in (1, 2):
            futures = [client.submit(fn, self.text, self.partitions[i], params, local, extra, pure=False)
                       for i, local in pieces]
            try:
                return client.gather(futures)
            except OptikitError:
                raise
            except Exception as exc:  # the cluster failed past what Dask recovers (every retry of a task lost)
                if attempt == 1 and self.rescatter is not None and any(p.status != "finished" for p in self.partitions):
                    self.partitions = self.rescatter()  # a worker took scattered rows with it
                    continue
                raise RunError(f"the Dask cluster could not compute a step: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        parts = self._map(partition_sums, params, rows, (loss, grad, hessian, gauss_newton))
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def cost(self, params: np.ndarray, rows: Rows = None, normal: bool = False) -> tuple[float, Any, Any]:
        """``Σr²`` of a least-squares loss over ``rows`` and, with ``normal``, ``JᵀJ`` and ``Jᵀr``."""
        parts = self._map(partition_cost, params, rows, normal)
        rr, jtj, jtr = parts[0]
        for r2, a, b in parts[1:]:
            rr += r2
            if normal:
                jtj, jtr = jtj + a, jtr + b
        return rr, jtj, jtr

    def curvature(self, params: np.ndarray, v: np.ndarray, h: float, rows: Rows = None) -> np.ndarray:
        """``Jᵀ r_vv`` along ``v`` over ``rows`` (see :func:`~.worker.partition_curvature`), added in partition order."""
        parts = self._map(partition_curvature, params, rows, (np.asarray(v, dtype=float), float(h)))
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        """Per-row values gathered to the client (every row of the batch: use for checks and
        reports, not in a step)."""
        blocks = self._map(partition_per_row, params, rows, tuple(parts))
        _, order = self._split(rows)
        out = [np.concatenate([b[k] for b in blocks], axis=1) for k in range(len(parts))]
        if order is not None:
            for k, values in enumerate(out):
                placed = np.empty_like(values)
                placed[:, order] = values
                out[k] = placed
        return out

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        if self._probe is None:  # the model needs no rows: a local evaluator over one placeholder row
            self._probe = NumpyEvaluator(self.problem, HeldRows({c: np.zeros(1) for c in self.problem.spec.columns}))
        return self._probe.predict(params, inputs)

    def batches(self, batch_size: int | None, rng: np.random.Generator | None, shuffle: bool = True) -> Iterator[Rows]:
        """The batches a local run over the same rows draws: global row indices."""
        if batch_size is not None and batch_size < self.n_rows and self.streamed:
            raise SpecError("mini-batches are drawn from rows held in worker memory; this data set has files larger "
                            "than memory_budget_mb, which the workers stream", field="data.memory_budget_mb",
                            hint="raise memory_budget_mb, split the files, or use a full-batch optimizer")
        return batches(self.n_rows, batch_size, rng, shuffle)

    @property
    def streamed(self) -> bool:
        """Whether some partition is read from its file at every pass rather than held."""
        return any(isinstance(p, StreamedFile) for p in self.partitions)


@dataclass(frozen=True)
class ClusterOracle(BatchOracle):
    """A batch's oracle that also offers the Gauss-Newton pieces summed on the workers, so a
    least-squares method need not bring every residual to the client."""

    def gauss_newton(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """``(JᵀJ, Jᵀr, Σr²)`` over the batch's rows."""
        rr, jtj, jtr = self.evaluator.cost(params, self.rows, normal=True)  # type: ignore[attr-defined]
        return jtj, jtr, rr

    def residual_cost(self, params: np.ndarray) -> float:
        """``Σr²`` over the batch's rows."""
        return self.evaluator.cost(params, self.rows)[0]  # type: ignore[attr-defined]

    def geodesic(self, params: np.ndarray, v: np.ndarray, h: float) -> np.ndarray:
        """``Jᵀ r_vv`` along ``v`` over the batch's rows, for geodesic acceleration."""
        return self.evaluator.curvature(params, v, h, self.rows)  # type: ignore[attr-defined]


@dataclass(eq=False)
class ClusterProblem(Problem):
    """A problem whose rows are on a cluster; ``session`` is closed by whoever opened it."""

    session: Session | None = None

    def oracle(self, rows: Rows = None) -> BatchOracle:
        return ClusterOracle(self.evaluator, rows)
