"""The gradient of optikit/symbolic/derivative.py is SymPy's, tree for tree; where it is computed."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time

import pytest
import sympy
from sympy.core.cache import clear_cache

import optikit
from optikit.expr import parse
from optikit.expr.special import stabilize
from optikit.symbolic import bounded, treecodec
from optikit.symbolic.derivative import gradient, work
from optikit.symbolic.losses import BUILTIN_LOSSES
from optikit.symbolic.problem import resolve_loss

from .conftest import SPECS

LOSSES = {name: text for name, (text, _) in BUILTIN_LOSSES.items()}
SYMBOLS = {name: sympy.Symbol(name, real=True) for name in ("a", "b", "c", "x", "y")}
FUNCTIONS = ["exp", "log", "sin", "cos", "tan", "atan", "tanh", "sqrt", "abs", "sigmoid", "softplus", "asinh",
             "relu", "sign"]


def assert_same_as_sympy(loss, params):
    clear_cache()  # neither side may find the other's results in SymPy's cache
    ours = gradient(loss, params)
    clear_cache()
    theirs = tuple(sympy.diff(loss, p) for p in params)
    assert ours == theirs
    assert [sympy.srepr(g) for g in ours] == [sympy.srepr(g) for g in theirs]
    try:  # class, argument order and each float's precision, as the derivation cache compares them
        assert treecodec.encode(list(ours)) == treecodec.encode(list(theirs))
    except treecodec.CodecError:
        pass


def _scalar_specs():
    for path in sorted(SPECS.glob("*.yaml")):
        spec = optikit.load_spec(path)
        if not spec.vector_parameters:
            yield path.name, spec


@pytest.mark.parametrize("name, spec", list(_scalar_specs()))
def test_every_bundled_spec(name, spec):
    loss = stabilize(resolve_loss(spec, LOSSES))
    params = [spec.symbols[p.name] for p in spec.parameters]
    assert_same_as_sympy(loss, params)
    assert_same_as_sympy(loss, [*params, *(spec.symbols[c] for c in spec.columns if c in spec.symbols)])


def _random_expression(rng, depth):
    r = rng.random()
    if depth == 0 or r < 0.25:
        return rng.choice([*SYMBOLS, "2", "3.5", "0.5", "1", "pi", "-1.25"])
    if r < 0.6:
        op = rng.choice(["+", "-", "*", "/", "**"])
        if op == "**":
            return f"({_random_expression(rng, depth - 1)})**{rng.choice(['2', '3', '0.5', '-1', '1.5', 'x'])}"
        return f"({_random_expression(rng, depth - 1)} {op} {_random_expression(rng, depth - 1)})"
    if r < 0.7:
        return f"max({_random_expression(rng, depth - 1)}, {_random_expression(rng, depth - 1)})"
    if r < 0.8:
        return " + ".join(_random_expression(rng, depth - 1) for _ in range(rng.randint(3, 6)))
    return f"{rng.choice(FUNCTIONS)}({_random_expression(rng, depth - 1)})"


@pytest.mark.parametrize("seed", range(4))
def test_random_models_under_each_loss(seed):
    rng = random.Random(seed)
    model, target = sympy.Symbol("model", real=True), SYMBOLS["y"]
    tested = 0
    while tested < 12:
        try:
            e = parse(_random_expression(rng, rng.randint(1, 4)), SYMBOLS)
        except optikit.errors.ExpressionError:
            continue
        loss_name = rng.choice(sorted(LOSSES))
        loss = stabilize(parse(LOSSES[loss_name], {"model": model, "target": target}).subs(model, e))
        assert_same_as_sympy(loss, [SYMBOLS["a"], SYMBOLS["b"], SYMBOLS["c"], SYMBOLS["x"]])
        tested += 1


def _wide(n, loss="logloss", model="sigmoid"):
    terms = " + ".join(f"w{i}*x{i}" for i in range(n - 1))
    pars = ", ".join([*(f"w{i}: 0.1" for i in range(n - 1)), "b: 0.0"])
    spec = optikit.loads_spec(f"model: {model}({terms} + b)\nparameters: {{{pars}}}\nloss: {loss}\n"
                              "optimizer: {name: gd}\n")
    return spec, stabilize(resolve_loss(spec, LOSSES)), [spec.symbols[p.name] for p in spec.parameters]


@pytest.mark.parametrize("model, loss", [("sigmoid", "logloss"), ("relu", "huber"), ("sigmoid", "mae")])
def test_wide_models(model, loss):
    _, tree, params = _wide(20, loss, model)
    assert work(tree, params) is not None  # Max, Min, Abs by their own rules, not left to SymPy
    assert_same_as_sympy(tree, params)


def test_nodes_left_to_sympy():
    a, x = SYMBOLS["a"], SYMBOLS["x"]
    f = sympy.Function("f")  # SymPy leaves its derivative unevaluated: the whole tree is SymPy's
    assert_same_as_sympy(f(a * x) + sympy.exp(a) * sympy.Max(a, x) + sympy.Abs(a - x) ** 2, [a, x])
    step = sympy.Piecewise((a * x, x > 0), (a ** 2, True))  # a node of SymPy's own, inside ours
    assert_same_as_sympy(sympy.exp(step) + sympy.sign(a - x) * a, [a, x])
    assert work(f(a * x), [a]) is None and work(step, [a]) is None and work(sympy.exp(a * x), [x]) > 0


def test_a_wide_model_is_derived_in_process(monkeypatch):
    spec, loss, params = _wide(150, "mse")
    assert bounded.tree_size([loss]) > bounded.NODE_THRESHOLD
    assert work(loss, params) <= bounded.WORK_LIMIT
    started = []
    original = bounded._start_worker
    monkeypatch.setattr(bounded, "_start_worker", lambda: started.append(1) or original())
    grads, cse = bounded.derive(spec, loss, params)
    assert not started and [grads[0], grads[-1]] == [sympy.diff(loss, params[0]), sympy.diff(loss, params[-1])]
    assert cse.result == sympy.cse([loss, *grads], list=False)
    # no alarm outside the main thread, and an attempt past its time: the worker, with the same result
    done = []
    thread = threading.Thread(target=lambda: done.append(bounded.derive(spec, loss, params)))
    thread.start()
    thread.join(60)
    monkeypatch.setattr(bounded, "IN_PROCESS_SECONDS", 0.0)
    assert bounded.derive(spec, loss, params)[0] == done[0][0] == grads and len(started) == 2


@pytest.mark.parametrize("name", ["exp_decay_lm.yaml", "rosenbrock.yaml", "logistic.yaml"])
def test_second_derivatives_and_jacobians_are_sympys(name):
    problem = optikit.api.compile_spec(SPECS / name).symbolic
    params = problem.params
    expected = tuple(tuple(sympy.diff(g, q).replace(sympy.DiracDelta, lambda *a: sympy.S.Zero) for q in params)
                     for g in problem.grad_exprs)
    assert problem.hessian_exprs == expected
    if problem.is_least_squares:
        assert problem.jacobian_exprs == tuple(sympy.diff(problem.residual_expr, p) for p in params)


def test_another_sympy_version_is_probed_once(monkeypatch):
    from optikit.symbolic import derivative

    monkeypatch.setattr(derivative, "COMPARED", ("0.0.",))
    monkeypatch.setattr(derivative, "_agrees", None)
    assert derivative.agrees_with_sympy()  # this SymPy's rules, probed rather than trusted
    monkeypatch.setattr(derivative, "_agrees", False)  # as if a rule had changed: SymPy's own diff, not ours

    def ours(*args):
        raise AssertionError("the rules ran")

    monkeypatch.setattr(derivative._Tree, "derivative", ours)
    a, x = SYMBOLS["a"], SYMBOLS["x"]
    assert derivative.gradient(sympy.exp(a * x), [a, x]) == (x * sympy.exp(a * x), a * sympy.exp(a * x))


def test_the_in_process_attempt_is_interrupted_by_its_alarm(monkeypatch):
    spec, loss, params = _wide(150, "mse")
    a = SYMBOLS["a"]

    def endless(*args, **kwargs):  # SymPy busy, never reading a clock (10 s: a failure, not a hang)
        stop = time.monotonic() + 10
        while time.monotonic() < stop:
            sympy.expand((a + 1) ** 6)
        return ()

    monkeypatch.setattr(bounded.derivative, "gradient", endless)
    monkeypatch.setattr(bounded, "IN_PROCESS_SECONDS", 0.2)
    started = []
    original = bounded._start_worker
    monkeypatch.setattr(bounded, "_start_worker", lambda: started.append(1) or original())
    grads, _ = bounded.derive(spec, loss, params)  # the worker, which has its own copy of the module
    assert started and grads[-1] == sympy.diff(loss, params[-1])


def test_a_limit_must_be_positive_and_the_attempt_here_counts_against_it(monkeypatch):
    spec, loss, params = _wide(150, "mse")
    for bad in (-1.0, 0.0, float("nan")):
        with pytest.raises(optikit.SpecError, match="must be positive"), bounded.limits(bad):
            bounded.derive(spec, loss, params)
    given = []
    monkeypatch.setattr(bounded, "_in_process", lambda *args: time.sleep(0.3))  # an attempt that took 0.3 s

    class Pipe:
        def send(self, item):
            pass

        def poll(self, seconds):
            given.append(seconds)
            return False

        def close(self):
            pass

    monkeypatch.setattr(bounded, "_start_worker", lambda: (subprocess.Popen([sys.executable, "-c", "pass"]), Pipe(), Pipe()))
    with pytest.raises(optikit.SpecError, match="took longer than 2 s"), bounded.limits(2.0):
        bounded.derive(spec, loss, params)
    assert 1.5 < given[0] <= 1.7
