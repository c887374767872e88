"""Whole epochs in one Python loop on the NumPy backend (optikit/backends/pyepoch.py): the same
parameters, bit for bit, as the engine stepping through them."""

from __future__ import annotations

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.engine import fused
from optikit.engine.checkpoint import RunControl
from optikit.engine.loop import Settings, run_problem

from .conftest import KERNEL_OPTIMIZERS

LINE = "model: a*x + b\nparameters: {a: 0.0, b: 0.0}\noptimizer: {name: sgd}\n"
LOGISTIC = "model: sigmoid(a*x + b)\nparameters: {a: 0.5, b: -0.1}\noptimizer: {name: sgd}\n"


def _line(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    return {"x": x, "y": 3 * x + 2 + rng.normal(0, 0.5, n)}


def _without_kernels(monkeypatch):
    monkeypatch.setattr(optikit.Optimizer, "kernel", lambda self: None)
    for cls in optikit.plugins.Registry.build(optikit.plugins.plugin_manager()).optimizers.values():
        monkeypatch.setattr(cls.obj, "kernel", lambda self: None, raising=False)


def _trajectory(result):
    return result.parameters, [(r.loss, r.parameters) for r in result.history.records], result.steps


@pytest.mark.parametrize("opt", KERNEL_OPTIMIZERS, ids=lambda o: "-".join(str(v) for v in o.values()))
@pytest.mark.parametrize("batch", [1, 7])
def test_python_epochs_equal_stepping_bit_for_bit(opt, batch, monkeypatch):
    settings = {**opt, "epochs": 3, "batch_size": batch, "seed": 1}
    settings["optimizer"] = settings.pop("name")
    runs = []
    for text in (LINE, LOGISTIC):
        spec = optikit.loads_spec(text)
        runs.append(_trajectory(optikit.run(spec, data=_line(60), **settings)))
    _without_kernels(monkeypatch)
    for text, got in zip((LINE, LOGISTIC), runs):
        assert got == _trajectory(optikit.run(optikit.loads_spec(text), data=_line(60), **settings))


def test_bounds_schedules_and_step_limits_as_stepping(monkeypatch):
    spec = optikit.loads_spec("model: a*x + b\nparameters: {a: {init: 0.0, max: 2.5}, b: 0.0}\n"
                              "optimizer: {name: sgd, lr: 0.01, steps: 250, batch_size: 1, seed: 4,\n"
                              "            schedule: {name: step, step_size: 2, gamma: 0.5}}\n")
    got = _trajectory(optikit.run(spec, data=_line(60)))
    _without_kernels(monkeypatch)
    assert got == _trajectory(optikit.run(spec, data=_line(60))) and got[2] == 250


def test_divergence_and_skips_read_as_stepping(monkeypatch):
    spec = optikit.loads_spec(LINE)
    settings = {"optimizer": "sgd", "lr": 10.0, "epochs": 50, "batch_size": 1, "seed": 0}
    seen = []
    for strip in (False, True):
        if strip:
            _without_kernels(monkeypatch)
        with pytest.raises(optikit.DivergenceError) as info:
            optikit.run(spec, data=_line(40), **settings)
        skipped = optikit.run(spec, data=_line(40), **{**settings, "lr": 0.02}, on_nonfinite="skip")
        seen.append((str(info.value), info.value.result.history.records, _trajectory(skipped)))
    assert seen[0] == seen[1]


def test_a_long_epoch_reports_progress_and_stops_on_ctrl_c(monkeypatch):
    monkeypatch.setattr(fused, "CHUNK_STEPS", 16)
    problem = compile_spec(optikit.loads_spec(LINE), data=_line(100))
    control = RunControl()
    reported = []

    def on_step(step):
        reported.append(step)
        control.interrupted = len(reported) == 3

    control.on_step = on_step
    result = run_problem(problem, _sgd(), Settings(epochs=2, batch_size=1, seed=0), control=control)
    assert reported == [16, 32, 48] and result.stop_reason == "interrupted" and result.steps == 48


def _sgd():
    from optikit.optimizers.sgd import SGD

    return SGD(lr=0.001)


def test_a_kernel_breaking_its_contract_is_reported_by_the_engine():
    def bad_update(grad, state, params, hyper):
        return np.zeros(3), state

    class Bad(optikit.Optimizer):
        name = "bad"

        def init(self, params):
            return optikit.EmptyState()

        def update(self, grad, state, params, oracle=None):
            return bad_update(grad, state, params, ())

        def kernel(self):
            return optikit.Kernel(lambda p, h: optikit.EmptyState(), bad_update, ())

    problem = compile_spec(optikit.loads_spec(LINE), data=_line(20))
    with pytest.raises(optikit.PluginError, match="step of shape"):
        run_problem(problem, Bad(), Settings(epochs=1, batch_size=1, seed=0))


def test_per_sample_epoch_prints_powers_and_functions_as_the_scalar_code(monkeypatch):
    text = ("model: alpha*x**2 + sqrt(beta**2 + 1)*x + exp(-x/beta)\nparameters: {alpha: 0.1, beta: 2.0}\n"
            "optimizer: {name: adam, lr: 0.01, epochs: 3, batch_size: 1, seed: 2}\n")
    data = _line(50)
    got = _trajectory(optikit.run(optikit.loads_spec(text), data=data))
    _without_kernels(monkeypatch)
    assert got == _trajectory(optikit.run(optikit.loads_spec(text), data=data))


def test_per_sample_source_names_only_its_own_symbols():
    from optikit.backends.pystep import per_sample_source
    from optikit.symbolic.shared import shared_subexpressions

    problem = compile_spec(optikit.loads_spec("model: alpha*x**2 + beta\nparameters: {alpha: 0.1, beta: 2.0}\n"
                                             "optimizer: {name: sgd}\n"),
                           data=_line(10)).symbolic
    source = per_sample_source(problem.params, [problem.symbol("x"), problem.symbol("y")], problem.grad_exprs,
                               shared_subexpressions, True, True)
    assert "alpha" not in source and "beta" not in source and "p_0**2" not in source
    assert "v_0**2" in source and "n_1 = n_1 if n_1 > lo[1] else lo[1]" in source
