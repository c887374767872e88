"""SymPy trees as plain JSON data and back, through an allowlist of node classes.

The derivation cache stores derived expressions in this form. Reading one back never parses
code: every node is a JSON list naming a class from :data:`CLASSES` (symbols, exact numbers,
floats by their binary digits, the operations and functions a model may use, and the
comparisons of a ``Piecewise``), whose arguments are earlier nodes. A name outside the
allowlist, a forward reference or a malformed value raises :class:`CodecError`. Shared subtrees
are stored once, so the gradient of a wide model (every component holding the same sum) stays
small on disk and is rebuilt in one pass. Equal subtrees share one entry, so
``encode(decode(table)) == table`` holds exactly when the trees come back as they were (class,
argument order, each float's precision); the cache writes only such tables.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import sympy
from sympy import S

from ..expr.special import sigmoid, softplus

__all__ = ["CodecError", "CLASSES", "encode", "decode"]


class CodecError(ValueError):
    """A tree that cannot be written in this form, or data that is not a valid encoding."""


_OPERATIONS = (sympy.Add, sympy.Mul, sympy.Pow)
_FUNCTIONS = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.acos, sympy.atan,
              sympy.sinh, sympy.cosh, sympy.tanh, sympy.asinh, sympy.acosh, sympy.atanh, sympy.Abs, sympy.sign,
              sympy.Max, sympy.Min, sympy.Heaviside, sympy.DiracDelta, sigmoid, softplus)
_LOGIC = (sympy.Piecewise, sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan,
          sympy.Equality, sympy.Unequality, sympy.And, sympy.Or, sympy.Not)
#: The compound node classes a stored tree may hold, by name.
CLASSES: dict[str, type] = {c.__name__: c for c in (*_OPERATIONS, *_FUNCTIONS, *_LOGIC)}
_PAIR = "ExprCondPair"
_PAIR_CLASS = sympy.functions.elementary.piecewise.ExprCondPair
_CONSTANTS = {"pi": S.Pi, "E": S.Exp1, "true": S.true, "false": S.false}
_EVALUATE = (*_OPERATIONS, *_FUNCTIONS, sympy.Piecewise)  # the classes that take evaluate=False
_ASSUMPTIONS = frozenset(sys.modules["sympy.core.assumptions"]._assume_defined)  # the package name is shadowed


def encode(trees: Sequence[sympy.Basic]) -> tuple[list[list[Any]], list[int]]:
    """``(nodes, roots)``: every distinct subtree of ``trees`` once, children before parents, and
    the index of each tree. Raises :class:`CodecError` for a node outside the allowlist."""
    nodes: list[list[Any]] = []
    # hash-consed on the exact entry (class, children, each float's precision), not on SymPy's
    # ==, which calls Floats of different precision equal; by identity first, for speed
    by_entry: dict[str, int] = {}
    by_id: dict[int, int] = {}

    def visit(node: sympy.Basic) -> int:
        at = by_id.get(id(node))
        if at is None:
            entry = _leaf(node)
            if entry is None:
                entry = [_name(node), [visit(a) for a in node.args]]
            text = repr(entry)
            at = by_entry.get(text)
            if at is None:
                nodes.append(entry)
                at = by_entry[text] = len(nodes) - 1
            by_id[id(node)] = at
        return at

    try:
        roots = [visit(t) for t in trees]
    except RecursionError:
        raise CodecError("tree nested too deeply to store") from None
    return nodes, roots


def _name(node: sympy.Basic) -> str:
    name = type(node).__name__
    if CLASSES.get(name) is type(node) or type(node) is _PAIR_CLASS:
        return name
    raise CodecError(f"no stored form for {name}")


def _leaf(node: sympy.Basic) -> list[Any] | None:
    """The entry of an atom, or None for a compound node (checked against :data:`CLASSES`)."""
    if type(node) is sympy.Symbol:
        # as given when it was made (real=True), so it prints back the same; its equality is the same either way
        given = {k: v for k, v in getattr(node, "_assumptions_orig", node.assumptions0).items() if isinstance(v, bool)}
        return ["Symbol", node.name, given]
    if isinstance(node, sympy.Rational):
        return ["Rational", int(node.p), int(node.q)]
    if isinstance(node, sympy.Float):
        sign, man, exp, bc = node._mpf_
        return ["Float", int(sign), int(man), int(exp), int(bc), int(node._prec)]
    for name, value in _CONSTANTS.items():
        if node is value:
            return ["Constant", name]
    if not node.args:
        raise CodecError(f"no stored form for {type(node).__name__}")
    return None


def decode(nodes: Any, roots: Any) -> list[sympy.Basic]:
    """The trees ``roots`` of an :func:`encode` table read back (the data may come from a file:
    anything but a valid table raises :class:`CodecError`)."""
    if not isinstance(nodes, list) or not isinstance(roots, list):
        raise CodecError("not a node table")
    built: list[sympy.Basic] = []
    try:
        for entry in nodes:
            built.append(_build(entry, built))
        return [built[_index(r, len(built))] for r in roots]
    except CodecError:
        raise
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, RecursionError, ArithmeticError) as exc:
        raise CodecError(f"invalid node: {type(exc).__name__}") from None


def _index(value: Any, below: int) -> int:
    if type(value) is not int or not 0 <= value < below:
        raise CodecError("a node refers to one not yet built")
    return value


def _ints(values: Sequence[Any]) -> list[int]:
    if any(type(v) is not int for v in values):
        raise CodecError("expected whole numbers")
    return list(values)


def _build(entry: Any, built: list[sympy.Basic]) -> sympy.Basic:
    if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
        raise CodecError("malformed node")
    kind, rest = entry[0], entry[1:]
    if kind == "Symbol":
        name, given = rest
        if not isinstance(name, str) or not name or not isinstance(given, dict) or \
                any(k not in _ASSUMPTIONS or not isinstance(v, bool) for k, v in given.items()):
            raise CodecError("malformed symbol")
        return sympy.Symbol(name, **given)
    if kind == "Rational":
        p, q = _ints(rest)
        if q <= 0:
            raise CodecError("malformed rational")
        return sympy.Rational(p, q)
    if kind == "Float":
        sign, man, exp, bc, prec = _ints(rest)
        if sign not in (0, 1) or man < 0 or bc < 0 or not 0 < prec <= 10_000:
            raise CodecError("malformed float")
        return sympy.Float._new((sign, man, exp, bc), prec)
    if kind == "Constant":
        (name,) = rest
        if name not in _CONSTANTS:
            raise CodecError("unknown constant")
        return _CONSTANTS[name]
    if kind != _PAIR and kind not in CLASSES:
        raise CodecError(f"{kind[:40]!r} is not a stored node class")
    (children,) = rest
    if not isinstance(children, list) or not children:
        raise CodecError("malformed node")
    args = [built[_index(c, len(built))] for c in children]
    if kind == _PAIR:
        return _PAIR_CLASS(*args)
    cls = CLASSES[kind]
    return cls(*args, evaluate=False) if cls in _EVALUATE else cls(*args)
