"""newton, levenberg-marquardt and lbfgs on hand-built oracles."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from optikit.optimizers.base import hyperparameters
from optikit.optimizers.lbfgs import LBFGS
from optikit.optimizers.second_order import LevenbergMarquardt, Newton

CLASSES = (Newton, LevenbergMarquardt, LBFGS)


class FunctionOracle:
    """An oracle from closures; ``residuals`` given means ``loss == mean(residuals**2)``."""

    def __init__(self, loss, grad, hessian=None, residuals=None, jacobian=None):
        self._loss, self._grad, self._hessian = loss, grad, hessian
        self._residuals, self._jacobian = residuals, jacobian
        self.calls = 0

    def loss(self, p):
        self.calls += 1
        return float(self._loss(p))

    def grad(self, p):
        return np.asarray(self._grad(p), dtype=float)

    def hessian(self, p):
        return np.asarray(self._hessian(p), dtype=float)

    def residuals(self, p):
        return np.asarray(self._residuals(p), dtype=float)

    def jacobian(self, p):
        return np.asarray(self._jacobian(p), dtype=float)


def least_squares_oracle(residuals, jacobian):
    def loss(p):
        return np.mean(residuals(p) ** 2)

    def grad(p):
        return 2.0 / len(residuals(p)) * jacobian(p).T @ residuals(p)

    return FunctionOracle(loss, grad, residuals=residuals, jacobian=jacobian)


def linear_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.5, -2.0, 0.25]) + 0.1 * rng.normal(size=40)
    oracle = least_squares_oracle(lambda p: X @ p - y, lambda p: X)
    oracle._hessian = lambda p: 2.0 / len(y) * X.T @ X
    return oracle, X, y


def rosenbrock():
    def loss(p):
        x, y = p
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    def grad(p):
        x, y = p
        return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])

    def hessian(p):
        x, y = p
        return np.array([[2 - 400 * (y - x**2) + 800 * x**2, -400 * x], [-400 * x, 200.0]])

    return FunctionOracle(loss, grad, hessian)


def double_well():
    """``x**4 - 3x**2 + y**2``: indefinite Hessian near x = 0, minima at (+-sqrt(1.5), 0)."""
    return FunctionOracle(
        lambda p: p[0] ** 4 - 3 * p[0] ** 2 + p[1] ** 2,
        lambda p: np.array([4 * p[0] ** 3 - 6 * p[0], 2 * p[1]]),
        lambda p: np.array([[12 * p[0] ** 2 - 6, 0.0], [0.0, 2.0]]),
    )


X_DECAY = np.linspace(0.0, 4.0, 30)
TRUE_DECAY = np.array([2.5, 1.3, 0.5])


def decay_oracle():
    y = TRUE_DECAY[0] * np.exp(-TRUE_DECAY[1] * X_DECAY) + TRUE_DECAY[2]

    def residuals(p):
        a, b, c = p
        return a * np.exp(-b * X_DECAY) + c - y

    def jacobian(p):
        a, b, _ = p
        e = np.exp(-b * X_DECAY)
        return np.column_stack([e, -a * X_DECAY * e, np.ones_like(X_DECAY)])

    return least_squares_oracle(residuals, jacobian)


def run(opt, oracle, p0, steps, tol=None, solution=None):
    """The engine's loop; stops early once ``|p - solution|_inf < tol``. Returns params, losses."""
    p = np.asarray(p0, dtype=float)
    state = opt.init(p)
    trail, losses = [p], [oracle.loss(p)]
    for _ in range(steps):
        step, state = opt.update(oracle.grad(p), state, p, oracle)
        p = p + step
        trail.append(p)
        losses.append(oracle.loss(p))
        if tol is not None and np.max(np.abs(p - solution)) < tol:
            break
    return np.array(trail), np.array(losses), state


def assert_descent(losses):
    assert np.all(np.diff(losses) <= 0), losses


# --- the contract ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES)
def test_contract_and_documented_hyperparameters(cls):
    assert cls.name in {"newton", "levenberg-marquardt", "lbfgs"}
    assert cls.requires and cls.requires <= {"loss", "hessian", "residuals"}
    hps = hyperparameters(cls)
    assert hps and all(not h.required for h in hps)
    for h in hps:
        assert h.doc, f"{cls.__name__}.{h.name} is undocumented"
    state = cls().init(np.zeros(3))
    assert isinstance(state, tuple) and hasattr(state, "_fields")


def test_requirements():
    assert Newton.requires == {"hessian", "loss"}
    assert LevenbergMarquardt.requires == {"residuals", "loss"}
    assert LBFGS.requires == {"loss"}


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (Newton, {"lr": 0.0}),
        (Newton, {"c1": 1.0}),
        (Newton, {"backtrack": 1.0}),
        (Newton, {"max_backtracks": -1}),
        (Newton, {"damping": -1e-3}),
        (Newton, {"shift": 0.0}),
        (LevenbergMarquardt, {"lambda_": 0.0}),
        (LevenbergMarquardt, {"increase": 1.0}),
        (LevenbergMarquardt, {"decrease": 0.5}),
        (LevenbergMarquardt, {"max_tries": 0}),
        (LevenbergMarquardt, {"scaling": "nope"}),
        (LevenbergMarquardt, {"acceleration": 1}),
        (LevenbergMarquardt, {"avmax": 0.0}),
        (LevenbergMarquardt, {"fvv_step": -0.1}),
        (LBFGS, {"lr": -1.0}),
        (LBFGS, {"history_size": 0}),
        (LBFGS, {"history_size": 2.5}),
        (LBFGS, {"line_search": "exact"}),
        (LBFGS, {"tolerance_grad": -1.0}),
        (LBFGS, {"max_ls": 0}),
        (LBFGS, {"c1": 0.9, "c2": 0.5}),
    ],
)
def test_invalid_hyperparameters(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


@pytest.mark.parametrize("cls", CLASSES)
def test_update_does_not_mutate_inputs(cls):
    oracle = decay_oracle()
    oracle._hessian = lambda p: np.eye(3)  # any PD matrix will do for the contract
    opt = cls()
    p = np.array([1.0, 1.0, 0.0])
    state = opt.init(p)
    for _ in range(3):  # fill lbfgs' memory so its arrays are in play
        step, state = opt.update(oracle.grad(p), state, p, oracle)
        p = p + step
    g = oracle.grad(p)
    saved = copy.deepcopy((p, g, state))
    opt.update(g, state, p, oracle)
    for before, after in zip(saved[:2], (p, g)):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(saved[2], state):
        np.testing.assert_array_equal(before, after)


# --- newton ----------------------------------------------------------------------------------


def test_newton_one_step_solves_linear_least_squares():
    oracle, X, y = linear_problem()
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    trail, _, state = run(Newton(), oracle, np.zeros(3), 1)
    assert np.max(np.abs(trail[-1] - beta)) <= 1e-10 * np.max(np.abs(beta))
    assert state.damping == 0.0


def test_newton_rosenbrock_converges_with_descent():
    trail, losses, _ = run(Newton(), rosenbrock(), [-1.5, 2.0], 50, tol=1e-8, solution=np.ones(2))
    assert np.max(np.abs(trail[-1] - 1.0)) < 1e-8
    assert len(trail) - 1 <= 25  # measured: 22 (error 7.9e-10)
    assert_descent(losses)


def test_newton_indefinite_hessian_still_descends_to_a_minimum():
    oracle = double_well()
    p0 = np.array([0.1, 1.0])
    assert np.linalg.eigvalsh(oracle.hessian(p0))[0] < 0
    opt = Newton()
    first, state = opt.update(oracle.grad(p0), opt.init(p0), p0, oracle)
    assert state.damping > 0  # the Hessian had to be shifted
    assert oracle.loss(p0 + first) < oracle.loss(p0)
    target = np.array([np.sqrt(1.5), 0.0])
    trail, losses, _ = run(opt, oracle, p0, 50, tol=1e-8, solution=target)
    assert_descent(losses)
    # pure Newton goes to the saddle at the origin from here; the safeguarded one cannot
    np.testing.assert_allclose(trail[-1], target, rtol=0, atol=1e-8)
    assert len(trail) - 1 <= 10  # measured: 4


def test_newton_backtracks_out_of_non_finite_losses():
    # a loss undefined past x = 1.5 whose Newton step from 0 lands at 2
    oracle = FunctionOracle(
        lambda p: (p[0] - 2) ** 2 if p[0] < 1.5 else np.nan, lambda p: 2 * (p - 2), lambda p: 2 * np.eye(1)
    )
    p = np.zeros(1)
    step, _ = Newton().update(oracle.grad(p), Newton().init(p), p, oracle)
    np.testing.assert_allclose(step, [1.0], rtol=1e-12)


def test_newton_zero_gradient_is_a_fixed_point():
    oracle = rosenbrock()
    p = np.ones(2)
    step, _ = Newton().update(oracle.grad(p), Newton().init(p), p, oracle)
    np.testing.assert_array_equal(step, 0.0)


# --- levenberg-marquardt ---------------------------------------------------------------------


@pytest.mark.parametrize("acceleration", [True, False])
@pytest.mark.parametrize("scaling", ["marquardt", "more", "levenberg"])
@pytest.mark.parametrize("start", [[1.0, 1.0, 0.0], [10.0, 5.0, -3.0], [-1.0, 3.0, 2.0]])
def test_lm_fits_exponential_decay(scaling, start, acceleration):
    opt = LevenbergMarquardt(scaling=scaling, acceleration=acceleration)
    trail, losses, state = run(opt, decay_oracle(), start, 49, tol=1e-8, solution=TRUE_DECAY)
    assert np.max(np.abs(trail[-1] - TRUE_DECAY)) < 1e-8
    assert len(trail) - 1 < 50  # measured: 5 from (1, 1, 0) and at most 9 from the others
    assert_descent(losses)  # only accepted steps are taken
    assert state.count == len(trail) - 1


def test_lm_rejects_and_retries_with_larger_lambda():
    oracle = decay_oracle()
    p = np.array([1.0, 1.0, 0.0])
    # a tiny lambda makes the first trial a wild Gauss-Newton step from this start
    opt = LevenbergMarquardt(lambda_=1e-12, max_tries=20, acceleration=False)
    step, state = opt.update(oracle.grad(p), opt.init(p), p, oracle)
    assert oracle.loss(p + step) < oracle.loss(p)


def test_lm_zero_step_when_no_trial_is_accepted():
    oracle = decay_oracle()
    p = np.array([1.0, 1.0, 0.0])
    rejecting = least_squares_oracle(
        lambda q: oracle.residuals(q) * (1.0 if np.array_equal(q, p) else 10.0), oracle.jacobian
    )
    opt = LevenbergMarquardt(lambda_=1e-3, increase=10.0, max_tries=3, damping="multiply", acceleration=False)
    step, state = opt.update(rejecting.grad(p), opt.init(p), p, rejecting)
    np.testing.assert_array_equal(step, 0.0)
    assert state.lambda_ == pytest.approx(1e-3 * 10.0**3)
    # Nielsen's update doubles its factor after each rejection: lambda * 2 * 4 * 8
    opt = LevenbergMarquardt(lambda_=1e-3, max_tries=3, damping="nielsen", acceleration=False)
    step, state = opt.update(rejecting.grad(p), opt.init(p), p, rejecting)
    np.testing.assert_array_equal(step, 0.0)
    assert (state.lambda_, state.nu) == (pytest.approx(1e-3 * 64.0), 16.0)
    assert not opt.converged(state)


def test_lm_nielsen_update_follows_the_gain_ratio():
    oracle = decay_oracle()
    p = np.array([1.0, 1.0, 0.0])
    opt = LevenbergMarquardt(lambda_=1.0, damping="nielsen", acceleration=False)
    step, state = opt.update(oracle.grad(p), opt.init(p), p, oracle)
    r, jac = oracle.residuals(p), oracle.jacobian(p)
    cost, new_cost = float(r @ r), float(oracle.residuals(p + step) @ oracle.residuals(p + step))
    d = np.diag(jac.T @ jac)
    predicted = float(step @ (1.0 * d * step - jac.T @ r))
    rho = (cost - new_cost) / predicted
    assert state.lambda_ == pytest.approx(max(1 / 3, 1 - (2 * rho - 1) ** 3))
    assert state.nu == 2.0


def test_lm_at_the_solution_keeps_lambda():
    oracle = decay_oracle()
    opt = LevenbergMarquardt()
    step, state = opt.update(oracle.grad(TRUE_DECAY), opt.init(TRUE_DECAY), TRUE_DECAY, oracle)
    np.testing.assert_array_equal(step, 0.0)
    assert state.lambda_ == opt.lambda_


# --- lbfgs -----------------------------------------------------------------------------------


def test_lbfgs_rosenbrock_converges_with_descent_and_matches_scipy():
    oracle = rosenbrock()
    trail, losses, state = run(LBFGS(), oracle, [-1.5, 2.0], 100, tol=1e-8, solution=np.ones(2))
    assert np.max(np.abs(trail[-1] - 1.0)) < 1e-8
    assert len(trail) - 1 < 100
    assert len(trail) - 1 <= 45  # measured: 41 (error 1.5e-9); scipy's L-BFGS-B takes 43-44
    assert_descent(losses)
    assert state.size == 10

    minimize = pytest.importorskip("scipy.optimize").minimize
    ref = minimize(oracle.loss, [-1.5, 2.0], jac=oracle.grad, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
    np.testing.assert_allclose(trail[-1], ref.x, rtol=0, atol=1e-8)


def test_lbfgs_backtracking_converges_with_descent():
    trail, losses, _ = run(
        LBFGS(line_search="backtracking"), rosenbrock(), [-1.5, 2.0], 200, tol=1e-8, solution=np.ones(2)
    )
    assert np.max(np.abs(trail[-1] - 1.0)) < 1e-8
    assert len(trail) - 1 <= 50  # measured: 41 (error 5.3e-10)
    assert_descent(losses)


def test_lbfgs_keeps_at_most_history_size_pairs():
    oracle, X, y = linear_problem()
    opt = LBFGS(history_size=2)
    _, _, state = run(opt, oracle, np.zeros(3), 6)
    assert state.s.shape == state.y.shape == (2, 3)
    assert state.size <= 2


def test_lbfgs_solves_linear_least_squares():
    oracle, X, y = linear_problem()
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    # the default tolerance_grad=1e-7 would stop it near 4e-9
    trail, losses, _ = run(LBFGS(tolerance_grad=0.0), oracle, np.zeros(3), 30, tol=1e-10, solution=beta)
    np.testing.assert_allclose(trail[-1], beta, rtol=0, atol=1e-10)
    assert len(trail) - 1 <= 12  # measured: 9
    assert_descent(losses)


def test_lbfgs_zero_step_below_tolerance_grad():
    oracle = rosenbrock()
    p = np.ones(2)
    opt = LBFGS()
    step, state = opt.update(oracle.grad(p), opt.init(p), p, oracle)
    np.testing.assert_array_equal(step, 0.0)
    assert state.count == 1 and state.size == 0
