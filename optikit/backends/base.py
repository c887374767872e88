"""What a backend is: it compiles a :class:`~optikit.symbolic.SymbolicProblem` against a
:class:`~optikit.data.DataSource` into an :class:`Evaluator` that returns **partial sums** over rows.

Sums, not means: the sums of two sets of rows add up to the sum over both, so chunks of a file,
threads and workers of a cluster all reduce the same way, and the engine divides once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..data import DataSource
from ..symbolic import SymbolicProblem

__all__ = ["Sums", "Evaluator", "Backend", "BatchOracle", "Rows", "summed_parts", "split_totals"]

#: Rows of the data: an index array, or ``None`` for all of them in order.
Rows = np.ndarray | None


@dataclass(frozen=True)
class Sums:
    """Sums over ``n`` rows of the per-sample loss, gradient, Hessian, and the Gauss-Newton pieces
    ``JᵀJ`` and ``Jᵀr`` of the residuals; a piece not asked for is ``None``."""

    n: int
    loss: float | None = None
    grad: np.ndarray | None = None
    hessian: np.ndarray | None = None
    jtj: np.ndarray | None = None
    jtr: np.ndarray | None = None

    def __add__(self, other: Sums) -> Sums:
        def add(a: Any, b: Any) -> Any:
            return None if a is None or b is None else a + b

        return Sums(self.n + other.n, add(self.loss, other.loss), add(self.grad, other.grad),
                    add(self.hessian, other.hessian), add(self.jtj, other.jtj), add(self.jtr, other.jtr))


def summed_parts(loss: bool, grad: bool, hessian: bool) -> tuple[str, ...]:
    """The expression groups a :meth:`Evaluator.sums` call totals, in the order they are evaluated together."""
    return tuple(p for p, on in (("loss", loss), ("grad", grad), ("hessian", hessian)) if on)


def split_totals(parts: tuple[str, ...], totals: Any, k: int) -> dict[str, Any]:
    """The totals of ``parts`` (one flat sequence) as :class:`Sums` fields for ``k`` parameters."""
    out: dict[str, Any] = {}
    at = 0
    for part in parts:
        size = 1 if part == "loss" else (k if part == "grad" else k * k)
        out[part] = float(totals[at]) if part == "loss" else np.array(totals[at:at + size], dtype=float)
        at += size
    if "hessian" in out:
        out["hessian"] = out["hessian"].reshape(k, k)
    return out


@runtime_checkable
class Evaluator(Protocol):
    """Numbers from a problem's expressions over the rows of one source."""

    problem: SymbolicProblem
    #: rows of the source (1 for an objective without data)
    n_rows: int

    def sums(self, params: np.ndarray, rows: Rows = None, *, loss: bool = True, grad: bool = True,
             hessian: bool = False, gauss_newton: bool = False) -> Sums:
        """Partial sums over ``rows`` at ``params`` of what is asked for."""
        ...

    def per_row(self, params: np.ndarray, parts: Sequence[str], rows: Rows = None) -> list[np.ndarray]:
        """For each expression group in ``parts``, a ``(len(group), n)`` array of its values per row."""
        ...

    def predict(self, params: np.ndarray, inputs: Mapping[str, Any]) -> np.ndarray:
        """The model at ``params`` for input columns ``inputs`` (name -> value or values)."""
        ...


class Backend:
    """Base class of backends; a plugin registers a subclass through ``optikit_register_backends``."""

    name: ClassVar[str]

    def compile(self, problem: SymbolicProblem, source: DataSource | None) -> Evaluator:
        """An evaluator of ``problem`` over ``source`` (``None`` for an objective without data)."""
        raise NotImplementedError


@dataclass(frozen=True)
class BatchOracle:
    """The :class:`~optikit.Oracle` of one batch: loss derivatives restricted to its rows."""

    evaluator: Evaluator
    rows: Rows = None

    def loss(self, params: np.ndarray) -> float:
        s = self.evaluator.sums(params, self.rows, loss=True, grad=False)
        return s.loss / s.n

    def grad(self, params: np.ndarray) -> np.ndarray:
        s = self.evaluator.sums(params, self.rows, loss=False, grad=True)
        return s.grad / s.n

    def hessian(self, params: np.ndarray) -> np.ndarray:
        s = self.evaluator.sums(params, self.rows, loss=False, grad=False, hessian=True)
        return s.hessian / s.n

    # residual and Jacobian are evaluated as one group: they share subexpressions, and one common
    # elimination over both is the arithmetic a least-squares method has always been given
    def residuals(self, params: np.ndarray) -> np.ndarray:
        return self.evaluator.per_row(params, ("residual", "jacobian"), self.rows)[0][0].copy()

    def jacobian(self, params: np.ndarray) -> np.ndarray:
        return self.evaluator.per_row(params, ("residual", "jacobian"), self.rows)[1].T.copy()
