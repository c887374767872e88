"""The loop: trajectories against hand computations, sampling, stopping, divergence, bounds."""

from __future__ import annotations

import numpy as np
import pytest

import optikit
from optikit import DivergenceError, loads_spec

LINE = """\
name: line
model: a*x + b
parameters: {a: 0.5, b: -1.0}
data:
  x: [0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 5.0, 7.0, 8.0, 9.5]
  y: [2.9, 4.1, 4.8, 6.2, 8.1, 11.2, 11.8, 16.1, 18.3, 20.9]
optimizer: {name: gd, lr: 0.01, epochs: 200}
"""
X = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 5.0, 7.0, 8.0, 9.5])
Y = np.array([2.9, 4.1, 4.8, 6.2, 8.1, 11.2, 11.8, 16.1, 18.3, 20.9])


def _hand_gd(a, b, lr, epochs):
    traj, losses = [], []
    for _ in range(epochs):
        r = a * X + b - Y
        losses.append(np.mean(r**2))
        a, b = a - lr * np.mean(2 * X * r), b - lr * np.mean(2 * r)
        traj.append((a, b))
    return np.array(traj), np.array(losses)


def test_batch_gd_follows_hand_computed_trajectory():
    result = optikit.run(loads_spec(LINE))
    traj, losses = _hand_gd(0.5, -1.0, 0.01, 200)
    np.testing.assert_allclose(result.history.parameters, traj, rtol=1e-12, atol=0)
    np.testing.assert_allclose(result.history.loss, losses, rtol=1e-12, atol=0)
    assert result.loss == pytest.approx(np.mean((traj[-1, 0] * X + traj[-1, 1] - Y) ** 2), rel=1e-12)


def _hand_sgd(seed, batch_size, epochs, lr=0.001):
    rng = np.random.default_rng(seed)
    a, b = 0.5, -1.0
    out = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            idx = order[s:s + batch_size]
            r = a * X[idx] + b - Y[idx]
            a, b = a - lr * np.mean(2 * X[idx] * r), b - lr * np.mean(2 * r)
        out.append((a, b))
    return np.array(out)


@pytest.mark.parametrize("batch_size", [1, 3, 4])
def test_sgd_draws_documented_permutations(batch_size):
    spec = loads_spec(LINE).with_overrides(optimizer="sgd", lr=0.001, epochs=30, seed=11, batch_size=batch_size)
    result = optikit.run(spec)
    np.testing.assert_allclose(result.history.parameters, _hand_sgd(11, batch_size, 30), rtol=1e-12)
    assert result.steps == 30 * -(-len(X) // batch_size)


def test_sgd_seed_reproducible_and_seeds_differ():
    spec = loads_spec(LINE).with_overrides(optimizer="sgd", lr=0.001, epochs=20)
    first = optikit.run(spec, seed=3).history.parameters
    again = optikit.run(spec, seed=3).history.parameters
    other = optikit.run(spec, seed=4).history.parameters
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_sgd_without_seed_records_the_seed_it_drew():
    spec = loads_spec(LINE).with_overrides(optimizer="sgd", lr=0.001, epochs=5)
    result = optikit.run(spec)
    assert isinstance(result.seed, int)
    np.testing.assert_array_equal(optikit.run(spec, seed=result.seed).x, result.x)


def test_divergence_is_an_error_with_epoch_and_parameters():
    with pytest.raises(DivergenceError) as info:
        optikit.run(loads_spec(LINE), lr=1.0, epochs=10_000)
    err = info.value
    assert err.epoch > 0 and set(err.parameters) == {"a", "b"}
    assert "not finite" in str(err) and "lower the learning rate" in str(err)
    assert err.exit_code == 1
    partial = err.result
    assert len(partial.history) == err.epoch and np.all(np.isfinite(partial.history.loss))


def test_steps_limit_and_stop_reason():
    result = optikit.run(loads_spec(LINE), optimizer="sgd", lr=0.001, steps=25, seed=0)
    assert result.steps == 25 and result.stop_reason == "steps"
    assert result.epochs == 3  # 10 + 10 + 5 steps


def test_tol_and_gtol_stop_early():
    by_tol = optikit.run(loads_spec(LINE), epochs=100_000, tol=1e-12)
    assert by_tol.stop_reason == "tol" and by_tol.epochs < 100_000
    by_gtol = optikit.run(loads_spec(LINE), epochs=100_000, gtol=1e-6)
    assert by_gtol.stop_reason == "gtol"
    assert np.max(np.abs(optikit.prepare(loads_spec(LINE)).problem.grad(by_gtol.x))) <= 1e-6


def test_callback_can_stop_the_run():
    seen = []
    result = optikit.run(loads_spec(LINE), callbacks=[lambda r: seen.append(r.epoch) or r.epoch == 4])
    assert seen == [0, 1, 2, 3, 4] and result.stop_reason == "callback" and result.epochs == 5


def test_bounds_are_enforced_by_projection():
    spec = loads_spec(LINE.replace("b: -1.0}", "b: {init: -1.0, max: 0.5}}"))
    result = optikit.run(spec, epochs=2000)
    assert result.parameters["b"] == 0.5
    assert np.all(result.history.parameters[:, 1] <= 0.5)


def test_step_schedule_scales_the_step():
    spec = loads_spec(LINE.replace("epochs: 200}", "epochs: 6, schedule: {name: step, step_size: 2, gamma: 0.5}}"))
    result = optikit.run(spec)
    a, b = 0.5, -1.0
    for epoch in range(6):
        r = a * X + b - Y
        factor = 0.5 ** (epoch // 2)
        a, b = a + factor * (-0.01 * np.mean(2 * X * r)), b + factor * (-0.01 * np.mean(2 * r))
    np.testing.assert_allclose(result.x, [a, b], rtol=1e-13)


def test_no_numpy_warnings_leak(recwarn):
    with pytest.raises(DivergenceError):
        optikit.run(loads_spec(LINE), lr=5.0, epochs=1000)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
