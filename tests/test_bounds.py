"""The internal coordinates of bounded second-order runs (optikit/engine/bounds.py)."""

from __future__ import annotations

import numpy as np
import pytest

import optikit
from optikit.engine.bounds import BoundTransform, TransformedOracle, at_bounds

from .conftest import SPECS

INF = np.inf
LOWER = np.array([0.0, -INF, 1.0, -INF, -2.0])
UPPER = np.array([2.0, 3.0, INF, INF, -2.0 + 1e-3])
U = np.array([0.3, -0.7, 1.2, 0.5, -1.1])


def test_every_internal_point_maps_inside_the_bounds():
    t = BoundTransform(LOWER, UPPER)
    for u in np.random.default_rng(0).normal(scale=10.0, size=(200, 5)):
        p = t.params(u)
        assert np.all(p >= LOWER) and np.all(p <= UPPER)


def test_internal_inverts_params():
    t = BoundTransform(LOWER, UPPER)
    p = t.params(U)
    np.testing.assert_allclose(t.params(t.internal(p)), p, rtol=1e-14, atol=1e-15)
    on = np.array([2.0, 3.0, 1.0, 0.25, -2.0])  # the first three on their bounds
    u = t.internal(on)
    assert u[[0, 1, 2, 3]] == pytest.approx([np.pi / 2, 0, 0, 0.25], abs=1e-3)
    # a hair inside, where dp/du is not zero, so that a start on a bound can leave it
    np.testing.assert_allclose(t.params(u), on, atol=1e-7)
    assert np.all(t.derivatives(u)[0][:3] != 0)


def test_derivatives_match_finite_differences():
    t = BoundTransform(LOWER, UPPER)
    d1, d2 = t.derivatives(U)
    h = 1e-5
    np.testing.assert_allclose(d1, (t.params(U + h) - t.params(U - h)) / (2 * h), rtol=1e-8, atol=1e-12)
    h2 = 1e-3  # a second difference loses eps/h**2 to rounding
    np.testing.assert_allclose(d2, (t.params(U + h2) - 2 * t.params(U) + t.params(U - h2)) / h2**2, rtol=1e-5, atol=1e-9)


class Quadratic:
    """loss = sum(w * (p - c)**2) / 2 with residuals sqrt(w) * (p - c)."""

    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    c = np.array([0.5, -1.0, 2.0, 3.0, -1.0])

    def loss(self, p):
        return 0.5 * float(np.sum(self.w * (p - self.c) ** 2))

    def grad(self, p):
        return self.w * (p - self.c)

    def hessian(self, p):
        return np.diag(self.w)

    def residuals(self, p):
        return np.sqrt(self.w) * (p - self.c)

    def jacobian(self, p):
        return np.diag(np.sqrt(self.w))


def test_transformed_oracle_is_the_chain_rule():
    t = BoundTransform(LOWER, UPPER)
    o = TransformedOracle(Quadratic(), t)
    h = 1e-6
    e = np.eye(5)
    fd_grad = np.array([(o.loss(U + h * e[i]) - o.loss(U - h * e[i])) / (2 * h) for i in range(5)])
    np.testing.assert_allclose(o.grad(U), fd_grad, rtol=1e-6, atol=1e-8)
    fd_hess = np.array([(o.grad(U + h * e[i]) - o.grad(U - h * e[i])) / (2 * h) for i in range(5)])
    np.testing.assert_allclose(o.hessian(U), fd_hess, rtol=1e-6, atol=1e-8)
    fd_jac = np.array([(o.residuals(U + h * e[i]) - o.residuals(U - h * e[i])) / (2 * h) for i in range(5)]).T
    np.testing.assert_allclose(o.jacobian(U), fd_jac, rtol=1e-7, atol=1e-9)


def test_at_bounds_names_the_side():
    assert at_bounds(np.array([0.0, 3.0 - 1e-9, 5.0, 1.0]), np.array([0.0, -INF, 1.0, -INF]),
                     np.array([2.0, 3.0, INF, INF])) == ["lower", "upper", "", ""]


@pytest.mark.parametrize("optimizer", ["levenberg-marquardt", "newton", "lbfgs"])
def test_a_start_exactly_on_a_bound_can_leave_it(optimizer):
    # dp/du is zero on a bound: started there, the internal coordinate's gradient would vanish
    text = (SPECS / "exp_decay_lm.yaml").read_text().replace("  c: 0.0", "  c: {init: 0.0, min: 0.0}")
    result = optikit.run(optikit.loads_spec(text), optimizer=optimizer, epochs=500)
    assert result.parameters["c"] == pytest.approx(0.5, rel=1e-6)
    assert result.parameters["a"] == pytest.approx(2.5, rel=1e-6)
