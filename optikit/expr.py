"""Model expressions: text from a spec -> SymPy, without running any code.

The text is read by Python's :mod:`ast` parser and rebuilt node by node from an allowlist (numbers,
declared names, ``pi``, ``+ - * / **``, calls of :data:`FUNCTIONS`); nothing is evaluated as Python.
Each constant sub-expression must be a finite real float64: a rational one stays exact, any other
(``pi``, ``sqrt(2)``, ``exp(1)``) becomes a Float at once, so SymPy never chews on symbolic constants.
Powers, exponentials, max/min and powers of sums are bounded *before* SymPy builds them, and in the
main thread the whole build runs under a time budget (SymPy's own sign checks can be slow), so
hostile text fails fast with an :class:`ExpressionError`. :func:`check_tree` vets any tree (e.g. a
derivative) before it goes to ``sympy.lambdify``.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import keyword
import math
import re
import signal
import threading
import time
import types
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Mapping

import mpmath
import sympy
from sympy import S

from .errors import ExpressionError

__all__ = ["FUNCTIONS", "check_name", "check_tree", "make_symbol", "parse"]

MAX_TEXT_LENGTH = 4000  # characters of expression text
MAX_NODES = 1000  # expression nodes in the syntax tree
MAX_DEPTH = 60  # nesting: brackets, calls, powers, mixed operators (a chain a+b-c+... counts once)
MAX_INT_DIGITS = 30  # digits of an integer literal
MAX_EXPONENT = 1000  # |constant exponent| of a power (or constant term of an exponent)
MAX_CONSTANT_BITS = 2048  # bits of an exact constant's numerator or denominator
MAX_EXPANDED_TERMS = 300  # terms of a fully expanded power or product of sums, e.g. (x + 1)**300
MAX_MINMAX_ARGS = 8  # arguments of one max/min (nested ones merge); SymPy compares them pairwise
MAX_NAME_LENGTH = 100
MAX_SECONDS = 0.5  # wall-clock budget for building one expression (enforced in the main thread)
_MAX_LOG10 = 330.0  # |log10| of a constant power; float64 spans about 1e-324 .. 1.8e308


def _short(obj: object, limit: int = 60) -> str:
    try:
        text = str(obj)
    except ValueError:  # an integer too long to print
        return f"<{type(obj).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _float(value: float) -> sympy.Float:
    return sympy.Float(repr(value), dps=17)  # 17 digits: lambdify prints back the same double


def _real(value: sympy.Expr) -> float | None:
    """The float value of a constant expression, or None unless it is a finite real float64."""
    try:
        v = value if value.is_Number else value.evalf(20, maxn=200)
        if not (v.is_Rational or v.is_Float):
            return None
        if v.is_Rational and max(v.p.bit_length(), v.q.bit_length()) > MAX_CONSTANT_BITS:
            return None
        f = float(v)
    except (ArithmeticError, TypeError, ValueError, sympy.core.evalf.PrecisionExhausted):
        return None
    return f if math.isfinite(f) else None


def _log10(v: sympy.Number) -> float:
    """log10 |v| for a nonzero number, also beyond the float64 range."""
    if v.is_Rational:
        return math.log10(abs(v.p)) - math.log10(v.q)
    return float(mpmath.log10(abs(mpmath.mpf(v))))


def _pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    """``base**exp``, refused before SymPy computes it if the result is out of range or too costly.

    The numeric part c of the exponent is checked even when the exponent has symbols (SymPy may split
    b**(x + c) into b**x * b**c when it expands), and so is the exponent SymPy makes of a power of a
    power ((b**u)**v -> b**(u*v)). A root of an exact number is taken in floats: SymPy would factor
    integers to simplify it.
    """
    for f in sympy.Mul.make_args(base):
        if f.is_Pow:
            _power_base(f.base, f.exp * exp, nested=True)
    return _power_base(base, exp) ** exp


def _power_base(base: sympy.Expr, exp: sympy.Expr, nested: bool = False) -> sympy.Expr:
    c = exp if exp.is_Number else exp.as_coeff_Add()[0]
    if c is S.Zero:
        return base
    e = _real(c)
    if e is None or abs(e) > MAX_EXPONENT:
        raise ExpressionError(f"the constant exponent {_short(c)} exceeds the limit of {MAX_EXPONENT} (MAX_EXPONENT)")
    coeff, rest = (base, S.One) if base.is_Number else base.as_coeff_Mul()
    if coeff.is_zero:
        if e < 0 and exp.is_Number:
            raise ExpressionError("division by zero")
    elif abs(e * _log10(coeff)) > _MAX_LOG10:
        raise ExpressionError(f"a constant power of about 10**{e * _log10(coeff):.0f} is outside the range of a "
                              "float64")
    elif coeff.is_Rational and abs(coeff) != 1:
        bits = max(coeff.p.bit_length(), coeff.q.bit_length())
        if not c.is_integer and not nested:
            return _float(float(coeff)) * rest
        if bits * abs(c) > MAX_CONSTANT_BITS or (not c.is_integer and bits > 64):  # SymPy factors for roots
            raise ExpressionError(f"the exact power {_short(coeff)}**({c}) is too costly (MAX_CONSTANT_BITS)",
                                  hint="write the number as a float (2.0 rather than 2) to compute it in floats")
    return base


def _growing(f: Callable[[sympy.Expr], sympy.Expr]) -> Callable[[sympy.Expr], sympy.Expr]:
    """Wrap an exp-like function: the numeric term of its argument must be within MAX_EXPONENT."""
    def build(x: sympy.Expr) -> sympy.Expr:
        c = x if x.is_Number else x.as_coeff_Add()[0]
        if abs(c) > MAX_EXPONENT:
            raise ExpressionError(f"the constant {_short(c)} in an exponential's argument exceeds the limit of "
                                  f"{MAX_EXPONENT} (MAX_EXPONENT)")
        return f(x)
    return build


def _minmax(cls: type) -> Callable[..., sympy.Expr]:
    def build(*args: sympy.Expr) -> sympy.Expr:
        if sum(len(a.args) if isinstance(a, cls) else 1 for a in args) > MAX_MINMAX_ARGS:
            raise ExpressionError(f"more than {MAX_MINMAX_ARGS} arguments in one max/min, counting nested ones "
                                  "(MAX_MINMAX_ARGS)")
        return cls(*args)
    return build


def _terms(e: sympy.Expr, memo: dict) -> int:
    """Terms that fully expanding ``e`` would give (saturating); a function counts once.

    A power of anything but a symbol or a sum counts as a power of a two-term sum: SymPy expands a
    possibly complex base as (re + I*im)**n when it looks for signs.
    """
    if e not in memo:
        n = 1
        if e.is_Add or e.is_Mul:
            n = sum(_terms(a, memo) for a in e.args) if e.is_Add else math.prod(_terms(a, memo) for a in e.args)
        elif e.is_Pow:
            s, k = _terms(e.base, memo), e.exp if e.exp.is_Number else e.exp.as_coeff_Add()[0]
            s = s if e.base.is_Symbol or e.base.is_Add or e.base.is_Mul else max(s, 2)
            k = min(int(abs(k)), MAX_EXPONENT + 1) if k.is_finite else MAX_EXPONENT + 1
            n = math.comb(k + s - 1, s - 1) if k > 1 else s
        memo[e] = min(n, MAX_EXPANDED_TERMS + 1)
    return memo[e]


FUNCTIONS: Mapping[str, Callable[..., sympy.Expr]] = types.MappingProxyType({
    "exp": _growing(sympy.exp), "log": lambda x: sympy.log(x),
    "log2": lambda x: sympy.log(x) * _float(1 / math.log(2)),
    "log10": lambda x: sympy.log(x) * _float(1 / math.log(10)),
    "sqrt": lambda x: _pow(x, S.Half),
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos,
    "atan": sympy.atan, "sinh": _growing(sympy.sinh), "cosh": _growing(sympy.cosh), "tanh": _growing(sympy.tanh),
    "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh,
    "abs": sympy.Abs, "sign": sympy.sign,
    "sigmoid": _growing(lambda x: 1 / (1 + sympy.exp(-x))),
    "softplus": _growing(lambda x: sympy.log(1 + sympy.exp(x))),
    "relu": lambda x: sympy.Max(0, x), "max": _minmax(sympy.Max), "min": _minmax(sympy.Min),
})
_ARITY = {n: (1, 1) for n in FUNCTIONS} | {"max": (2, MAX_MINMAX_ARGS), "min": (2, MAX_MINMAX_ARGS)}
_CONSTANTS = {"pi": _float(math.pi)}
# Names sympy.lambdify(..., modules="numpy") prints for allowed nodes: a symbol so named would shadow
# them inside the generated function (a symbol 'e' next to E would compute e*e).
_LAMBDIFY_NAMES = frozenset({
    "e", "nan", "inf", "numpy", "math", "builtins", "reduce", "select", "maximum", "minimum", "amax", "amin", "sqrt",
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "heaviside", "less", "less_equal", "greater",
    "greater_equal", "equal", "not_equal", "logical_and", "logical_or", "logical_not"})


def check_name(name: str, *, what: str = "symbol") -> None:
    """Raise :class:`ExpressionError` unless ``name`` can name a symbol (``what`` says which kind).

    A usable name is a plain-ASCII Python identifier that is not a keyword, has no leading underscore
    and is not the name of a function in :data:`FUNCTIONS`, of the constant ``pi`` or of a NumPy name
    that code generated by ``lambdify`` uses (``e``, ``select``, ``arcsin``, ...). ``E``, ``I``, ``S``,
    ``N``, ``gamma``, ``beta``, ``lambda_`` and the like are ordinary names here.
    """
    if not isinstance(name, str):
        raise ExpressionError(f"a {what} name must be a string, not {type(name).__name__}")
    bad = next((i for i, ch in enumerate(name) if not ch.isascii()), None)
    if bad is not None:
        ch = name[bad]
        raise ExpressionError(f"{what} name {name!r} contains the non-ASCII character {ch!r} (U+{ord(ch):04X} "
                              f"{unicodedata.name(ch, 'unnamed')})", piece=ch, offset=bad,
                              hint="names must be plain ASCII; look-alike letters from other alphabets are refused")
    problem, hint = None, f"rename it, e.g. '{name}_'"
    if not name.isidentifier():
        problem, hint = "is not an identifier (ASCII letters, digits and _, not starting with a digit)", None
    elif len(name) > MAX_NAME_LENGTH:
        problem, hint = f"is longer than {MAX_NAME_LENGTH} characters", None
    elif keyword.iskeyword(name):
        problem = "is a Python keyword"
    elif name.startswith("_"):
        problem, hint = "starts with an underscore", None
    elif name in FUNCTIONS or name in _CONSTANTS:
        problem = "is the name of a built-in " + ("function" if name in FUNCTIONS else "constant")
    elif name in _LAMBDIFY_NAMES:
        problem = "is reserved: the NumPy code generated from expressions uses this name"
    if problem:
        raise ExpressionError(f"{what} name {name!r} {problem}", piece=name, offset=0, hint=hint)


def make_symbol(name: str) -> sympy.Symbol:
    """:func:`check_name`, then a real SymPy symbol called ``name``."""
    check_name(name)
    return sympy.Symbol(name, real=True)


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
        with _deadline(MAX_SECONDS):
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


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that SymPy's own ``except Exception`` lets it through."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread on Unix only; elsewhere only the structural
    limits apply). Whatever timer and handler were set before are put back."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    def alarm(signum: int, frame: object) -> None:
        raise _Timeout
    old_handler, start = signal.signal(signal.SIGALRM, alarm), time.monotonic()
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        while True:  # an alarm arriving while we restore must not stop the restoring
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)
                if old_delay:
                    left = max(old_delay - (time.monotonic() - start), 1e-3)
                    signal.setitimer(signal.ITIMER_REAL, left, old_interval)
                break
            except _Timeout:
                continue


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
        if isinstance(node, ast.BinOp):  # a left-nested chain (a+b+c+...) is walked without recursion
            chain = [node]
            while _same_group(chain[-1].left, node):
                chain.append(chain[-1].left)
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
        close = difflib.get_close_matches(name, [*self.symbols, *_CONSTANTS], n=1)
        return self.error(node, f"unknown symbol '{name}' (declared: {', '.join(self.symbols) or 'none'})"
                          + (f"; did you mean '{close[0]}'?" if close else ""),
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
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            raise self.error(func, f"unknown function '{name}' (allowed: {', '.join(sorted(FUNCTIONS))})"
                             + (f"; did you mean '{close[0]}'?" if close else ""), show=False)
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


_FUNCS = (sympy.Add, sympy.Mul, sympy.Pow, sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.asin,
          sympy.acos, sympy.atan, sympy.sinh, sympy.cosh, sympy.tanh, sympy.asinh, sympy.acosh, sympy.atanh,
          sympy.Abs, sympy.sign, sympy.Max, sympy.Min, sympy.Heaviside)
_CONDITIONS = (sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan, sympy.Equality,
               sympy.Unequality, sympy.And, sympy.Or, sympy.Not, sympy.logic.boolalg.BooleanAtom)
_WHY = {
    sympy.DiracDelta: "the derivative of max/min/abs/relu/sign at a kink involves DiracDelta, which cannot be "
    "evaluated numerically",
    sympy.Derivative: "SymPy could not differentiate this in closed form",
    sympy.Subs: "SymPy left a substitution unevaluated", sympy.Integral: "integrals cannot be evaluated here",
    sympy.erf: "erf has no NumPy translation (lambdify would call math.erf on arrays)",
    sympy.core.numbers.ComplexInfinity: "complex infinity (a division by zero?)",
    sympy.core.numbers.NaN: "an undefined value", sympy.core.numbers.Infinity: "an infinity",
    sympy.core.numbers.NegativeInfinity: "an infinity",
    sympy.core.numbers.ImaginaryUnit: "the expression is complex (log or sqrt of a negative constant?)",
    sympy.re: "symbols must be real (make them with make_symbol)", sympy.im: "symbols must be real",
    sympy.core.function.AppliedUndef: "an undefined function",
}


def check_tree(expr: sympy.Expr) -> None:
    """Raise :class:`ExpressionError` if ``expr`` has a node outside the lambdify-safe allowlist.

    Allowed: plain Symbols, Integer/Rational/Float (finite), pi and E, Add, Mul, Pow, exp, log, the
    trigonometric and hyperbolic functions and their inverses, Abs, sign, Max, Min, Heaviside, and
    Piecewise (comparisons and and/or/not only inside its conditions). Anything else, notably
    DiracDelta, Derivative, Subs, Integral, undefined functions, erf, zoo, nan, oo and I, is refused
    with a message naming it.
    """
    if not isinstance(expr, sympy.Basic):
        raise ExpressionError(f"not a SymPy expression: {type(expr).__name__}")
    stack = [(expr, False)]
    while stack:
        node, in_condition = stack.pop()
        if type(node) is sympy.Symbol or node is S.Pi or node is S.Exp1 or isinstance(node, sympy.Rational):
            continue
        if isinstance(node, sympy.Float) and mpmath.isfinite(mpmath.mpf(node)):
            continue
        if isinstance(node, _FUNCS) or (in_condition and isinstance(node, _CONDITIONS)):
            stack.extend((arg, in_condition) for arg in node.args)
        elif isinstance(node, sympy.Piecewise):
            for pair in node.args:
                stack.extend([(pair.expr, in_condition), (pair.cond, True)])
        else:
            name = getattr(node, "func", type(node)).__name__
            why = next((w for k, w in _WHY.items() if isinstance(node, k)), "not supported in model expressions")
            raise ExpressionError(f"{name} in {_short(node)}: {why}", piece=_short(node, 200))
