"""The SymPy side of expressions: the function table, limits that keep SymPy's work bounded,
the time budget, and :func:`check_tree`, which vets any tree before ``sympy.lambdify``.

Powers, exponentials, max/min and powers of sums are bounded *before* SymPy builds them: SymPy
evaluates eagerly, and a hostile constant (``9**9**9``) or expansion would otherwise hang it.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import mpmath
import sympy
from sympy import S

from ..errors import ExpressionError
from .special import sigmoid, softplus, vsum

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


def _reduce(body: sympy.Expr) -> sympy.Expr:
    """``sum(body)`` over a vector's elements; one level only, since a sum inside a sum would mix
    the elements of two vectors."""
    if body.has(vsum):
        raise ExpressionError("sum() or dot() inside another sum() or dot() is not supported",
                              hint="take the inner sum apart as its own term")
    return vsum(body)


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
    "sigmoid": _growing(sigmoid), "softplus": _growing(softplus),
    "relu": lambda x: sympy.Max(0, x), "max": _minmax(sympy.Max), "min": _minmax(sympy.Min),
    "sum": lambda v: _reduce(v), "dot": lambda a, b: _reduce(a * b),
})
_ARITY = {n: (1, 1) for n in FUNCTIONS} | {"max": (2, MAX_MINMAX_ARGS), "min": (2, MAX_MINMAX_ARGS), "dot": (2, 2)}
_CONSTANTS = {"pi": _float(math.pi)}
# Names sympy.lambdify(..., modules="numpy") prints for allowed nodes: a symbol so named would shadow
# them inside the generated function (a symbol 'e' next to E would compute e*e).
_LAMBDIFY_NAMES = frozenset({
    "e", "nan", "inf", "numpy", "math", "builtins", "reduce", "select", "maximum", "minimum", "amax", "amin", "sqrt",
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "heaviside", "less", "less_equal", "greater",
    "greater_equal", "equal", "not_equal", "logical_and", "logical_or", "logical_not"})


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that SymPy's own ``except Exception`` lets it through."""


def alarm_available() -> bool:
    """Whether :func:`_deadline` can interrupt a computation here (the main thread, on Unix)."""
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[float]:
    """Interrupt the block after ``seconds`` (main thread on Unix only; elsewhere only the structural
    limits apply). Whatever timer and handler were set before are put back.

    Yields the deadline (a ``time.monotonic()`` value) for cooperative checks: the alarm raises
    wherever the interpreter is, and an exception raised inside a garbage-collector callback or a
    ``__del__`` is printed and dropped, so a caller that checks the deadline between steps still stops.
    """
    end = time.monotonic() + seconds
    if not alarm_available():
        yield end
        return
    def alarm(signum: int, frame: Any) -> None:
        # raised only into the build's own code: raised inside a garbage-collector callback or a
        # library's hook, the exception would be printed and dropped; elsewhere, try again shortly
        module = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
        if not module.startswith(("sympy", "optikit", "mpmath")):
            signal.setitimer(signal.ITIMER_REAL, 1e-3)
            return
        raise _Timeout
    # read the outer timer before arming ours and arm inside the try: an alarm that fires at once
    # must still find the outer timer and handler recorded for the restoring below
    old_delay, old_interval = signal.getitimer(signal.ITIMER_REAL)
    old_handler, start = signal.signal(signal.SIGALRM, alarm), time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield end
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


_FUNCS = (sympy.Add, sympy.Mul, sympy.Pow, sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.asin,
          sympy.acos, sympy.atan, sympy.sinh, sympy.cosh, sympy.tanh, sympy.asinh, sympy.acosh, sympy.atanh,
          sympy.Abs, sympy.sign, sympy.Max, sympy.Min, sympy.Heaviside, sigmoid, softplus, vsum)
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


def check_tree(expr: sympy.Expr, seen: dict | None = None) -> None:
    """Raise :class:`ExpressionError` if ``expr`` has a node outside the lambdify-safe allowlist.

    Allowed: plain Symbols, Integer/Rational/Float (finite), pi and E, Add, Mul, Pow, exp, log, the
    trigonometric and hyperbolic functions and their inverses, Abs, sign, Max, Min, Heaviside, and
    Piecewise (comparisons and and/or/not only inside its conditions). Anything else, notably
    DiracDelta, Derivative, Subs, Integral, undefined functions, erf, zoo, nan, oo and I, is refused
    with a message naming it.

    ``seen`` (shared by the checks of several trees) holds subtrees already found allowed, by
    identity: the components of a gradient share most of their nodes, which are then walked once.
    """
    if not isinstance(expr, sympy.Basic):
        raise ExpressionError(f"not a SymPy expression: {type(expr).__name__}")
    seen = {} if seen is None else seen
    stack = [(expr, False)]
    while stack:
        node, in_condition = stack.pop()
        if not in_condition:  # allowed outside a condition is allowed inside one, not the other way
            if id(node) in seen:
                continue
            seen[id(node)] = node  # held, so the id stays its; a node found wrong below raises
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
