"""Compiled problems: derivatives against finite differences, batching, broadcasting, residuals."""

from __future__ import annotations

import numpy as np
import pytest

import optikit

from optikit import loads_spec
from optikit.api import compile_spec

DECAY = """\
model: a*exp(-b*x) + c
parameters: {a: 2.0, b: 0.7, c: -0.3}
data:
  x: [0.0, 0.4, 1.1, 1.9, 2.5, 3.2, 4.0]
  y: [2.9, 2.1, 1.4, 0.9, 0.8, 0.6, 0.55]
optimizer: gd
"""


def _fd_grad(f, p, h=1e-6):
    out = np.zeros_like(p)
    for i in range(len(p)):
        e = np.zeros_like(p)
        e[i] = h * max(1.0, abs(p[i]))
        out[i] = (f(p + e) - f(p - e)) / (2 * e[i])
    return out


@pytest.fixture
def decay():
    return compile_spec(loads_spec(DECAY))


def test_gradient_matches_finite_differences(decay):
    rng = np.random.default_rng(0)
    for p in [decay.spec.initial, *rng.normal(1.0, 0.5, size=(5, 3))]:
        np.testing.assert_allclose(decay.grad(p), _fd_grad(decay.loss, p), rtol=1e-6, atol=1e-8)


def test_hessian_matches_finite_differences_of_the_gradient(decay):
    p = np.array([1.5, 0.9, 0.2])
    numeric = np.array([_fd_grad(lambda q: decay.grad(q)[i], p) for i in range(3)])
    np.testing.assert_allclose(decay.hessian(p), numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(decay.hessian(p), decay.hessian(p).T, rtol=1e-12)


def test_batch_is_the_mean_over_rows(decay):
    p = decay.spec.initial
    rows = np.array([4, 1, 6])
    per_loss, per_grad = decay.per_sample(p)
    loss, grad = decay.loss_and_grad(p, rows)
    assert loss == pytest.approx(per_loss[rows].mean(), rel=1e-15)
    np.testing.assert_allclose(grad, per_grad[:, rows].mean(axis=1), rtol=1e-15)


def test_constant_derivatives_broadcast_to_the_batch():
    problem = compile_spec(loads_spec("model: w*x + c\nloss: model - y\nparameters: {w: 1, c: 5}\n"
                                      "data: {x: [1, 2, 6], y: [0, 0, 0]}\noptimizer: gd\n"))
    loss, grad = problem.loss_and_grad(np.array([1.0, 5.0]))
    assert loss == pytest.approx(8.0)
    np.testing.assert_allclose(grad, [3.0, 1.0])  # d/dc of the per-sample loss is the constant 1
    _, per_grad = problem.per_sample(np.array([1.0, 5.0]))
    assert per_grad.shape == (2, 3)


def test_objective_without_data():
    problem = compile_spec(loads_spec("objective: (1 - a)**2 + 100*(b - a**2)**2\nparameters: {a: -1.5, b: 2}\n"
                                      "optimizer: gd\n"))
    p = np.array([-1.5, 2.0])
    assert problem.loss(p) == pytest.approx(6.25 + 100 * 0.0625)
    np.testing.assert_allclose(problem.grad(p), _fd_grad(problem.loss, p), rtol=1e-7)
    np.testing.assert_allclose(problem.hessian(np.array([1.0, 1.0])), [[802, -400], [-400, 200]])


def test_residuals_for_least_squares_losses(decay):
    p = decay.spec.initial
    r = decay.residuals(p)
    assert decay.loss(p) == pytest.approx(np.mean(r**2), rel=1e-14)
    numeric = np.array([_fd_grad(lambda q: decay.residuals(q)[i], p) for i in range(len(r))])
    np.testing.assert_allclose(decay.jacobian(p), numeric, rtol=1e-6, atol=1e-9)
    mae = compile_spec(loads_spec(DECAY + "loss: mae\n"))
    assert decay.symbolic.is_least_squares and not mae.symbolic.is_least_squares
    with pytest.raises(optikit.SpecError, match="needs a least-squares loss"):
        mae.jacobian(decay.spec.initial)


def test_argument_order_is_the_declaration_order():
    problem = compile_spec(loads_spec("model: b*x + a\nparameters: {b: 2.0, a: 1.0}\n"
                                      "data: {x: [1.0], y: [0.0]}\noptimizer: gd\n"))
    assert problem.parameter_names == ("b", "a")
    np.testing.assert_allclose(problem.grad(np.array([2.0, 1.0])), [6.0, 6.0])
    assert problem.predict(np.array([2.0, 1.0]), {"x": [0.0, 1.0]}).tolist() == [1.0, 3.0]


def test_named_losses(decay):
    for name, fn in [("mae", np.abs), ("huber", lambda r: np.where(np.abs(r) <= 1, r**2 / 2, np.abs(r) - 0.5))]:
        problem = compile_spec(loads_spec(DECAY + f"loss: {name}\n"))
        p = np.array([1.0, 0.5, 0.0])
        r = p[0] * np.exp(-p[1] * problem.data["x"]) + p[2] - problem.data["y"]
        assert problem.loss(p) == pytest.approx(np.mean(fn(r)), rel=1e-13)


def test_rows_are_summed_in_order_like_a_hand_written_loop():
    import optikit

    x = np.linspace(0.1, 3.0, 20)
    y = 2.0 * x + 0.1 * np.sin(7 * x)
    spec = loads_spec(f"model: w*x\nparameters: {{w: 1.0}}\ndata:\n  x: {x.tolist()}\n  y: {y.tolist()}\n"
                      "optimizer: {name: gd, lr: 0.01, epochs: 50}\n")
    result = optikit.run(spec)
    w = 1.0
    for record in result.history:
        cost = 0.0
        grad = 0.0
        for a, b in zip(x.tolist(), y.tolist()):
            cost += (w * a - b) ** 2
            grad += 2 * a * (w * a - b)
        w = w - 0.01 * (grad / len(x))
        assert record.loss == cost / len(x) and record.parameters["w"] == w  # bit for bit


def test_log_loss_of_confident_predictions_stays_finite():
    problem = compile_spec(loads_spec("model: sigmoid(w*x + b)\nparameters: {w: 20.0, b: 0.0}\n"
                                      "data: {x: [-3, -2, -1, 1, 2, 3], y: [0, 0, 0, 1, 1, 1]}\n"
                                      "loss: logloss\noptimizer: gd\n"))
    loss, grad = problem.loss_and_grad(np.array([20.0, 0.0]))
    z = 20.0 * np.array([-3, -2, -1, 1, 2, 3])
    assert loss == pytest.approx(np.mean(np.logaddexp(0, -np.abs(z))), rel=1e-12)  # about 7e-10, not nan
    assert np.all(np.isfinite(grad))
    assert "softplus" in str(problem.loss_expr)


def test_sigmoid_and_softplus_do_not_overflow():
    problem = compile_spec(loads_spec("model: sigmoid(w*x) + softplus(c*x)\nparameters: {w: 1.0, c: 1.0}\n"
                                      "data: {x: [-800.0, 1.0, 800.0], y: [0, 1, 800]}\noptimizer: gd\n"))
    loss, grad = problem.loss_and_grad(np.array([1.0, 1.0]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(problem.predict(np.array([1.0, 1.0]), {"x": [800.0]}), [801.0])


def test_hand_gradient_in_exp_form_equals_the_sigmoid_form():
    import optikit

    spec = loads_spec("model: sigmoid(w*x)\nparameters: {w: 0.5}\ndata: {x: [-1, 1, 2], y: [0.2, 0.7, 0.9]}\n"
                      "check:\n  gradient:\n    w: 2*(1/(1 + exp(-w*x)) - y)*x*exp(-w*x)/(1 + exp(-w*x))**2\n"
                      "optimizer: gd\n")
    report = optikit.check(spec)
    assert report.ok and report["w"].equivalence == "equal after simplification"
