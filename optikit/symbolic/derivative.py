"""SymPy's gradient, computed without walking the parts of a tree that do not hold the variable.

``sympy.diff(loss, p)`` builds a ``Derivative`` for every node it passes, and for every term of
a sum, also the terms that do not hold ``p`` (each found to be zero only after its own
``Derivative`` was set up). A model over n parameters whose loss holds an n-term sum therefore
costs n derivatives of n terms each: 1.6 s at 200 parameters. :func:`gradient` returns exactly
the trees ``sympy.diff`` returns (same classes, same argument order, same floats): it runs the
same rules SymPy's ``Add``, ``Mul``, ``Pow``, functions (the chain rule, also as ``Max`` and
``Min`` write it), ``Abs`` and ``sign`` apply, with the same constructors and in the same order,
but learns each node's free symbols once for all parameters and answers zero for a node without
``p`` at once, as ``Derivative`` itself does. Any other node (``Piecewise``, ``DiracDelta``, an
undefined function, ...) is handed to ``sympy.diff``; if that leaves an unevaluated
``Derivative``, the whole tree is, so SymPy's own tidying of such trees applies unchanged.

:func:`work` estimates the steps :func:`gradient` takes, which :mod:`.bounded` uses to decide
whether a tree is small enough to differentiate in-process.
"""

from __future__ import annotations

import time
from typing import Sequence

import sympy
from sympy import S
from sympy.core.basic import Basic
from sympy.core.expr import AtomicExpr
from sympy.core.function import ArgumentIndexError, Derivative, Function
from sympy.functions.elementary.miscellaneous import MinMaxBase
from sympy.ntheory.multinomial import multinomial_coefficients_iterator

__all__ = ["gradient", "work", "Expired", "agrees_with_sympy", "COMPARED"]

_ADD, _MUL, _POW, _FUNC, _ABS, _SIGN, _SYMBOL, _ATOM, _OTHER = range(9)
_COMPOUND = (_ADD, _MUL, _POW, _FUNC, _ABS, _SIGN)


def _kind(node: Basic) -> int:
    """Which of SymPy's differentiation rules ``node`` follows (``_OTHER``: ask SymPy)."""
    t = type(node)
    if t is sympy.Add:
        return _ADD
    if t is sympy.Mul:
        return _MUL
    if t is sympy.Pow:
        return _POW
    if isinstance(node, sympy.Symbol):
        return _SYMBOL if t._eval_derivative_n_times is AtomicExpr._eval_derivative_n_times else _OTHER
    if isinstance(node, (Function, MinMaxBase)):
        if t._eval_derivative_n_times is not Basic._eval_derivative_n_times:
            return _OTHER
        # the generic chain rule (Max and Min spell it out again), with the function's own derivative
        rule = t._eval_derivative
        if rule in (Function._eval_derivative, MinMaxBase._eval_derivative) and t.fdiff is not Function.fdiff:
            return _FUNC
        if rule is sympy.Abs._eval_derivative:
            return _ABS
        if rule is sympy.sign._eval_derivative:
            return _SIGN
        return _OTHER
    if node.is_Atom and not node.free_symbols:
        return _ATOM
    return _OTHER


class Expired(Exception):
    """:func:`gradient` passed its deadline."""


class _Fallback(Exception):
    """A part of the derivative came back unevaluated: differentiate the tree with SymPy."""


class _Tree:
    """Each node's rule and free symbols, learned once for every parameter."""

    def __init__(self, root: sympy.Expr) -> None:
        self.kind: dict[int, int] = {}
        self.free: dict[int, frozenset] = {}
        self.nodes: dict[int, Basic] = {}  # keeps every id above alive and unique
        self._learn(root)

    def _learn(self, root: Basic) -> None:
        stack = [(root, False)]
        while stack:  # post-order without recursion: a node's free symbols are its arguments'
            node, done = stack.pop()
            key = id(node)
            if key in self.free:
                continue
            kind = self.kind.get(key)
            if kind is None:
                kind = self.kind[key] = _kind(node)
                self.nodes[key] = node
            if kind in _COMPOUND and not done:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if id(a) not in self.free)
                continue
            if kind in _COMPOUND:
                self.free[key] = frozenset().union(*(self.free[id(a)] for a in node.args))
            elif kind == _SYMBOL:
                self.free[key] = frozenset((node,))
            else:
                self.free[key] = frozenset(node.free_symbols)

    def derivative(self, root: sympy.Expr, s: sympy.Symbol, deadline: float | None = None) -> sympy.Expr:
        memo: dict[int, sympy.Expr] = {}
        free, kinds = self.free, self.kind

        def d(node: Basic) -> sympy.Expr:
            key = id(node)
            if s not in free[key]:
                return S.Zero  # Derivative's own quick exit for a variable the node does not hold
            if key in memo:
                return memo[key]
            if deadline is not None and time.monotonic() > deadline:
                raise Expired  # also when an alarm's exception was lost (raised inside a __del__)
            kind = kinds[key]
            if kind == _ADD:  # Add._eval_derivative; the zeros it would pass are dropped by Add anyway
                out = sympy.Add(*[d(a) for a in node.args if s in free[id(a)]])
            elif kind == _MUL:  # Mul._eval_derivative_n_times with n = 1: the Leibniz rule
                args, terms = node.args, []
                for counts, c in multinomial_coefficients_iterator(len(args), 1):
                    p = sympy.Mul(*[d(a) if k else a for k, a in zip(counts, args)])
                    terms.append(c * p)
                out = sympy.Add(*terms)
            elif kind == _POW:  # Pow._eval_derivative
                dbase, dexp = d(node.base), d(node.exp)
                out = node * (dexp * sympy.log(node.base) + dbase * node.exp / node.base)
            elif kind == _FUNC:  # Function._eval_derivative
                terms = []
                for i, a in enumerate(node.args, 1):
                    da = d(a)
                    if da.is_zero:
                        continue
                    try:
                        df = node.fdiff(i)
                    except ArgumentIndexError:
                        raise _Fallback from None
                    terms.append(df * da)
                out = sympy.Add(*terms)
            elif kind == _ABS and (node.args[0].is_extended_real or node.args[0].is_imaginary):  # Abs's rule
                out = d(node.args[0]) * sympy.sign(sympy.conjugate(node.args[0]))
            elif kind == _SIGN and node.args[0].is_extended_real:  # sign's rule, for a real argument
                out = 2 * d(node.args[0]) * sympy.DiracDelta(node.args[0])
            elif kind == _SYMBOL:
                out = S.One
            else:
                out = node.diff(s)
                if out.has(Derivative):
                    raise _Fallback
            memo[key] = out
            return out

        return d(root)


#: SymPy versions whose rules the above was compared with, tree for tree (tests/test_derivative.py);
#: with another, a probe decides once whether the rules still give SymPy's trees
COMPARED = ("1.14.",)
_agrees: bool | None = None


def agrees_with_sympy() -> bool:
    """Whether :func:`gradient` may run its own rules with the installed SymPy (else it calls
    ``sympy.diff``)."""
    global _agrees
    if _agrees is None:
        if sympy.__version__.startswith(COMPARED):
            _agrees = True
        else:
            a, b, x = sympy.symbols("a b x", real=True)
            probe = (sympy.exp(-a * x) * sympy.log(b + x) ** 2 / (a + b * x) + sympy.sin(a * b) * x ** a
                     + 3 * a * x - sympy.tanh(b) * sympy.Max(a, x) + sympy.Abs(a - b) * sympy.sign(b * x))
            tree = _Tree(probe)
            _agrees = all(tree.derivative(probe, v) == sympy.diff(probe, v) for v in (a, b, x))
    return _agrees


def gradient(loss: sympy.Expr, params: Sequence[sympy.Symbol], deadline: float | None = None
             ) -> tuple[sympy.Expr, ...]:
    """``tuple(sympy.diff(loss, p) for p in params)``, the same trees, computed faster; past
    ``deadline`` (a ``time.monotonic()`` value) it raises :class:`Expired`."""
    if not agrees_with_sympy():
        return tuple(sympy.diff(loss, p) for p in params)
    try:
        tree = _Tree(loss)
        return tuple(tree.derivative(loss, p, deadline) for p in params)
    except (_Fallback, RecursionError):
        return tuple(sympy.diff(loss, p) for p in params)


def work(loss: sympy.Expr, params: Sequence[sympy.Symbol]) -> int | None:
    """Steps :func:`gradient` takes on ``loss``: for every node and parameter it holds, the node's
    arguments (their square for a product, whose Leibniz rule makes one product per factor);
    ``None`` when a node holding a parameter is left to ``sympy.diff``, whose cost this does not know."""
    tree = _Tree(loss)
    wanted = frozenset(params)
    total = 0
    for key, node in tree.nodes.items():
        held = len(tree.free[key] & wanted)
        if not held:
            continue
        kind = tree.kind[key]
        if kind == _OTHER:
            return None
        n = len(node.args)
        total += held * (1 + (n * n if kind == _MUL else n))
    return total
