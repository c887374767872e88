"""Is a hand-written derivative the same function as SymPy's? Decided symbolically, with bounded effort.

"Identical" means the hand gradient reads as SymPy prints the derived one; equal functions
written differently are "equal after simplification", even when SymPy's automatic evaluation
alone makes the trees equal (``2*(a + b)`` is parsed as ``2*a + 2*b``).
Cheap rewrites (``expand``, ``cancel``) go first; ``simplify`` only runs on differences small
enough that it finishes quickly (a size guard, since SymPy cannot be interrupted in-process).
A difference that does not vanish is called "differs" only when it is visibly non-zero at some
sample point; otherwise the question stays open and the numeric check decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import sympy

from ..expr.special import elementary

__all__ = ["Equivalence", "compare", "IDENTICAL", "SIMPLIFIED", "DIFFERS", "UNDECIDED", "SIMPLIFY_MAX_OPS"]

IDENTICAL = "identical"
SIMPLIFIED = "equal after simplification"
DIFFERS = "differs"
UNDECIDED = "undecided (numeric check only)"
#: ``simplify``/``factor`` run only on differences with at most this many operations.
SIMPLIFY_MAX_OPS = 120


@dataclass(frozen=True)
class Equivalence:
    """The symbolic verdict on ``hand == derived`` and, unless they are equal, ``hand - derived``."""

    verdict: str
    difference: sympy.Expr | None = None
    #: ``c`` when ``hand == c * derived`` for a constant ``c != 1``: the commonest slip (a lost 2 or sign)
    factor: sympy.Expr | None = None

    @property
    def equal(self) -> bool:
        return self.verdict in (IDENTICAL, SIMPLIFIED)


def _is_zero(expr: sympy.Expr) -> bool:
    return expr == 0 or expr.is_zero is True


def _unsign(expr: sympy.Expr) -> sympy.Expr:
    """``-2*(x - w)*r`` as ``2*(w - x)*r``: a leading minus moved into the first sum."""
    if not isinstance(expr, sympy.Mul) or not expr.could_extract_minus_sign():
        return expr
    factors = list(expr.args)
    for i, f in enumerate(factors):
        if isinstance(f, sympy.Add):
            coeff = [g for j, g in enumerate(factors) if j != i]
            return sympy.Mul(-sympy.Mul(*coeff), -f)
    return expr


def _tidy(diff: sympy.Expr) -> sympy.Expr:
    """A readable form of a non-zero difference: the shortest of its factored forms, when cheap."""
    if sympy.count_ops(diff) > SIMPLIFY_MAX_OPS or diff.has(sympy.Piecewise):
        return diff
    forms = [diff]
    for rewrite in (lambda e: _unsign(sympy.factor(e)), sympy.factor_terms):
        try:
            forms.insert(0, rewrite(diff))
        except (sympy.PolynomialError, TypeError, ValueError):
            pass
    return min(forms, key=lambda e: len(sympy.sstr(e)))


def _visibly_nonzero(diff: sympy.Expr, samples: Iterable[Mapping[sympy.Symbol, float]]) -> bool:
    free = sorted(diff.free_symbols, key=lambda s: s.name)
    fn = sympy.lambdify(free, diff, modules="numpy", docstring_limit=0)
    with np.errstate(all="ignore"):
        for sample in samples:
            try:
                value = np.asarray(fn(*[sample.get(s, 0.0) for s in free]), dtype=float)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                continue
            finite = value[np.isfinite(value)]
            if finite.size and float(np.max(np.abs(finite))) > 1e-9:
                return True
    return False


def _factor(derived: sympy.Expr, hand: sympy.Expr) -> sympy.Expr | None:
    """The constant ``c != 1`` with ``hand == c * derived``, if the ratio cheaply reduces to one."""
    if derived == 0:
        return None
    ratio = hand / derived
    for rewrite in (sympy.cancel, sympy.simplify):
        if not ratio.free_symbols or sympy.count_ops(ratio) > SIMPLIFY_MAX_OPS:
            break
        try:
            ratio = rewrite(ratio)
        except (sympy.PolynomialError, TypeError, ValueError):
            break
    if ratio.free_symbols or not ratio.is_number or ratio.is_finite is not True or ratio in (0, 1):
        return None
    return ratio


def compare(derived: sympy.Expr, hand: sympy.Expr,
            samples: Iterable[Mapping[sympy.Symbol, float]] = (), written: str | None = None) -> Equivalence:
    """Decide whether ``hand`` equals ``derived``: identical, equal after simplification, or not.

    ``written`` is the hand gradient's text as the user wrote it (default: ``hand`` printed);
    IDENTICAL means it reads like the derived one up to spaces. ``samples`` (symbol -> value or
    array) are where a non-vanishing difference is evaluated to prove that it differs; without a
    non-zero value there the verdict is ``UNDECIDED``.
    """
    text = sympy.sstr(hand) if written is None else written
    if "".join(text.split()) == "".join(sympy.sstr(derived).split()):
        return Equivalence(IDENTICAL)
    if derived == hand:
        return Equivalence(SIMPLIFIED)
    diff = elementary(hand - derived)  # sigmoid(z)*(1 - sigmoid(z)) must match exp(-z)/(1 + exp(-z))**2
    for rewrite in (sympy.expand, sympy.cancel):
        try:
            if _is_zero(rewrite(diff)):
                return Equivalence(SIMPLIFIED)
        except (sympy.PolynomialError, TypeError, ValueError):
            continue
    if sympy.count_ops(diff) <= SIMPLIFY_MAX_OPS:
        simplified = sympy.simplify(diff)
        if _is_zero(simplified):
            return Equivalence(SIMPLIFIED)
        diff = simplified
    shown = _tidy(diff)
    if _visibly_nonzero(diff, samples):
        return Equivalence(DIFFERS, shown, _factor(derived, hand))
    return Equivalence(UNDECIDED, shown)
