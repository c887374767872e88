"""levenberg-marquardt's geodesic acceleration and its floor on lambda, against closed forms and
NIST's certified values for the two hard starts the method without them misses."""

from __future__ import annotations

import json

import numpy as np
import pytest

import optikit
from optikit.optimizers.levenberg import LevenbergMarquardt
from tests.test_second_order import decay_oracle, least_squares_oracle

# Residuals quadratic in the parameters: a forward difference gives their second directional
# derivative exactly (up to rounding), so the accelerated step has a closed form.
X_QUAD = np.linspace(-1.0, 2.0, 9)
Y_QUAD = 1.7**2 * X_QUAD + 1.7 * 0.4 + 0.05 * np.cos(3.0 * X_QUAD)


def quad_oracle():
    def residuals(p):
        return p[0] ** 2 * X_QUAD + p[0] * p[1] - Y_QUAD

    def jacobian(p):
        return np.column_stack([2 * p[0] * X_QUAD + p[1], np.full_like(X_QUAD, p[0])])

    return least_squares_oracle(residuals, jacobian)


def test_accelerated_step_is_velocity_plus_half_the_acceleration():
    oracle, p = quad_oracle(), np.array([1.5, 0.5])
    opt = LevenbergMarquardt()
    step, state = opt.update(oracle.grad(p), opt.init(p), p, oracle)
    r, jac = oracle.residuals(p), oracle.jacobian(p)
    system = jac.T @ jac + opt.lambda_ * np.diag(np.diag(jac.T @ jac))
    v = np.linalg.solve(system, -jac.T @ r)
    r_vv = 2 * v[0] ** 2 * X_QUAD + 2 * v[0] * v[1]  # d^2/dt^2 r(p + t v), by hand
    a = np.linalg.solve(system, -jac.T @ r_vv)
    assert np.linalg.norm(a) > 1e-3 * np.linalg.norm(v)  # the correction is not negligible here
    np.testing.assert_allclose(step, v + a / 2, rtol=1e-7)
    plain, _ = LevenbergMarquardt(acceleration=False).update(oracle.grad(p), opt.init(p), p, oracle)
    np.testing.assert_allclose(plain, v, rtol=1e-10)


def test_a_trial_with_large_acceleration_is_rejected():
    oracle, p = decay_oracle(), np.array([1.0, 1.0, 0.0])
    opt = LevenbergMarquardt(avmax=1e-9, max_tries=3)
    step, state = opt.update(oracle.grad(p), opt.init(p), p, oracle)
    np.testing.assert_array_equal(step, 0.0)
    assert (state.lambda_, state.nu) == (pytest.approx(opt.lambda_ * 2 * 4 * 8), 16.0)
    # the same trials without the test: the first is accepted
    step, _ = LevenbergMarquardt(max_tries=3).update(oracle.grad(p), opt.init(p), p, oracle)
    assert oracle.loss(p + step) < oracle.loss(p)


def test_the_floor_on_lambda_follows_a_stale_scale():
    oracle, p = decay_oracle(), np.array([2.4, 1.25, 0.52])
    opt = LevenbergMarquardt(lambda_=1e-15, acceleration=False)
    jac = oracle.jacobian(p)
    diag = np.diag(jac.T @ jac)
    _, fresh = opt.update(oracle.grad(p), opt.init(p), p, oracle)
    assert fresh.lambda_ == 1e-15  # D = diag(J'J): Gauss-Newton to machine precision
    stale = opt.init(p)._replace(scale=1e6 * diag)  # the largest scale seen, far above today's
    _, state = opt.update(oracle.grad(p), stale, p, oracle)
    assert state.lambda_ < 1e-15  # lambda * D may still fall to the floor on the current diag(J'J)


def nist_spec(model: str, start: dict, x: list, y: list, **opt: object) -> optikit.Spec:
    params = "\n".join(f"  {k}: {v}" for k, v in start.items())
    options = "".join(f"\n  {k}: {json.dumps(v)}" for k, v in opt.items())
    return optikit.loads_spec(f"model: {model}\nparameters:\n{params}\ndata:\n  x: {x}\n  y: {y}\n"
                              f"optimizer:\n  name: levenberg-marquardt{options}\n")


def digits(result: optikit.Result, certified: dict) -> float:
    """The fewest correct significant digits over the parameters (NIST's log relative error)."""
    return min(-np.log10(abs(result.parameters[k] - v) / abs(v)) for k, v in certified.items())


# NIST StRD BoxBOD and MGH10 (Meyer), public domain: data, start 1 and certified values.
BOXBOD = ("b1*(1 - exp(-b2*x))", {"b1": 1.0, "b2": 1.0}, [1.0, 2.0, 3.0, 5.0, 7.0, 10.0],
          [109.0, 149.0, 149.0, 191.0, 213.0, 224.0], {"b1": 213.80940889, "b2": 0.54723748542})
MGH10 = ("b1*exp(b2/(x + b3))", {"b1": 2.0, "b2": 400000.0, "b3": 25000.0},
         [50.0, 55.0, 60.0, 65.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 100.0, 105.0, 110.0, 115.0, 120.0, 125.0],
         [34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0, 9744.0, 8261.0, 7030.0, 6005.0, 5147.0,
          4427.0, 3820.0, 3307.0, 2872.0],
         {"b1": 0.005609636471, "b2": 6181.3463463, "b3": 345.22363462})


@pytest.mark.parametrize("case", [BOXBOD, MGH10], ids=["BoxBOD", "MGH10"])
def test_hard_nist_starts_reach_the_certified_values(case):
    model, start, x, y, certified = case
    result = optikit.run(nist_spec(model, start, x, y))  # the defaults: run until converged
    assert result.stop_reason == "converged"
    assert digits(result, certified) >= 6  # NIST's bar for a solved fit is 4


def test_without_acceleration_boxbod_start_1_ends_on_the_plateau():
    model, start, x, y, certified = BOXBOD
    result = optikit.run(nist_spec(model, start, x, y, acceleration=False))
    # the first Gauss-Newton step sends b2 where exp(-b2*x) vanishes: b1 fits the mean of y
    assert result.parameters["b2"] > 50 and result.parameters["b1"] == pytest.approx(np.mean(y), rel=1e-6)
    assert digits(result, certified) < 1
