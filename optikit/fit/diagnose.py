"""Why an information matrix is singular, read from the symbolic model where it shows.

Two parameters the model sees only through ``a*b`` satisfy ``a*df/da == b*df/db``; through
``a + b``, ``df/da == df/db``; through ``a/b``, ``a*df/da == -b*df/db``. A parameter the loss
does not depend on has a zero derivative. Each identity is checked with SymPy, so the report
can name the reason instead of printing an undefined standard error.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import sympy

__all__ = ["explain_singular", "null_directions"]

# Pairs tried for a combination; beyond this many parameters in the null space the SymPy checks
# cost more than the plain numeric statement is worth.
_MAX_PAIRS = 15


def null_directions(info: np.ndarray, rtol: float) -> list[np.ndarray]:
    """Unit vectors spanning the numerical null space of the symmetric matrix ``info``, after
    scaling it to unit diagonal (so parameters in different units compare)."""
    d = np.sqrt(np.abs(np.diag(info)))
    scale = np.where(d > 0, d, 1.0)
    eigval, eigvec = np.linalg.eigh(info / np.outer(scale, scale))
    top = max(float(np.max(np.abs(eigval), initial=0.0)), 1.0)
    return [eigvec[:, i] for i in range(len(eigval)) if eigval[i] <= rtol * top]


def _zero(e: sympy.Expr) -> bool:
    if e == 0:
        return True
    try:
        return sympy.simplify(e) == 0
    except Exception:  # a simplification SymPy cannot finish proves nothing either way
        return False


def explain_singular(expr: sympy.Expr | None, symbols: Sequence[sympy.Symbol], names: Sequence[str],
                     involved: Sequence[int], zero_columns: Sequence[int]) -> list[str]:
    """Sentences naming why the parameters ``involved`` (indices) are not determined.

    ``expr`` is what the data sees of the parameters (the residual, or the per-sample loss);
    ``zero_columns`` are parameters whose derivative is zero at every row of the data.
    """
    reasons: list[str] = []
    explained: set[int] = set()
    derivs = {i: sympy.diff(expr, symbols[i]) for i in involved} if expr is not None else {}
    for i in involved:
        if expr is not None and _zero(derivs[i]):
            reasons.append(f"the loss does not depend on {names[i]!r}")
            explained.add(i)
        elif i in zero_columns:
            reasons.append(f"the loss does not change with {names[i]!r} at these data and parameter values "
                           "(its derivative is zero on every row)")
            explained.add(i)
    pairs = [(i, j) for i, j in itertools.combinations(involved, 2) if i not in explained and j not in explained]
    if expr is not None and len(pairs) <= _MAX_PAIRS:
        for i, j in pairs:
            a, b = symbols[i], symbols[j]
            da, db = derivs[i], derivs[j]
            for identity, how in ((a * da - b * db, f"{names[i]}*{names[j]}"), (da - db, f"{names[i]} + {names[j]}"),
                                  (a * da + b * db, f"{names[i]}/{names[j]}")):
                if _zero(identity):
                    reasons.append(f"{names[i]!r} and {names[j]!r} enter the model only through {how}: "
                                   "the data cannot tell them apart")
                    explained.update((i, j))
                    break
    rest = [names[i] for i in involved if i not in explained]
    if rest:
        reasons.append(f"the data do not determine {', '.join(repr(n) for n in rest)} separately "
                       "(a combination of them leaves the loss unchanged to rounding)")
    return reasons
