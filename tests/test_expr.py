"""optikit.expr: spec text -> SymPy through an allowlist, and the lambdify-safe tree check."""

from __future__ import annotations

import ast
import contextlib
import inspect
import signal
import threading
import time

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optikit import expr
from optikit.expr import text as expr_text
from optikit.errors import ExpressionError

NAMES = ("w", "x", "y", "a", "b", "c", "model")
SYMS = {n: expr.make_symbol(n) for n in NAMES}
w, x, y, a, b, c, model = (SYMS[n] for n in NAMES)


def parse(text: str) -> sympy.Expr:
    return expr.parse(text, SYMS)


def numeric(e: sympy.Expr, args, *values):
    return sympy.lambdify(args, e, modules="numpy")(*values)


# ---- round trips ------------------------------------------------------------------------------

def test_typical_models_round_trip():
    xs = np.array([-1.5, 0.0, 0.25, 2.0])
    assert parse("w*x") == w * x
    assert parse("a*exp(-b*x) + c") == a * sympy.exp(-b * x) + c
    got = numeric(parse("a*exp(-b*x) + c"), [a, b, c, x], 2.0, 0.5, -1.0, xs)
    np.testing.assert_allclose(got, 2.0 * np.exp(-0.5 * xs) - 1.0, rtol=1e-15)
    got = numeric(parse("sigmoid(w*x + b)"), [w, b, x], 0.7, -0.2, xs)
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-(0.7 * xs - 0.2))), rtol=1e-15)
    loss = parse("-(y*log(model) + (1 - y)*log(1 - model))")
    assert loss.free_symbols == {y, model}
    got = numeric(loss, [model, y], np.array([0.2, 0.9]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(got, [-np.log(0.8), -np.log(0.9)], rtol=1e-15)
    assert numeric(parse("softplus(x)"), [x], 0.0) == pytest.approx(np.log(2.0))
    assert numeric(parse("relu(x) + max(x, 2, y) - min(x, y)"), [x, y], -1.0, 3.0) == 3.0 - (-1.0)


def test_multi_line_text_and_surrounding_whitespace():
    text = "\n  a*exp(-b*x)\n    + c\r\n\t"
    assert parse(text) == parse("a*exp(-b*x) + c")
    with pytest.raises(ExpressionError) as info:
        parse("a*exp(-b*x)\n  + zz")
    assert info.value.offset == len("a*exp(-b*x)\n  + ") and info.value.piece == "zz"


def test_integers_are_exact_and_derivatives_print_nicely():
    e = parse("(w*x - y)**2")
    assert str(sympy.diff(e, w)) == "2*x*(w*x - y)"
    assert parse("1/3") == sympy.Rational(1, 3) and isinstance(parse("7"), sympy.Integer)
    assert parse("2*x/4") == x / 2
    assert parse("1_000 + 0x10") == 1016


@pytest.mark.parametrize("literal", ["0.1234567890123456789", "2.718281828459045", "1e-300", "0.01", "1e300",
                                     "0.1", "5e-324", "1.7976931348623157e308", "1e-3", "3.0", "123456789.125"])
def test_float_literals_round_trip_through_lambdify_exactly(literal):
    assert numeric(parse(f"{literal}*x"), [x], 1.0) == float(literal)
    assert numeric(parse(literal) + x, [x], 0.0) == float(literal)
    assert numeric(sympy.diff(parse(f"{literal}*x**2/2"), x), [x], 1.0) == float(literal)


def test_constants_fold_rationals_exactly_and_the_rest_to_floats():
    assert parse("1/3 + 2/3") == 1 and parse("2**10/3") == sympy.Rational(1024, 3)
    assert str(sympy.diff(parse("x**(1/3)"), x)) == "1/(3*x**(2/3))"
    for text, value in [("pi", np.pi), ("2*pi", 2 * np.pi), ("sqrt(2*pi)", np.sqrt(2 * np.pi)),
                        ("cos(pi/4)", np.cos(np.pi / 4)), ("exp(log(2)*10)", 1024.0), ("sqrt(2)", np.sqrt(2)),
                        ("exp(1)", np.e), ("log(2)", np.log(2))]:
        folded = parse(text)
        assert isinstance(folded, sympy.Float) and float(folded) == pytest.approx(value, rel=1e-15), text
    assert numeric(parse("pi*x"), [x], 1.0) == np.pi
    assert numeric(parse("x/sqrt(2)"), [x], 1.0) == pytest.approx(1 / np.sqrt(2), rel=1e-15)


# ---- hostile and malformed text ----------------------------------------------------------------

HOSTILE = [
    ("__import__('os').system('x')", "attribute access"),
    ("x.__class__", "attribute access"),
    ("(lambda: 1)()", "lambda"),
    ("[i for i in x]", "comprehension"),
    ("(y := 2)", "assignment expressions"),
    ("x if y else w", "conditional expressions"),
    ("loadtxt(x)", "unknown function 'loadtxt'"),
    ("exp(x, y)", r"exp\(\) takes exactly 1 argument, got 2"),
    ("max(x)", r"max\(\) takes 2 to 8 arguments"),
    ("2**(10**10)", "MAX_EXPONENT"),
    ("9**9**9", "MAX_EXPONENT"),
    ("factorial(10**9)", "unknown function 'factorial'"),
    ("'a'", "strings"),
    ("b'a'", "bytes"),
    ("1j", "complex"),
    ("True", "True is not allowed"),
    ("x[0]", "subscripts"),
    ("x @ y", "matrix multiplication"),
    ("x // y", "floor division"),
    ("x % y", "modulo"),
    ("x ^ 2", r"\^ operator"),
    ("x < y", "comparisons"),
    ("x and y", "boolean operators"),
    ("not x", "'not'"),
    ("~x", "bitwise not"),
    ('f"{x}"', "f-strings"),
    ("*x", "syntax error"),
    ("exp(x=1)", "keyword arguments"),
    ("exp(*x)", "starred"),
    ("getattr(x, 'y')", "unknown function 'getattr'"),
    ("exp(x)(y)", "only the built-in functions can be called"),
    ("x(2)", "'x' is a symbol, not a function"),
    ("exp + x", "'exp' is a function"),
    ("(" * 500 + "x" + ")" * 500, "MAX_DEPTH"),
    ("-" * 3000 + "x", "MAX_DEPTH|too complex"),
    ("sin(" * 61 + "x" + ")" * 61, "MAX_DEPTH"),
    ("x" * 100_000, "MAX_TEXT_LENGTH"),
    ("+".join(["x"] * 5000), "MAX_TEXT_LENGTH"),
    ("+".join(["x"] * 600), "MAX_NODES"),
    ("1" + "0" * 40, "MAX_INT_DIGITS"),
    ("1e999", "overflows to infinity"),
    ("1/0", "division by zero"),
    ("0**-1", "division by zero"),
    ("x/(y - y)", "division by zero"),
    ("log(0)", "not a finite real number"),
    ("sqrt(-1)", "not a finite real number"),
    ("asin(2)", "not a finite real number"),
    ("exp(800)", "not a finite real number"),
    ("cosh(-720)", "not a finite real number"),
    ("1e300*1e300", "not a finite real number"),
    ("exp(10**29*log(2))", "MAX_EXPONENT"),
    ("exp(asin(w) + 123456789012345678901234567890)", "MAX_EXPONENT"),
    ("((900**(-x))**((2**100 + 297)/x))", "MAX_EXPONENT"),
    ("(7**x)**(1/(2*x))*x + ((2**100 + 3)**x)**(1/(2*x))", "MAX_CONSTANT_BITS"),
    ("exp(1)**(x + 10**29*log(2))", "MAX_EXPONENT"),
    ("(1000/y)**(w + 2**100 + 297)", "MAX_EXPONENT"),
    ("(x - 1000)**1000", "MAX_EXPANDED_TERMS"),
    ("sinh(asin(w)**709)", "MAX_EXPANDED_TERMS"),
    ("(x + y + 1)**30", "MAX_EXPANDED_TERMS"),
    ("max(max(x, y, w, x + y, x + w), max(w + y, x*y, x*w, w*y))", "MAX_MINMAX_ARGS"),
    ("min(x, y, w, x*y, x*w, w*y, x + y, x + w, w + y)", r"min\(\) takes 2 to 8 arguments"),
    ("((10**29*x)**1000)**1000", "float64"),
    ("((2/3)**1000)**1000", "float64"),
    ("((2**100 + 1)/2**100)**999", "MAX_CONSTANT_BITS"),
    ("(10**29/3*x)**1000", "float64"),
    ("\u0445 + 1", "non-ASCII character .* CYRILLIC SMALL LETTER HA"),
    ("\uff58", "non-ASCII"),  # fullwidth x: Python's parser would quietly read it as x
    ("x;y", "syntax error"),
    ("import os", "syntax error"),
    ("lambda*x", "keyword"),
    ("x = 1", "syntax error"),
    ("x # comment", "comments"),
    ("x\x00", "control character"),
    ("", "empty"),
    ("  \n\t ", "empty"),
    ("None", "None is not allowed"),
    ("...", "Ellipsis is not allowed"),
    ("x, y", "tuples"),
    ("{x: y}", "dicts"),
    ("xx", r"unknown symbol 'xx' \(declared: w, x, y, a, b, c, model\); did you mean 'x'\?"),
    ("e", "unknown symbol 'e'"),
]


@pytest.mark.parametrize("text, message", HOSTILE, ids=[f"{i}-{t[:20]!r}" for i, (t, _) in enumerate(HOSTILE)])
def test_hostile_or_malformed_text_is_refused_quickly(text, message):
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=message) as info:
        parse(text)
    assert time.perf_counter() - start < 2.0
    err = info.value
    assert err.offset is None or 0 <= err.offset <= len(text)
    if err.piece and err.offset is not None:
        assert text[err.offset:].startswith(err.piece)


def test_pieces_point_at_the_offending_construct():
    text = "w*x + x.__class__"
    err = pytest.raises(ExpressionError, parse, text).value
    assert (err.piece, err.offset) == ("x.__class__", 6)
    err = pytest.raises(ExpressionError, parse, "  x ^ 2").value
    assert err.offset == 2 and err.hint == "use ** for powers"
    err = pytest.raises(ExpressionError, parse, "x + lambda").value
    assert err.piece.startswith("lambda") and "keyword" in err.hint


@pytest.mark.parametrize("value", [None, 3, b"x", ["x"]])
def test_non_text_is_refused(value):
    with pytest.raises(ExpressionError, match="must be a string"):
        expr.parse(value, SYMS)


SLOW = "sinh(30 - cosh(log(y)**100))"  # SymPy's own sign checks take over 10 s


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
def test_time_budget_refuses_slow_sympy_work_and_restores_an_outer_alarm(monkeypatch):
    # how long SymPy takes on SLOW depends on its caches and on hash order: a budget far below any
    # build time makes the test about the mechanism, whatever the machine and the test order
    monkeypatch.setattr(expr_text, "MAX_SECONDS", 1e-5)

    def outer(signum, frame):
        raise AssertionError("the outer alarm fired early")
    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        start = time.perf_counter()
        with pytest.raises(ExpressionError, match="MAX_SECONDS"):
            parse(SLOW)
        assert time.perf_counter() - start < 2.0
        assert signal.getsignal(signal.SIGALRM) is outer
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_time_budget_holds_when_the_alarm_is_lost(monkeypatch):
    # an alarm's exception raised inside a garbage-collector callback is dropped by Python: the
    # converter's own check of the deadline between nodes must stop the build all the same
    monkeypatch.setattr(expr_text, "_deadline", lambda seconds: contextlib.nullcontext(time.monotonic() - 1.0))
    with pytest.raises(ExpressionError, match="MAX_SECONDS"):
        parse("a*exp(-b*x) + c")


def test_parse_works_outside_the_main_thread():
    out = []
    worker = threading.Thread(target=lambda: out.append(parse("a*exp(-b*x) + c")))
    worker.start()
    worker.join()
    assert out == [a * sympy.exp(-b * x) + c]


def test_long_flat_sums_are_not_deep():
    poly = parse(" + ".join(f"{k}*x**{k}" for k in range(1, 120)))
    assert poly == sum(k * x**k for k in range(1, 120))
    assert parse("+".join(["x", "y"] * 200)) == 200 * x + 200 * y


# ---- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lambda", "for", "None", "True", "class", "import"])
def test_keywords_are_refused(name):
    with pytest.raises(ExpressionError, match=f"parameter name '{name}' is a Python keyword"):
        expr.check_name(name, what="parameter")


@pytest.mark.parametrize("name, message", [
    ("exp", "function"), ("sigmoid", "function"), ("max", "function"), ("abs", "function"), ("pi", "constant"),
    ("_x", "underscore"), ("__class__", "underscore"), ("1x", "identifier"), ("x-y", "identifier"),
    ("", "identifier"), ("x y", "identifier"), ("\u0430", "non-ASCII.*CYRILLIC SMALL LETTER A"),
    ("x\u0445", "non-ASCII"), ("e", "reserved"), ("select", "reserved"), ("arcsin", "reserved"),
    ("a" * 101, "longer"),
])
def test_unusable_names_are_refused(name, message):
    with pytest.raises(ExpressionError, match=message):
        expr.check_name(name)
    with pytest.raises(ExpressionError):
        expr.make_symbol(name)


def test_non_str_name_is_refused():
    with pytest.raises(ExpressionError, match="must be a string"):
        expr.check_name(3)  # type: ignore[arg-type]


def test_sympy_special_names_are_plain_symbols():
    names = ["E", "I", "S", "N", "Q", "O", "gamma", "beta", "zeta", "lambda_", "match", "type", "x0", "exp_"]
    syms = {n: expr.make_symbol(n) for n in names}
    assert all(s.is_real and isinstance(s, sympy.Symbol) for s in syms.values())
    e = expr.parse("E*I + S - N/beta + gamma**2 + zeta*lambda_ - Q*O + match*type + x0 - exp_ + exp(1)", syms)
    vals = dict(zip(names, [1.5, 2.0, 0.25, 3.0, 0.5, 4.0, 1.25, 0.75, 2.5, 0.125, 0.3, 0.6, 1.1, 0.9]))
    want = (1.5 * 2.0 + 0.25 - 3.0 / 0.75 + 1.25**2 + 2.5 * 0.125 - 0.5 * 4.0 + 0.3 * 0.6 + 1.1 - 0.9 + np.e)
    got = sympy.lambdify([syms[n] for n in names], e, modules="numpy")(*[np.float64(vals[n]) for n in names])
    assert got == pytest.approx(want, rel=1e-14)
    grad = sympy.diff(e, syms["I"])
    assert grad == syms["E"]


def test_names_in_generated_numpy_code_cannot_be_symbols():
    """A symbol named like anything lambdify prints would shadow it in the generated function."""
    t = sympy.Symbol("t", real=True)
    funcs = [sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.acos, sympy.atan, sympy.sinh,
             sympy.cosh, sympy.tanh, sympy.asinh, sympy.acosh, sympy.atanh, sympy.Abs, sympy.sign, sympy.sqrt,
             sympy.Heaviside, lambda u: sympy.Max(u, 0), lambda u: sympy.Min(u, 1)]
    body = sum((f(t) for f in funcs), sympy.E + sympy.pi + sympy.Rational(1, 3) + sympy.Float("0.5"))
    body += sympy.Piecewise((t, (t < 0) & (t >= -1) | sympy.Ne(t, 2)), (t**2, sympy.Eq(t, 3)), (1, t > 4))
    body += sympy.Piecewise((1, t <= 2), (0, ~(t > 5)))
    expr.check_tree(body)
    for e in [body, [body, body**2 + sympy.exp(body)]]:
        source = inspect.getsource(sympy.lambdify([t], e, modules="numpy", cse=True))
        used = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)} - {"t"}
        used = {n for n in used if not (n.startswith("x") and n[1:].isdigit())}  # cse temporaries
        assert used
        for name in used:
            with pytest.raises(ExpressionError):
                expr.check_name(name)


# ---- check_tree --------------------------------------------------------------------------------

def test_derivative_of_abs_is_sign():
    d = sympy.diff(parse("abs(w*x - y)"), w)
    expr.check_tree(d)
    assert d == x * sympy.sign(w * x - y)
    ws = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(numeric(d, [w, x, y], ws, 2.0, 1.0), 2.0 * np.sign(ws * 2.0 - 1.0))


def test_derivative_of_max_and_relu_is_heaviside_and_evaluates():
    for text in ["max(0, w*x)", "relu(w*x)"]:
        d = sympy.diff(parse(text), w)
        expr.check_tree(d)
        assert d.has(sympy.Heaviside)
        got = numeric(d, [w, x], np.array([-1.0, 0.0, 2.0]), 2.0)
        np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])  # Heaviside(0) = 1/2
        assert numeric(d, [w, x], 3.0, 2.0) == 2.0


def test_derivative_at_a_kink_with_dirac_delta_is_refused():
    for tree in [sympy.diff(parse("sign(w)"), w), sympy.diff(parse("abs(w*x - y)"), w, 2),
                 sympy.diff(parse("relu(w*x)"), w, 2), sympy.DiracDelta(w)]:
        with pytest.raises(ExpressionError, match="DiracDelta.*cannot be evaluated numerically"):
            expr.check_tree(tree)


def test_piecewise_lambdifies_to_select():
    pw = sympy.Piecewise((x**2, x < 0), (x, True))
    expr.check_tree(pw)
    expr.check_tree(sympy.diff(pw, x))
    np.testing.assert_array_equal(numeric(pw, [x], np.array([-2.0, 3.0])), [4.0, 3.0])
    assert numeric(pw, [x], -2.0) == 4.0
    with pytest.raises(ExpressionError, match="StrictLessThan"):
        expr.check_tree(x < 1)  # a comparison is only allowed as a Piecewise condition


@pytest.mark.parametrize("name", sorted(set(expr.FUNCTIONS) - {"sum", "dot"}))  # sums: tests/test_vectors.py
def test_every_function_differentiates_to_an_allowed_tree(name):
    text = {"max": "max(w*x, y)", "min": "min(w*x, y)", "acosh": "acosh(w*x + 2)"}.get(name, f"{name}(w*x)")
    e = parse(text)
    d = sympy.diff(e, w)
    if name == "sign":
        with pytest.raises(ExpressionError, match="DiracDelta"):
            expr.check_tree(d)
        return
    expr.check_tree(e)
    expr.check_tree(d)
    xs, h = np.array([0.4, 0.8, 1.2]), 1e-6
    f = sympy.lambdify([w, x, y], e, modules="numpy")
    fd = (f(0.5 + h, xs, 0.5) - f(0.5 - h, xs, 0.5)) / (2 * h)
    np.testing.assert_allclose(numeric(d, [w, x, y], 0.5, xs, 0.5), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("tree, name", [
    (sympy.Derivative(sympy.Function("f")(x), x), "Derivative"),
    (sympy.Function("f")(x), "f"),
    (sympy.Subs(sympy.Function("f")(y), y, x), "Subs"),
    (sympy.Integral(x, x), "Integral"),
    (sympy.zoo * x, "ComplexInfinity"),
    (sympy.nan, "NaN"),
    (x + sympy.oo, "Infinity"),
    (x - sympy.oo, "NegativeInfinity"),
    (sympy.I * x, "ImaginaryUnit"),
    (sympy.erf(x), "erf"),
    (sympy.gamma(x), "gamma"),
    (sympy.floor(x), "floor"),
    (sympy.re(sympy.Symbol("z")), "re"),
    (sympy.Dummy("d") * x, "Dummy"),
    (sympy.EulerGamma * x, "EulerGamma"),
    (sympy.Eq(x, 1), "Equality"),
])
def test_check_tree_refuses_and_names_the_node(tree, name):
    with pytest.raises(ExpressionError, match=name):
        expr.check_tree(tree)


def test_check_tree_accepts_the_allowlist():
    tree = (sympy.E * x + sympy.pi * sympy.Rational(1, 3) + sympy.Float("2.5") + sympy.Abs(x) * sympy.sign(x)
            + sympy.Max(x, y) - sympy.Min(x, 1) + sympy.Heaviside(x) + sympy.atanh(x / 2) + sympy.log(x) ** -2)
    expr.check_tree(tree)
    with pytest.raises(ExpressionError):
        expr.check_tree("x")  # type: ignore[arg-type]


# ---- fuzzing -----------------------------------------------------------------------------------

def _parse_or_refuse(text: str) -> None:
    start = time.perf_counter()
    try:
        result = parse(text)
    except ExpressionError:
        pass
    else:
        expr.check_tree(result)
    assert time.perf_counter() - start < 1.0, text


TOKENS = (["w", "x", "y", "pi", "E", "e", "zz", "0", "1", "2", "3", "7", "12", "10**29", "0.5", "1e-3", "1e308",
           "999", "1000", "1/3", "2/3", "1.0", "+", "-", "*", "/", "**", "**-", "^", "//", "%", "@", ",", " ",
           "(", ")", "(", ")", ".", "__class__", "[", "]", "'a'", "lambda", ":", "=", ":=", "if", "else", "j",
           "#", "\n", "\\", "\x00", "\u0445", "factorial(", "__import__(", "getattr(", "log(2)", "*log(2)"]
          + [f"{name}(" for name in expr.FUNCTIONS])

LEAVES = st.sampled_from(["w", "x", "y", "pi", "0", "1", "2", "3", "7", "12", "0.5", "2.5", "1e-3", "1e300",
                          "10**29", "1/3", "999/1000", "log(2)", "log(12)", "exp(1)", "-1"])


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
        lambda t: f"({t[0]}){t[1]}({t[2]})")
    call = st.tuples(st.sampled_from(sorted(expr.FUNCTIONS)), st.lists(children, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})")
    return binary | call | children.map(lambda s: f"-({s})")


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_fuzz_any_text_parses_or_raises_expression_error(text):
    _parse_or_refuse(text)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_fuzz_token_soup_parses_or_raises_expression_error(text):
    _parse_or_refuse(text)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(LEAVES, _combine, max_leaves=12))
def test_fuzz_well_formed_expressions_parse_or_raise_expression_error(text):
    _parse_or_refuse(text)


def test_a_long_sum_is_the_tree_that_adding_term_by_term_gives():
    names = [f"w{i}" for i in range(150)] + [f"x{i}" for i in range(150)]
    syms = {n: expr.make_symbol(n) for n in names}
    text = " + ".join(f"{0.1 * (i % 7)}*w{i}*x{i}" if i % 3 else f"w{i}*x{i} - 0.5*x{i}" for i in range(150))
    by_term = sympy.S.Zero
    for i in range(150):
        by_term += (sympy.Float(repr(0.1 * (i % 7)), 17) * syms[f"w{i}"] * syms[f"x{i}"] if i % 3
                    else syms[f"w{i}"] * syms[f"x{i}"] - sympy.Float("0.5", 17) * syms[f"x{i}"])
    assert sympy.srepr(expr.parse(text, syms)) == sympy.srepr(by_term)
    with pytest.raises(ExpressionError) as info:  # a bad term in a long chain is still located
        expr.parse("w1 + w2 - w3 + nope + w4", syms)
    assert info.value.offset == 15 and "unknown symbol 'nope'" in info.value.message
