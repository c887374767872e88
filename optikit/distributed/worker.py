"""What runs on a Dask worker: the problem built there from the spec's text, once per worker
process and cached by its digest (its NumPy functions compiled once per worker thread), and the
partial sums of one partition with the NumPy evaluator a local run uses.

Nothing compiled travels: a task carries the spec's text, the named losses' texts and a digest
of the expressions the client derived; the worker derives its own and refuses to evaluate if
they differ (another optikit or SymPy version on the worker, say).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from ..backends.base import Sums
from ..backends.numpy import NumpyBackend, NumpyEvaluator
from ..backends.streaming import HeldRows, StreamingEvaluator
from ..data import DataError, DataRef, open_source
from ..data.parquet import read_row_groups
from ..spec.load import loads_spec
from ..symbolic import SymbolicProblem, symbolic_problem

__all__ = ["ProblemText", "expression_digest", "load_partition", "load_row_groups", "partition_rows", "partition_sums",
           "partition_cost", "partition_curvature", "partition_per_row", "StreamedFile", "sigma_problem"]


@dataclass(frozen=True)
class ProblemText:
    """What a worker needs to build a spec's problem: plain text and flags, nothing executable."""

    spec_text: str
    spec_path: str | None
    losses: tuple[tuple[str, str], ...]
    hand_gradient: bool
    #: :func:`expression_digest` of the problem the client built
    digest: str


def expression_digest(problem: SymbolicProblem) -> str:
    """A SHA-256 of a problem's canonical expressions, parameter order and columns."""
    text = repr((problem.parameter_names, problem.spec.columns, str(problem.loss_expr),
                 [str(g) for g in problem.grad_exprs]))
    return hashlib.sha256(text.encode()).hexdigest()


# digest -> thread -> (problem, compiled groups): a worker derives once, and each of its threads
# compiles its own groups, since a group's buffered pass writes into buffers it owns
_BUILT: dict[str, SymbolicProblem] = {}
_COMPILED: dict[tuple[str, int], dict] = {}
_LOCK = threading.Lock()


def _problem(text: ProblemText) -> SymbolicProblem:
    with _LOCK:
        problem = _BUILT.get(text.digest)
        if problem is None:
            spec = loads_spec(text.spec_text, path=text.spec_path)
            problem = symbolic_problem(spec, dict(text.losses), use_hand_gradient=text.hand_gradient)
            if expression_digest(problem) != text.digest:
                raise RuntimeError("this worker derived other expressions from the spec than the client did; "
                                   "install the same optikit and SymPy versions on the workers")
            _BUILT[text.digest] = problem
        return problem


@dataclass(frozen=True)
class StreamedFile:
    """A file too large for a worker's memory budget: read a chunk at a time at every pass."""

    kind: str
    path: str
    columns: tuple[str, ...]
    options: tuple[tuple[str, Any], ...]
    sigma: str | None = None

    def source(self) -> Any:
        options = {**dict(self.options), "stream": True, "files": None}
        return open_source(DataRef(self.kind, self.columns, Path(self.path), MappingProxyType(options)))


def _evaluator(text: ProblemText, columns: Mapping[str, np.ndarray] | StreamedFile) -> Any:
    problem = _problem(text)
    compiled = _COMPILED.setdefault((text.digest, threading.get_ident()), {})
    if isinstance(columns, StreamedFile):  # the local run's chunked evaluation, on the worker
        return StreamingEvaluator(problem, columns.source(), NumpyBackend())
    return NumpyEvaluator(problem, HeldRows(columns), compiled=compiled)


def load_partition(kind: str, path: str, columns: tuple[str, ...], options: Mapping[str, Any],
                   sigma: str | None = None) -> dict[str, np.ndarray]:
    """The columns of one file, read on the worker by the reader a local run uses."""
    ref = DataRef(kind, columns, Path(path), MappingProxyType({**options, "stream": False, "files": None}))
    data = open_source(ref).take(None)
    out = {c: np.asarray(data[c]) for c in columns}
    problem = sigma_problem(out, sigma)
    if problem is not None:
        raise DataError(f"{Path(path).name}: {problem}", ref.field)
    return out


def sigma_problem(columns: Mapping[str, np.ndarray], sigma: str | None, first: int = 0) -> str | None:
    """What is wrong with the ``sigma`` column of these rows (``first``: the number of the rows
    before them), if anything: a standard deviation must be positive and finite (a zero would
    weight its row infinitely)."""
    if sigma is None or sigma not in columns:
        return None
    values = np.asarray(columns[sigma], dtype=float)
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if not len(bad):
        return None
    return (f"sigma column {sigma!r} must be positive and finite; row {first + int(bad[0]) + 1} is "
            f"{float(values[bad[0]])!r}")


def load_row_groups(path: str, columns: tuple[str, ...], groups: tuple[int, ...], first: int, missing: str,
                    sigma: str | None = None) -> dict[str, np.ndarray]:
    """Consecutive row groups of a parquet file, read on the worker and checked as a local run checks them."""
    try:
        out = read_row_groups(Path(path), list(columns), list(groups), first, missing)
    except ValueError as exc:
        raise DataError(f"{Path(path).name}: {exc}", ("data", "parquet")) from None
    for a in out.values():
        a.flags.writeable = False
    problem = sigma_problem(out, sigma, first)
    if problem is not None:
        raise DataError(f"{Path(path).name}: {problem}", ("data", "parquet"))
    return out


def partition_rows(columns: Mapping[str, np.ndarray] | StreamedFile) -> int:
    """The rows of a partition; a streamed file is counted (and its sigma column checked) in one pass."""
    if not isinstance(columns, StreamedFile):
        return len(next(iter(columns.values())))
    n = 0
    for chunk in columns.source().chunks():
        problem = sigma_problem(chunk, columns.sigma, first=n)
        if problem is not None:
            raise DataError(f"{Path(columns.path).name}: {problem}", ("data", columns.kind))
        n += len(next(iter(chunk.values())))
    return n


def partition_sums(text: ProblemText, columns: Mapping[str, np.ndarray], params: np.ndarray,
                   rows: np.ndarray | None, flags: tuple[bool, bool, bool, bool]) -> Sums:
    """Partial sums over ``rows`` of the partition (all of them for ``None``): loss, gradient,
    Hessian, ``JᵀJ`` and ``Jᵀr`` as ``flags`` ask."""
    loss, grad, hessian, gauss_newton = flags
    return _evaluator(text, columns).sums(params, rows, loss=loss, grad=grad, hessian=hessian,
                                          gauss_newton=gauss_newton)


def partition_cost(text: ProblemText, columns: Mapping[str, np.ndarray], params: np.ndarray,
                   rows: np.ndarray | None, normal: bool) -> tuple[float, Any, Any]:
    """``Σr²`` over the rows of a least-squares loss and, with ``normal``, ``JᵀJ`` and ``Jᵀr``."""
    # one group, as a local least-squares method evaluates it: the same common subexpressions, the same digits
    out = _evaluator(text, columns).per_row(params, ("residual", "jacobian"), rows)
    r = out[0][0]
    if not normal:
        return float(r @ r), None, None
    jac = out[1]
    return float(r @ r), jac @ jac.T, jac @ r


def partition_curvature(text: ProblemText, columns: Mapping[str, np.ndarray], params: np.ndarray,
                        rows: np.ndarray | None, along: tuple[np.ndarray, float]) -> np.ndarray:
    """``Jᵀ r_vv`` over the rows: the residuals' second directional derivative along ``v`` by a
    forward difference of step ``h``, as geodesic acceleration takes it (optimizers/levenberg.py)."""
    v, h = along
    ev = _evaluator(text, columns)
    r, jac = ev.per_row(params, ("residual", "jacobian"), rows)
    ahead = ev.per_row(params + h * v, ("residual", "jacobian"), rows)[0][0]
    r_vv = (2.0 / h) * ((ahead - r[0]) / h - jac.T @ v)
    return jac @ r_vv


def partition_per_row(text: ProblemText, columns: Mapping[str, np.ndarray], params: np.ndarray,
                      rows: np.ndarray | None, parts: Sequence[str]) -> list[np.ndarray]:
    return _evaluator(text, columns).per_row(params, parts, rows)
