"""The summed Hessian of a problem with vectors, assembled from derivatives of the gradient's pieces.

With the gradient written as in :mod:`optikit.symbolic.vectors` (per-row ``g_b`` for a scalar
``b``; ``Σ_t W_t · F_t[j]`` for a vector ``w``), the second derivatives are

* by two scalars, or a scalar and a vector: the derivative of ``g_b`` (again per-row values and
  vector terms), summed over rows;
* by ``w`` and a scalar ``c``: ``Σ_t Σ_rows (∂W_t/∂c · F_t + W_t · ∂F_t/∂c)``;
* by ``w`` and a vector ``v``: ``Σ_t Σ_s Σ_rows W'_s F'_s[i] F_t[j]`` (the weight's own vector
  terms, an outer product per row) plus, on the diagonal, ``Σ_rows W_t · ∂F_t/∂v`` (elements of
  one sum share their index, so an element-wise factor depends on element ``j`` alone).

Each block is a few matrix products over the rows; nothing is written out element by element.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import sympy

from ..symbolic.vectors import Term, without_kinks

if TYPE_CHECKING:
    from .vectors import _Context


@functools.lru_cache(maxsize=4096)
def _factor_derivative(factor: sympy.Expr, by: sympy.Symbol) -> sympy.Expr:
    """An element-wise factor's derivative, once per factor rather than at every evaluation."""
    return without_kinks(sympy.diff(factor, by))


def _outer(ctx: _Context, weight: np.ndarray, left: sympy.Expr, right: sympy.Expr, n: int, m: int) -> np.ndarray:
    """``Σ_rows weight · left[i] · right[j]``, an ``(n, m)`` matrix."""
    a = ctx.piece(ctx.ev.piece(left), n)
    b = ctx.piece(ctx.ev.piece(right), m)
    if a.ndim == 2 and b.ndim == 2:
        return (a * weight[:, None]).T @ b
    if a.ndim == 2:
        return np.outer(a.T @ weight, b)
    if b.ndim == 2:
        return np.outer(a, b.T @ weight)
    return np.outer(a, b) * weight.sum()


def summed_hessian(ctx: _Context) -> np.ndarray:
    """The Hessian of the loss summed over the context's rows, ``(k, k)`` in flat parameter order."""
    ev = ctx.ev
    params = ev.problem.spec.parameters
    at, slots = 0, {}
    for p in params:
        slots[p.name] = slice(at, at + p.size)
        at += p.size
    h = np.zeros((at, at))
    second = ev.vectors.second
    symbols = {p.name: ev.problem.spec.symbols[p.name] for p in params}
    for p in params:
        row = slots[p.name]
        if p.shape is None:
            h[row.start] = ctx.derivative(second[(p.name, -1)], summed=True)
            continue
        for t, term in enumerate(ev.vectors.grad.vector[p.name]):
            d = second[(p.name, t)]
            weight = ctx.rows((term.weight,))[0]
            for q in params:
                col, df = slots[q.name], _factor_derivative(term.factor, symbols[q.name])
                if q.shape is None:
                    dw = ctx.rows((d.scalar[q.name],))[0]
                    h[row, col.start] += ctx.contract(dw, term, p.size)
                    if df != 0:
                        h[row, col.start] += ctx.contract(weight, Term(term.weight, df), p.size)
                    continue
                for inner in d.vector[q.name]:
                    w2 = ctx.rows((inner.weight,))[0]
                    h[row, col] += _outer(ctx, w2, term.factor, inner.factor, p.size, q.size)
                if df != 0:
                    h[row, col] += np.diag(ctx.contract(weight, Term(term.weight, df), p.size))
    return h

