"""Gradient checks: symbolic equivalence, finite differences, hand-written and Python gradients."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import sympy

import optikit
from optikit import gradcheck
from optikit.gradcheck import equivalence
from optikit.gradcheck.report import DIFFERS, FD_MISMATCH, OK, UNCHECKED
from optikit.expr import make_symbol

from .conftest import SPECS

WRONG = SPECS / "seed_sgd_wrong_gradient.yaml"
RIGHT = SPECS / "seed_gd_hand_gradient.yaml"

BLOG = """
model: w*x
parameters:
  w: 1.0
data:
  x: [1.0, 2.0, 3.0]
  y: [2.0, 4.0, 6.0]
loss: (model - y)**2
optimizer: {name: gd, lr: 0.01, epochs: 100}
"""


def _spec(text: str) -> optikit.Spec:
    return optikit.loads_spec(text)


# ---- symbolic equivalence ---------------------------------------------------------------------
W, X, Y = make_symbol("w"), sympy.Symbol("x", real=True), sympy.Symbol("y", real=True)
SAMPLES = [{W: 1.0, X: np.array([1.0, 2.0, 3.0]), Y: np.array([2.0, 4.0, 6.0])}]


@pytest.mark.parametrize("hand, verdict", [
    (2 * X * (W * X - Y), equivalence.IDENTICAL),
    (2 * W * X**2 - 2 * X * Y, equivalence.SIMPLIFIED),
    (2 * W * (W * X - Y), equivalence.DIFFERS),
])
def test_equivalence_verdicts(hand, verdict):
    assert equivalence.compare(2 * X * (W * X - Y), hand, SAMPLES).verdict == verdict


def test_equivalence_difference_of_the_blog_gradient():
    eq = equivalence.compare(2 * X * (W * X - Y), 2 * W * (W * X - Y), SAMPLES)
    assert sympy.simplify(eq.difference - 2 * (W - X) * (W * X - Y)) == 0
    assert sympy.sstr(eq.difference) == "2*(w - x)*(w*x - y)"


def test_equivalence_needs_simplify_for_trigonometry(monkeypatch):
    derived, hand = 2 * sympy.sin(W) * sympy.cos(W), sympy.sin(2 * W)
    assert equivalence.compare(derived, hand, SAMPLES).verdict == equivalence.SIMPLIFIED
    monkeypatch.setattr(equivalence, "SIMPLIFY_MAX_OPS", 0)  # the size guard: no simplify
    assert equivalence.compare(derived, hand, SAMPLES).verdict == equivalence.UNDECIDED


# ---- spec checks ------------------------------------------------------------------------------
def test_blog_gradient_differs():
    report = optikit.check(WRONG)
    w = report["w"]
    assert not report.ok and report.exit_code == 1
    assert w.verdict == DIFFERS and w.equivalence == equivalence.DIFFERS
    assert w.derived == "2*x*(w*x - y)" and w.hand == "2*w*(w*x - y)"
    assert w.difference == "2*(w - x)*(w*x - y)"
    assert w.worst is not None and set(w.worst["point"]) == {"w"}
    assert w.comparisons[0].agree  # the derived gradient itself matches finite differences
    text = str(report)
    assert "HAND GRADIENT DIFFERS" in text and "2*x*(w*x - y)" in text and "FAILED: w" in text


def test_right_gradient_agrees():
    report = optikit.check(RIGHT)
    assert report.ok and report["w"].verdict == OK and report["w"].equivalence == equivalence.IDENTICAL
    assert report.points[0] == {"w": 1.0} and len(report.points) == 4  # initial + 3 seeded random points
    assert report.points == optikit.check(RIGHT).points  # seeded


def test_equal_after_simplification_in_check_section():
    spec = _spec(BLOG + "check:\n  gradient:\n    w: 2*w*x**2 - 2*x*y\n  at: [{w: 0.5}, {w: 3.0}]\n")
    report = optikit.check(spec)
    assert report.ok and report["w"].equivalence == equivalence.SIMPLIFIED
    assert report.points == [{"w": 0.5}, {"w": 3.0}]
    assert report["w"].comparisons[1].compared == 2 * 4  # two points x (three rows + the mean)


def test_undecided_falls_back_to_numbers(monkeypatch):
    monkeypatch.setattr(equivalence, "SIMPLIFY_MAX_OPS", 0)
    spec = _spec("objective: sin(w)**2\nparameters: {w: 0.3}\noptimizer: gd\ncheck:\n  gradient: {w: sin(2*w)}\n")
    report = optikit.check(spec)
    assert report["w"].equivalence == equivalence.UNDECIDED and report["w"].verdict == OK


def test_three_parameter_model_names_the_wrong_one():
    spec = optikit.load_spec(SPECS / "exp_decay.yaml")
    text = (SPECS / "exp_decay.yaml").read_text() + (
        "check:\n  gradient:\n"
        "    a: 2*(a*exp(-b*x) + c - y)*exp(-b*x)\n"
        "    b: 2*a*x*(a*exp(-b*x) + c - y)*exp(-b*x)\n"  # sign dropped
        "    c: 2*(a + (c - y)*exp(b*x))*exp(-b*x)\n")
    report = optikit.check(optikit.loads_spec(text), hessian=True)
    assert [p.name for p in report.parameters if not p.ok] == ["b"]
    assert report["a"].equivalence in (equivalence.IDENTICAL, equivalence.SIMPLIFIED)
    assert report["c"].equivalence == equivalence.SIMPLIFIED
    assert report["b"].equivalence == equivalence.DIFFERS
    assert all(c.agree for c in report["a"].comparisons)
    assert len(report["a"].comparisons) == 3 + 3  # derived/hand comparisons + one Hessian row
    assert optikit.check(spec, hessian=True).ok


def test_loss_not_finite_is_skipped_not_counted():
    spec = _spec("objective: log(w)\nparameters: {w: 1.0}\noptimizer: gd\ncheck:\n  at: [{w: 2.0}, {w: -1.0}]\n")
    report = optikit.check(spec)
    fd = report["w"].comparisons[0]
    assert report.ok and fd.compared == 2 and fd.failed == 0  # w=2: the row and the mean
    assert any("loss not finite at w=-1" in r for r in fd.skipped)
    assert "skipped: loss not finite at w=-1" in str(report)
    only_bad = _spec("objective: log(w)\nparameters: {w: 1.0}\noptimizer: gd\ncheck:\n  at: [{w: -1.0}]\n")
    assert optikit.check(only_bad)["w"].verdict == UNCHECKED and optikit.check(only_bad).exit_code == 1


@pytest.mark.parametrize("objective, kink", [("abs(w - 1)", 1.0), ("max(w, 1)", 1.0), ("relu(w)", 0.0)])
def test_kinks_are_skipped(objective, kink):
    spec = _spec(f"objective: {objective}\nparameters: {{w: 2.0}}\noptimizer: gd\n"
                 f"check:\n  at: [{{w: {kink}}}, {{w: 3.0}}]\n")
    report = optikit.check(spec)
    assert report.ok
    assert any("not differentiable" in r and f"w={kink:g}" in r for r in report["w"].comparisons[0].skipped)


def test_derived_vs_finite_differences_mismatch_is_its_own_verdict():
    spec = _spec("objective: exp(w)\nparameters: {w: 1.0}\noptimizer: gd\n")
    report = optikit.check(spec, eps=0.1, atol=0.0, rtol=0.0)  # a coarse step cannot match exactly
    assert report["w"].verdict == FD_MISMATCH and not report.ok


def test_defaults_are_torch_gradcheck_defaults():
    torch_gradcheck = pytest.importorskip("torch.autograd.gradcheck")
    params = inspect.signature(torch_gradcheck.gradcheck).parameters
    assert (params["eps"].default, params["atol"].default, params["rtol"].default) == (
        gradcheck.DEFAULT_EPS, gradcheck.DEFAULT_ATOL, gradcheck.DEFAULT_RTOL) == (1e-6, 1e-5, 1e-3)


def test_report_json_has_the_same_facts():
    data = optikit.check(WRONG).to_dict()
    w = data["parameters"]["w"]
    assert data["ok"] is False and data["tolerance"] == {"atol": 1e-5, "rtol": 1e-3, "eps": 1e-6}
    assert w["verdict"] == DIFFERS and w["derived"] == "2*x*(w*x - y)" and w["difference"] == "2*(w - x)*(w*x - y)"
    assert w["max_abs_error"] >= w["worst"]["abs_error"] > 1
    assert w["comparisons"][1]["what"] == "hand vs derived" and w["comparisons"][1]["failed"] == 15


# ---- Python gradients ------------------------------------------------------------------------
def _blog_right(params, data):
    return {"w": np.mean(2 * data["x"] * (params["w"] * data["x"] - data["y"]))}


def _blog_wrong_rows(params, data):
    w = params["w"]
    return [2 * w * (w * data["x"] - data["y"])]


def test_check_callable():
    good = gradcheck.check_callable(RIGHT, _blog_right)
    assert good.ok and good["w"].comparisons[1].compared == 4  # means only: one per point
    bad = gradcheck.check_callable(RIGHT, _blog_wrong_rows)
    assert not bad.ok and bad["w"].verdict == DIFFERS and bad["w"].comparisons[1].compared == 16
    assert "_blog_wrong_rows" in str(bad)


# ---- training with a hand gradient -----------------------------------------------------------
def test_prepare_refuses_a_wrong_training_gradient():
    with pytest.raises(optikit.GradientMismatchError) as info:
        optikit.prepare(WRONG)
    err = info.value
    assert err.exit_code == 1 and err.parameter == "w"
    assert err.derived == "2*x*(w*x - y)" and err.hand == "2*w*(w*x - y)"
    assert str(err).startswith(f"{WRONG}:14:6: gradient.w:")
    prepared = optikit.prepare(WRONG, trust_gradient=True)
    assert prepared.problem.grad_exprs != prepared.problem.derived_grad_exprs


def test_trusted_wrong_gradient_reproduces_the_blog_bit_for_bit():
    result = optikit.run(WRONG, trust_gradient=True)
    xs, ys, w, lr = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0, 0.01
    weights, costs = [], []
    for _ in range(100):
        cost, grad = 0.0, 0.0
        for x, y in zip(xs, ys):
            cost += (w * x - y) ** 2
            grad += 2 * w * (w * x - y)
        costs.append(cost / len(xs))
        w = w - lr * (grad / len(xs))
        weights.append(w)
    assert [r.parameters["w"] for r in result.history] == weights
    assert [r.loss for r in result.history] == costs
    assert result.parameters["w"] == w


def test_right_hand_gradient_trains_like_the_derived_one():
    hand = optikit.run(RIGHT)
    derived = optikit.run(SPECS / "seed_sgd.yaml", optimizer="gd", epochs=100, lr=0.01)
    assert hand.parameters["w"] == pytest.approx(derived.parameters["w"], rel=1e-12)


# ---- a real difference too small for the numeric tolerance -----------------------------------
NEAR = (SPECS / "exp_decay.yaml").read_text().replace("optimizer:", (
    "gradient:\n"
    "  a: 2*(a*exp(-b*x) + c - y)*exp(-b*x)\n"
    "  b: -1.9999*a*x*(a*exp(-b*x) + c - y)*exp(-b*x)\n"  # the derivative has -2
    "  c: 2*(a*exp(-b*x) + c - y)\n"
    "optimizer:"), 1)


def test_symbolic_difference_within_tolerance_is_a_verdict_of_its_own():
    from optikit.gradcheck.report import DIFFERS_WITHIN_TOLERANCE

    report = optikit.check(optikit.loads_spec(NEAR))
    b = report["b"]
    assert b.equivalence == equivalence.DIFFERS and all(c.agree for c in b.comparisons)
    assert b.verdict == DIFFERS_WITHIN_TOLERANCE and not report.ok and report.exit_code == 1
    assert report["a"].ok and report["c"].ok
    assert b.comparisons[1].max_rel_error == pytest.approx(5e-5, rel=1e-3)
    text = str(report)
    assert "parameter b: HAND GRADIENT DIFFERS SYMBOLICALLY, WITHIN THE NUMERIC TOLERANCE" in text
    assert "max relative difference 5e-05" in text and "FAILED: b" in text
    data = report.to_dict()["parameters"]["b"]
    assert data["verdict"] == DIFFERS_WITHIN_TOLERANCE and data["ok"] is False
    assert data["difference_max_rel"] == pytest.approx(5e-5, rel=1e-3)


def test_training_refuses_a_gradient_that_differs_only_within_tolerance():
    spec = optikit.loads_spec(NEAR, path=SPECS / "near.yaml")
    with pytest.raises(optikit.GradientMismatchError) as info:
        optikit.run(spec)
    err = info.value
    assert err.parameter == "b" and err.exit_code == 1
    assert str(err).startswith(f"{SPECS / 'near.yaml'}:17:6: gradient.b: ")
    assert "within the check's tolerance" in str(err) and "5e-05" in str(err) and "refusing to train" in str(err)
    assert optikit.run(spec, trust_gradient=True, epochs=3).epochs == 3


def test_training_refusal_when_the_derived_gradient_also_misses_finite_differences(monkeypatch):
    # the first failing comparison is then derived vs finite differences, which holds no hand value
    import functools

    from optikit.gradcheck import checking, training

    coarse = functools.partial(checking.check_problem, eps=0.5, atol=0.0, rtol=0.0)
    monkeypatch.setattr(training, "check_problem", coarse)
    spec = optikit.loads_spec(NEAR)
    assert not optikit.check(spec, eps=0.5, atol=0.0, rtol=0.0)["b"].comparisons[0].agree
    with pytest.raises(optikit.GradientMismatchError, match="the hand gradient is"):
        optikit.prepare(spec)


# ---- what the equivalence label says ---------------------------------------------------------
def test_equivalence_label_follows_the_text_as_written():
    # SymPy's derivative keeps 2*(...)*exp(-b*x) unexpanded; parsing the same text distributes the 2
    text = (SPECS / "exp_decay.yaml").read_text() + (
        "check:\n  gradient:\n"
        "    a: 2*(a*exp(-b*x) + c - y)*exp(-b*x)\n"   # prints exactly as the derived gradient
        "    c: 2*(a*exp(-b*x) + c - y)\n")            # the derived one reads 2*a*exp(-b*x) + 2*c - 2*y
    report = optikit.check(optikit.loads_spec(text))
    assert report["a"].derived == report["a"].hand and report["a"].equivalence == equivalence.IDENTICAL
    assert report["c"].derived != report["c"].hand and report["c"].equivalence == equivalence.SIMPLIFIED
    shown = str(report)
    assert "hand:    2*(a*exp(-b*x) + c - y)*exp(-b*x)   [identical]" in shown
    assert "hand:    2*(a*exp(-b*x) + c - y)   [equal after simplification]" in shown


def test_a_constant_factor_is_named():
    spec = _spec(BLOG + "check:\n  gradient:\n    w: x*(w*x - y)\n")
    w = optikit.check(spec)["w"]
    assert w.equivalence == equivalence.DIFFERS and w.factor == "1/2"
    assert "  hand = 1/2 * derived" in str(optikit.check(spec))
    with pytest.raises(optikit.GradientMismatchError, match=r"\(hand = 1/2 \* derived\)"):
        optikit.prepare(_spec(BLOG + "gradient:\n  w: x*(w*x - y)\n"))
    assert w.to_dict()["factor"] == "1/2"
    assert optikit.check(WRONG)["w"].factor is None  # 2*w*(w*x - y) is not a multiple of 2*x*(w*x - y)
    eq = equivalence.compare(2 * X * (W * X - Y), -2 * X * W * X + 2 * X * Y, SAMPLES)
    assert eq.verdict == equivalence.DIFFERS and eq.factor == -1
