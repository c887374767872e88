"""The common subexpressions of a group of expressions, the one elimination every backend runs.

Before ``sympy.cse`` looks for shared subtrees, a sum whose coefficients share a power of two
is written with that factor outside: SymPy's derivative of ``(b + w*x - y)**2`` by ``b`` is
``2*b + 2*w*x - 2*y``, which shares nothing with the loss, while ``2*(b + w*x - y)`` shares the
residual, computed once a row instead of with three products and two sums more. Scaling by a
power of two is exact in binary floating point (away from overflow and from results below the
normal range, about 1e-308), so the factored sum has the value of the distributed one, bit for
bit. What can change is which other subtrees ``cse`` then shares, and with them the order in
which the terms of a sum are added: a model's floats may differ in the last place from those of
a plain ``sympy.cse``, as they may between any two orders of summation. The seed program's
digits are unchanged (tests/test_seed.py).
"""

from __future__ import annotations

from typing import Any, Sequence

import sympy

__all__ = ["shared_subexpressions", "factor_powers_of_two", "two_power", "FirstOf"]


def two_power(c: sympy.Rational) -> int | None:
    """``k`` with ``|c| = 2**k * odd/odd``: the power of two in a rational coefficient."""
    if c == 0:
        return None
    p, q = abs(int(c.p)), int(c.q)
    return (p & -p).bit_length() - (q & -q).bit_length()


def _factored(e: sympy.Add) -> sympy.Expr:
    coeffs = [t.as_coeff_Mul()[0] for t in e.args]
    if not all(c.is_Rational for c in coeffs):
        return e
    powers = [two_power(c) for c in coeffs]
    if any(k is None for k in powers):
        return e
    k = min(powers)  # type: ignore[type-var]
    if k <= 0:
        return e
    f = sympy.Integer(2) ** k
    inner = sympy.Add(*[t / f for t in e.args])
    # unevaluated: SymPy would distribute the number over the sum again
    return sympy.Mul(f, inner, evaluate=False)


def factor_powers_of_two(exprs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
    """``exprs`` with every sum's common power-of-two coefficient taken outside it. Each shared
    subtree is rewritten once (the components of a wide model's gradient hold the same sums)."""
    memo: dict[int, sympy.Expr] = {}
    keep: list[sympy.Basic] = []  # ids stay valid while their trees are alive

    def visit(e: sympy.Basic) -> sympy.Basic:
        found = memo.get(id(e))
        if found is not None:
            return found
        keep.append(e)
        out = e
        if isinstance(e, (sympy.Add, sympy.Mul)):
            # only sums and products are rebuilt (unevaluated): SymPy would rewrite a power or a
            # function of a factored sum (sqrt(2*s) as sqrt(2)*sqrt(s)), which changes the floats
            args = [visit(a) for a in e.args]
            if any(a is not b for a, b in zip(args, e.args)):
                out = e.func(*args, evaluate=False)
            if isinstance(out, sympy.Add):
                out = _factored(out)
        memo[id(e)] = out
        return out

    return [visit(e) for e in exprs]


def shared_subexpressions(exprs: Sequence[sympy.Expr]) -> tuple[Any, Any]:
    """``sympy.cse(exprs, list=False)`` of the factored expressions: ``(substitutions, reduced)``."""
    return sympy.cse(factor_powers_of_two(list(exprs)), list=False)


class FirstOf:
    """The ``cse`` of the first expression of a group alone, made of the statements the group's
    own elimination uses for it: the loss asked for alone is computed by the operations that
    compute it with the gradient, so the two agree bit for bit (two eliminations may add the
    terms of a sum in different orders)."""

    def __init__(self, cse: Any, group: Sequence[sympy.Expr]) -> None:
        self.cse, self.group = cse, list(group)

    def __call__(self, exprs: Sequence[sympy.Expr]) -> tuple[Any, Any]:
        if list(exprs) != self.group[:1]:
            return shared_subexpressions(exprs)
        subs, outs = self.cse(self.group)
        needed, kept = set(outs[0].free_symbols), []
        for sym, value in reversed(subs):
            if sym in needed:
                kept.append((sym, value))
                needed |= value.free_symbols
        return kept[::-1], [outs[0]]
