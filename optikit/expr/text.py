"""Model expressions: text from a spec -> SymPy, without running any code.

The text is read by Python's :mod:`ast` parser and rebuilt node by node from an allowlist (numbers,
declared names, ``pi``, ``+ - * / **``, calls of :data:`FUNCTIONS`); nothing is evaluated as Python.
Each constant sub-expression must be a finite real float64: a rational one stays exact, any other
(``pi``, ``sqrt(2)``, ``exp(1)``) becomes a Float at once, so SymPy never chews on symbolic constants.
SymPy's side (function table, limits on its work, time budget, :func:`check_tree` before lambdify)
is :mod:`optikit.expr.build`; hostile text fails fast with an ExpressionError.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import time
import unicodedata
import warnings
from collections.abc import Callable, Mapping

import sympy
from sympy import S

from ..errors import ExpressionError, did_you_mean
from .build import (  # noqa: F401 - FUNCTIONS, check_tree and the limits belong to this API
    FUNCTIONS, MAX_DEPTH, MAX_EXPANDED_TERMS, MAX_INT_DIGITS, MAX_NAME_LENGTH, MAX_NODES,
    MAX_SECONDS, MAX_TEXT_LENGTH, _ARITY, _CONSTANTS, _LAMBDIFY_NAMES, _Timeout, _deadline, _float,
    _pow, _real, _short, _terms, check_tree,
)

__all__ = ["FUNCTIONS", "check_tree", "parse"]


def parse(text: str, symbols: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    """Turn expression ``text`` into a SymPy expression over ``symbols`` (and the constant ``pi``).

    Raises only :class:`ExpressionError`, whatever the text; its ``piece`` and ``offset`` point into
    ``text``. Integer literals and rational constants are exact (``1/3`` is a Rational); a float
    literal, and any irrational constant, becomes a Float that ``lambdify`` prints back as the same
    double. The result passes :func:`check_tree`.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH} "
                              "(MAX_TEXT_LENGTH)", piece=text[MAX_TEXT_LENGTH:MAX_TEXT_LENGTH + 20],
                              offset=MAX_TEXT_LENGTH)
    base = len(text) - len(text.lstrip())
    source = text.strip().replace("\r", " ").replace("\n", " ")  # offsets stay those of `text`
    _scan(text, source)
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning "invalid decimal literal" for "1if"
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        at, hint = min(base + max((exc.offset or 1) - 1, 0), len(text)), None
        for word in re.finditer(r"[A-Za-z_]\w*", source):
            if keyword.iskeyword(word[0]) and word[0] not in ("True", "False", "None"):
                at = base + word.start()
                hint = f"'{word[0]}' is a Python keyword: parameter and column names must not be keywords"
                break
        raise ExpressionError(f"syntax error: {exc.msg}", piece=text[at:at + 10].rstrip() or None, offset=at,
                              hint=hint) from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ExpressionError(f"expression is too complex to parse ({type(exc).__name__})", piece=text[:40],
                              offset=0) from None
    conv = _Converter(text, base, symbols)
    conv.measure(tree.body)
    try:
        with _deadline(MAX_SECONDS) as conv.deadline:
            expr, _ = conv.convert(tree.body)
            check_tree(expr)
    except ExpressionError:
        raise
    except _Timeout:
        raise ExpressionError(f"building this expression takes longer than {MAX_SECONDS} s (MAX_SECONDS)",
                              piece=text[base:base + 40], offset=base, hint="simplify the expression") from None
    except Exception as exc:  # SymPy failed on something let through: still the spec's error
        raise ExpressionError(f"cannot build this expression ({type(exc).__name__}: {_short(exc)})",
                              piece=text[base:base + 40], offset=base) from exc
    return expr


def _scan(text: str, source: str) -> None:
    """Checks on the raw text: not empty, ASCII only, no control characters or comments, bracket depth."""
    if not source:
        raise ExpressionError("expression is empty", piece=text, offset=0)
    depth = 0
    for i, ch in enumerate(text):
        if not ch.isascii():
            raise ExpressionError(f"non-ASCII character {ch!r} (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')})"
                                  " in expression", piece=ch, offset=i, hint="expressions are plain ASCII; a "
                                  "look-alike letter from another alphabet is not the same symbol")
        if (ch < " " and ch not in "\t\n\r") or ch == "\x7f":
            raise ExpressionError(f"control character U+{ord(ch):04X} in expression", piece=ch, offset=i)
        if ch == "#":
            raise ExpressionError("comments (#) are not allowed in expressions", piece="#", offset=i)
        depth += (ch in "([{") - (ch in ")]}")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"brackets nest deeper than {MAX_DEPTH} levels (MAX_DEPTH)", piece=ch, offset=i)


_REFUSED = {
    ast.Attribute: "attribute access is", ast.Subscript: "subscripts (indexing) are",
    ast.Lambda: "lambda expressions are", ast.ListComp: "comprehensions are", ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are", ast.GeneratorExp: "generator expressions are",
    ast.NamedExpr: "assignment expressions (:=) are", ast.IfExp: "conditional expressions (a if c else b) are",
    ast.Compare: "comparisons are", ast.BoolOp: "boolean operators (and, or) are", ast.JoinedStr: "f-strings are",
    ast.Starred: "starred expressions (*x) are", ast.Tuple: "tuples (a comma outside a call) are",
    ast.List: "lists are", ast.Set: "sets are", ast.Dict: "dicts are",
}
_BAD_OPS = {ast.FloorDiv: "floor division (//) is", ast.Mod: "the modulo operator (%) is",
            ast.MatMult: "matrix multiplication (@) is", ast.BitXor: "the ^ operator is",
            ast.BitAnd: "bitwise and (&) is", ast.BitOr: "bitwise or (|) is", ast.LShift: "shifting (<<) is",
            ast.RShift: "shifting (>>) is", ast.Not: "the boolean operator 'not' is", ast.Invert: "bitwise not (~) is"}
_GROUP = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}  # left-nested chains of one group stay flat


def _same_group(child: ast.AST, parent: ast.AST) -> bool:
    return (isinstance(child, ast.BinOp) and isinstance(parent, ast.BinOp)
            and _GROUP.get(type(child.op), 0) == _GROUP.get(type(parent.op), -1))


class _Converter:
    """Rebuild an allowed Python syntax tree as SymPy; values are (expr, is_constant) pairs."""

    def __init__(self, text: str, base: int, symbols: Mapping[str, sympy.Symbol]) -> None:
        self.text, self.base, self.symbols, self.memo = text, base, symbols, {}
        self.deadline: float | None = None  # time.monotonic() past which converting stops

    def error(self, node: ast.AST, message: str, hint: str | None = None, show: bool = True) -> ExpressionError:
        start, end = self.base + node.col_offset, self.base + (node.end_col_offset or 0)
        piece = self.text[start:max(end, start + 1)]
        return ExpressionError(f"{message}: {_short(piece)}" if show else message, piece=piece, offset=start, hint=hint)

    def measure(self, root: ast.expr) -> None:
        count, stack = 0, [(root, 1)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise self.error(node, f"expression has more than {MAX_NODES} nodes (MAX_NODES)", show=False)
            if depth > MAX_DEPTH:
                raise self.error(node, f"expression nests deeper than {MAX_DEPTH} levels (MAX_DEPTH)")
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    flat = child is getattr(node, "left", None) and _same_group(child, node)
                    stack.append((child, depth if flat else depth + 1))

    def convert(self, node: ast.expr) -> tuple[sympy.Expr, bool]:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Timeout  # the alarm's own exception can be lost (see _deadline)
        if isinstance(node, ast.BinOp):  # a left-nested chain (a+b+c+...) is walked without recursion
            chain = [node]
            while _same_group(chain[-1].left, node):
                chain.append(chain[-1].left)
            if len(chain) > 2 and all(isinstance(link.op, (ast.Add, ast.Sub)) for link in chain):
                return self.sum_chain(node, chain)
            acc = self.convert(chain[-1].left)
            for link in reversed(chain):
                acc = self.apply(link, self.binop, acc, self.convert(link.right))
            return acc
        if isinstance(node, ast.Constant):
            return self.check(node, self.constant(node), True)
        if isinstance(node, ast.Name):
            if node.id in self.symbols:
                return self.symbols[node.id], False
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id], True
            raise self.unknown(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value, const = self.convert(node.operand)
            return self.check(node, -value if isinstance(node.op, ast.USub) else value, const)
        if isinstance(node, ast.UnaryOp):
            raise self.error(node, f"{_BAD_OPS[type(node.op)]} not allowed")
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.error(node, f"{_REFUSED.get(type(node), type(node).__name__ + ' is')} not allowed")

    def sum_chain(self, node: ast.BinOp, chain: list[ast.BinOp]) -> tuple[sympy.Expr, bool]:
        """``a + b - c + ...`` as one SymPy ``Add`` of its terms, checked once: adding term by term
        rebuilds and rechecks every partial sum, quadratic in the number of terms."""
        first, const = self.convert(chain[-1].left)
        terms = [first]
        for link in reversed(chain):
            term, tc = self.convert(link.right)
            terms.append(-term if isinstance(link.op, ast.Sub) else term)
            const = const and tc
        return self.apply(node, lambda _node: (sympy.Add(*terms), const))

    def apply(self, node: ast.AST, op: Callable, *args) -> tuple[sympy.Expr, bool]:
        """Run ``op(node, *args)``, placing a guard's error (which has no piece yet) at ``node``."""
        try:
            return self.check(node, *op(node, *args))
        except ExpressionError as exc:
            if exc.piece is None:
                raise self.error(node, exc.message, exc.hint) from None
            raise

    def check(self, node: ast.AST, expr: sympy.Expr, const: bool) -> tuple[sympy.Expr, bool]:
        """Size bound; a constant must be a finite real float64 (kept exact if rational, else a Float)."""
        if _terms(expr, self.memo) > MAX_EXPANDED_TERMS:
            raise self.error(node, f"expanding this would give more than {MAX_EXPANDED_TERMS} terms "
                             "(MAX_EXPANDED_TERMS); SymPy may expand it while it looks for signs")
        if expr.is_Number or const:
            value = _real(expr)
            if value is None:
                raise self.error(node, f"this is {_short(expr)}, not a finite real number (float64)")
            return (expr if expr.is_Rational or expr.is_Float else _float(value)), True
        for term in expr.args if expr.is_Add else (expr,):
            coeff = term.as_coeff_Mul()[0]
            if coeff is not S.One and _real(coeff) is None:
                raise self.error(node, f"the constant factor {_short(coeff)} does not fit a float64")
        return expr, False

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or value is None or value is ...:
            raise self.error(node, f"{value!r} is not allowed in an expression", show=False)
        if isinstance(value, int):
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise self.error(node, f"integer literal longer than {MAX_INT_DIGITS} digits (MAX_INT_DIGITS)")
            return sympy.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.error(node, "float literal overflows to infinity")
            return _float(value)
        kind = {complex: "complex numbers are", str: "strings are", bytes: "bytes are"}.get(type(value))
        raise self.error(node, f"{kind or type(value).__name__ + ' is'} not allowed")

    def unknown(self, node: ast.Name) -> ExpressionError:
        name = node.id
        if name in FUNCTIONS:
            return self.error(node, f"'{name}' is a function; call it as {name}(...)", show=False)
        close = did_you_mean(name, [*self.symbols, *_CONSTANTS])
        return self.error(node, f"unknown symbol '{name}' (declared: {', '.join(self.symbols) or 'none'})"
                          + (f"; {close}" if close else ""),
                          hint="declare it as a parameter or a data column", show=False)

    def binop(self, node: ast.BinOp, left: tuple, right: tuple) -> tuple[sympy.Expr, bool]:
        (a, ac), (b, bc), op = left, right, type(node.op)
        if op is ast.Div and b.is_zero:
            raise ExpressionError("division by zero")
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
               ast.Div: lambda: a * _pow(b, S.NegativeOne), ast.Pow: lambda: _pow(a, b)}
        if op not in ops:
            hint = "use ** for powers" if op is ast.BitXor else None
            raise self.error(node, f"{_BAD_OPS[op]} not allowed", hint=hint)
        return ops[op](), ac and bc

    def call(self, node: ast.Call) -> tuple[sympy.Expr, bool]:
        func = node.func
        if not isinstance(func, ast.Name):
            if type(func) in _REFUSED:
                self.convert(func)  # raises, naming the construct
            raise self.error(node, "only the built-in functions can be called")
        name, nargs = func.id, len(node.args)
        if name not in FUNCTIONS:
            if name in self.symbols or name in _CONSTANTS:
                raise self.error(node, f"'{name}' is a symbol, not a function", hint=f"write {name}*(...) to multiply")
            close = did_you_mean(name, FUNCTIONS)
            raise self.error(func, f"unknown function '{name}' (allowed: {', '.join(sorted(FUNCTIONS))})"
                             + (f"; {close}" if close else ""), show=False)
        if node.keywords:
            raise self.error(node, "keyword arguments are not allowed")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "starred arguments (*x) are not allowed")
        low, high = _ARITY[name]
        if not low <= nargs <= high:
            want = f"exactly {low} argument" if low == high else f"{low} to {high} arguments"
            raise self.error(node, f"{name}() takes {want}, got {nargs}")
        args = [self.convert(arg) for arg in node.args]
        return self.apply(node, lambda _, *a: (FUNCTIONS[name](*(x for x, _ in a)), all(c for _, c in a)), *args)


