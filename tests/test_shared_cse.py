"""The common subexpressions every backend shares (optikit/symbolic/shared.py): a sum's
power-of-two coefficient is taken outside it, which changes the work and never the value."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import sympy

import optikit
from optikit.backends import numpy as numpy_backend
from optikit.symbolic import bounded, cache
from optikit.symbolic.shared import factor_powers_of_two, shared_subexpressions

a, b, w, x, y = sympy.symbols("a b w x y")


def test_the_residual_of_a_squared_error_is_computed_once():
    loss = (b + w * x - y) ** 2
    subs, (value, dw, db) = shared_subexpressions([loss, *(sympy.diff(loss, p) for p in (w, b))])
    (r, residual), = subs  # one shared subtree: the residual
    assert sympy.expand(residual - (b + w * x - y)) == 0
    assert value == r ** 2 and dw == 2 * x * r and db == 2 * r


@pytest.mark.parametrize("expr, factored", [
    (2 * a + 2 * b, True), (6 * a - 4 * b + 2, True), (sympy.Rational(2, 3) * a + 4 * b, True),
    (sympy.Rational(1, 2) * a + b, False), (3 * a + 3 * b, False), (2 * a + b, False),
    (sympy.Float(2.0) * a + 2 * b, False), (a + b, False),
])
def test_which_sums_are_factored(expr, factored):
    out, = factor_powers_of_two([expr])
    assert sympy.expand(out - expr) == 0
    assert (out.is_Mul and not out.is_Add) == factored


def test_powers_and_functions_of_a_sum_are_left_as_they_are():
    # SymPy would rewrite them (sqrt(2*s) as sqrt(2)*sqrt(s)), which changes the floats
    for expr in (sympy.sqrt(2 * a * x + 2 * b), (2 * a + 2 * b) ** 3, sympy.exp(2 * a * x - 2 * y), 1 / (2 * a + 2 * b)):
        assert factor_powers_of_two([expr]) == [expr]
    inside, = factor_powers_of_two([x * (2 * a + 2 * b) + sympy.sqrt(2 * a + 2 * b)])
    assert inside.has(sympy.sqrt(2 * a + 2 * b)) and not sympy.expand(inside - x * (2 * a + 2 * b)
                                                                       - sympy.sqrt(2 * a + 2 * b))


def _values(exprs, data):
    return [np.broadcast_to(v, data[0].shape) for v in sympy.lambdify([a, b, x, y], exprs, "numpy")(*data)]


def test_factored_sums_give_the_same_floats():
    rng = np.random.default_rng(3)
    data = [rng.normal(size=1000) * 10.0 ** rng.integers(-3, 1, 1000) for _ in range(4)]
    exprs = [2 * a * x + 2 * b - 2 * y, sympy.exp(a * x - y) * (4 * b + 8 * x * y),
             sympy.Rational(2, 3) * a + sympy.Rational(4, 7) * b * x, x * (2 * a + 2 * x) - 4 * y]
    for plain, factored in zip(_values(exprs, data), _values(factor_powers_of_two(exprs), data)):
        assert np.array_equal(plain, factored)


SPECS = [s for s in sorted(glob.glob("specs/*.yaml")) if "parquet" not in s]


@pytest.mark.parametrize("path", SPECS, ids=lambda s: s.split("/")[-1])
def test_the_bundled_specs_run_to_the_same_digits_as_with_plain_cse(path, monkeypatch):
    # not a guarantee for every model: a different sharing can add a sum's terms in another order
    def run():
        return optikit.run(optikit.load_spec(path), epochs=3, steps=40, trust_gradient=True)

    def trajectory(result):
        return [(r.loss, r.parameters) for r in result.history.records]

    monkeypatch.setenv(cache.ENV, "off")
    factored = trajectory(run())
    monkeypatch.setattr(bounded, "shared_subexpressions", lambda exprs: sympy.cse(list(exprs), list=False))
    monkeypatch.setattr(cache, "shared_subexpressions", lambda exprs: sympy.cse(list(exprs), list=False))
    monkeypatch.setattr(numpy_backend, "shared_subexpressions", lambda exprs: sympy.cse(list(exprs), list=False))
    assert trajectory(run()) == factored


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_loss_alone_is_the_loss_computed_with_the_gradient(backend):
    text = ("model: c*exp(-k*x) + sigmoid(a*x + b)/(1 + x*x)\nparameters: {a: 0.3, b: -0.2, c: 1.5, k: 0.4}\n"
            "optimizer: {name: gd, lr: 0.05}\n")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, 257)
    result = optikit.run(optikit.loads_spec(text), data={"x": x, "y": np.sin(x) + rng.normal(0, 0.1, 257)},
                         backend=backend, epochs=3)
    evaluator = result.problem.evaluator
    points = np.random.default_rng(1).normal(size=(30, 4))
    assert [evaluator.sums(p).loss for p in points] == [evaluator.sums(p, grad=False).loss for p in points]
    assert result.loss == result.problem.loss(np.array(list(result.parameters.values())))
