"""Every backend against the NumPy reference on every bundled spec; the NumPy backend's two
evaluation paths against each other; compiled epochs against the Python loop."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.backends import NumbaBackend
from optikit.backends.numba_backend import MISSING
from optikit.cli import main

from .conftest import KERNEL_OPTIMIZERS, SPECS

numba = pytest.importorskip("numba")


#: The documented tolerance: relative, on the loss and every parameter of every epoch.
RTOL = 1e-12
#: Specs whose models call exp/log/sigmoid: NumPy's vectorised functions and the C library's may
#: differ in the last place, and many steps can grow that; they are held to this instead.
RTOL_FUNCTIONS = {"exp_decay.yaml": 1e-9, "exp_decay_lm.yaml": 1e-9, "logistic.yaml": 1e-9}


def _run(path, backend):
    try:
        return optikit.run(str(path), backend=backend)
    except optikit.DivergenceError as exc:
        return exc.result
    except optikit.OptikitError as exc:  # refused before training: the same refusal on each backend
        return str(exc)


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_numba_agrees_with_numpy_on_every_bundled_spec(path):
    ref, got = _run(path, "numpy"), _run(path, "numba")
    if isinstance(ref, str):
        assert got == ref
        return
    rtol = RTOL_FUNCTIONS.get(path.name, RTOL)
    floor = rtol * ref.initial_loss  # a loss fitted down to rounding noise is compared to its start
    assert got.epochs == ref.epochs and got.steps == ref.steps and got.stop_reason == ref.stop_reason
    assert got.loss == pytest.approx(ref.loss, rel=rtol, abs=floor)
    for a, b in zip(got.history.records, ref.history.records):
        assert a.loss == pytest.approx(b.loss, rel=rtol, abs=floor)
        assert a.parameters == pytest.approx(b.parameters, rel=rtol, abs=1e-300)


def test_seed_specs_are_digit_for_digit_on_numba():
    for name in ("seed_gd.yaml", "seed_sgd.yaml"):
        ref, got = _run(SPECS / name, "numpy"), _run(SPECS / name, "numba")
        assert [r.parameters for r in got.history.records] == [r.parameters for r in ref.history.records]


LINE = "model: a*x + b\nparameters: {a: 0.0, b: 0.0}\noptimizer: {name: sgd}\n"


def _line(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    return {"x": x, "y": 3 * x + 2 + rng.normal(0, 0.5, n)}


@pytest.mark.parametrize("opt", KERNEL_OPTIMIZERS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_compiled_epochs_equal_the_python_loop(opt, monkeypatch):
    spec = optikit.loads_spec(LINE)
    settings = {**opt, "epochs": 3, "batch_size": 7, "seed": 1}
    settings["optimizer"] = settings.pop("name")
    fused = optikit.run(spec, data=_line(100), backend="numba", **settings)
    ref = optikit.run(spec, data=_line(100), backend="numpy", **settings)
    monkeypatch.setattr(optikit.Optimizer, "kernel", lambda self: None)
    for cls in optikit.plugins.Registry.build(optikit.plugins.plugin_manager()).optimizers.values():
        monkeypatch.setattr(cls.obj, "kernel", lambda self: None, raising=False)
    stepped = optikit.run(spec, data=_line(100), backend="numba", **settings)
    assert fused.parameters == stepped.parameters  # bit for bit: same operations in the same order
    assert fused.parameters == pytest.approx(ref.parameters, rel=RTOL)


def test_compiled_epochs_keep_bounds_schedules_and_step_limits():
    spec = optikit.loads_spec("model: a*x + b\nparameters: {a: {init: 0.0, max: 2.5}, b: 0.0}\n"
                              "optimizer: {name: sgd, lr: 0.01, steps: 250, batch_size: 3, seed: 4,\n"
                              "            schedule: {name: step, step_size: 2, gamma: 0.5}}\n")
    ref = optikit.run(spec, backend="numpy", data=_line(60))
    got = optikit.run(spec, backend="numba", data=_line(60))
    assert got.steps == ref.steps == 250 and got.parameters["a"] <= 2.5
    assert got.parameters == pytest.approx(ref.parameters, rel=RTOL)


def test_divergence_inside_a_compiled_epoch_reads_as_on_numpy():
    spec = optikit.loads_spec(LINE)
    settings = {"optimizer": "sgd", "lr": 10.0, "epochs": 50, "batch_size": 2, "seed": 0}
    errors = []
    for backend in ("numpy", "numba"):
        with pytest.raises(optikit.DivergenceError) as info:
            optikit.run(spec, data=_line(40), backend=backend, **settings)
        errors.append((str(info.value), info.value.result.history.records))
    assert errors[0] == errors[1]


def test_large_batches_agree_to_rounding():
    spec = optikit.loads_spec(LINE.replace("{name: sgd}", "{name: gd, lr: 0.001, epochs: 3}"))
    data = _line(50_000)
    ref, got = optikit.run(spec, data=data), optikit.run(spec, data=data, backend="numba")
    assert got.parameters == pytest.approx(ref.parameters, rel=1e-12)
    assert got.loss == pytest.approx(ref.loss, rel=1e-12)


def test_missing_numba_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    with pytest.raises(optikit.SpecError, match="install optikit\\[fast\\]"):
        NumbaBackend().compile(compile_spec(SPECS / "seed_gd.yaml").symbolic, None)
    assert main(["run", str(SPECS / "seed_gd.yaml"), "--backend", "numba", "--no-plot"]) == 2
    err = capsys.readouterr().err.strip()
    assert MISSING in err and len(err.splitlines()) == 1


# ---- the NumPy backend's scalar path ---------------------------------------------------------
@pytest.mark.parametrize("model", ["a*x + b", "a*exp(-b*x)", "sigmoid(a*x + b)", "log(a*x + b)", "sqrt(a*x - b)"])
def test_scalar_rows_agree_with_vector_rows(model):
    spec = optikit.loads_spec(f"model: {model}\nparameters: {{a: 0.7, b: -0.3}}\noptimizer: {{name: gd}}\n")
    problem = compile_spec(spec, data=_line(50, seed=2))
    ev = problem.evaluator
    for rows in (np.array([3]), np.array([5, 1, 7, 2, 2, 9, 4, 0]), np.arange(50)):
        for p in (np.array([0.7, -0.3]), np.array([-2.0, 5.0])):
            with np.errstate(all="ignore"):  # NaN outside the domain, as NumPy gives it
                got = ev.totals(("loss", "grad"), p, rows)
                want = [float(np.cumsum(np.broadcast_to(v, (len(rows),)))[-1])
                        for v in ev._values(("loss", "grad"), p, rows)]
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)  # NaN where NumPy gives NaN


def test_scalar_rows_are_exact_on_arithmetic_models():
    problem = compile_spec(optikit.loads_spec("model: a*x**2 + b*x - 1/a\nparameters: {a: 0.7, b: -0.3}\noptimizer: {name: gd}\n"),
                                   data=_line(30, seed=3))
    ev, p = problem.evaluator, np.array([1.3, 0.2])
    rows = np.array([4, 8, 15, 16, 23, 29])
    vector = [float(np.cumsum(np.broadcast_to(v, (6,)))[-1]) for v in ev._values(("loss", "grad"), p, rows)]
    assert ev.totals(("loss", "grad"), p, rows) == vector


# ---- the NumPy backend's buffered full-data pass ---------------------------------------------
@pytest.mark.parametrize("model", ["a*x + b", "a*exp(-b*x)", "sigmoid(a*x + b)", "abs(a*x - b)**3 / (1 + x**2)",
                                   "max(a*x, b) - min(x, 0.5)", "log(a*x + b)"])
@pytest.mark.parametrize("loss", ["mse", "huber"])
@pytest.mark.parametrize("n", [1000, 5000])  # summed in row order / pairwise
def test_buffered_pass_equals_lambdify_bit_for_bit(model, loss, n):
    spec = optikit.loads_spec(f"model: {model}\nloss: {loss}\nparameters: {{a: 0.7, b: 0.3}}\noptimizer: {{name: gd}}\n")
    problem = compile_spec(spec, data=_line(n, seed=4))
    ev, p = problem.evaluator, np.array([0.7, 0.3])
    group = ev._group(("loss", "grad"))
    assert group.buffered(n) is not None
    from optikit.backends.summation import row_sum

    scratch = np.empty(n)
    with np.errstate(all="ignore"):
        want = [row_sum(v, n, scratch) for v in ev._values(("loss", "grad"), p, None)]
        got = ev.totals(("loss", "grad"), p, None)
    np.testing.assert_array_equal(got, want)


# ---- the compiled-loop cache -------------------------------------------------------------------
def _fresh_run(spec_path, env):
    import os
    import subprocess

    code = (f"import optikit; r = optikit.run({str(spec_path)!r}, backend='numba'); "
            "print(repr(r.parameters))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, **env, "PYTHONPATH": str(SPECS.parent)}).stdout


def test_a_second_run_loads_the_cached_loops_and_a_changed_file_is_never_imported(tmp_path):
    env = {"OPTIKIT_CACHE_DIR": str(tmp_path)}
    first = _fresh_run(SPECS / "exp_decay.yaml", env)
    files = sorted((tmp_path / "numba").glob("loop_*.py"))
    assert files and sorted((tmp_path / "numba" / "__pycache__").glob("loop_*.nbi"))
    assert _fresh_run(SPECS / "exp_decay.yaml", env) == first
    original = files[0].read_bytes()
    files[0].write_text("raise SystemExit('imported a file optikit did not write')\n")
    assert _fresh_run(SPECS / "exp_decay.yaml", env) == first  # rewritten from the printed source, not run
    assert files[0].read_bytes() == original


def test_the_cache_is_off_when_asked_or_when_others_could_write_to_it(tmp_path, monkeypatch):
    from optikit.backends.numba_cache import cache_dir

    monkeypatch.setenv("OPTIKIT_CACHE_DIR", "off")
    assert cache_dir() is None
    monkeypatch.setenv("OPTIKIT_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / "numba" and (tmp_path / "numba").stat().st_mode & 0o777 == 0o700
    (tmp_path / "numba").chmod(0o777)
    assert cache_dir() is None
    (tmp_path / "numba").chmod(0o700)
    assert cache_dir() is not None


def test_a_subclass_that_changes_update_is_not_run_with_its_parents_kernel():
    from optikit.engine.fused import fused_epochs
    from optikit.optimizers.sgd import SGD

    class Halved(SGD):
        def update(self, grad, state, params, oracle=None):
            step, state = super().update(grad, state, params, oracle)
            return step / 2, state

    problem = compile_spec(optikit.loads_spec(LINE), data=_line(50), backend="numba")
    assert fused_epochs(problem, SGD(), 5, True, frozenset()) is not None
    assert fused_epochs(problem, Halved(), 5, True, frozenset()) is None


def test_a_plugin_kernel_runs_compiled_and_matches_its_update():
    def sign_update(grad, state, params, hyper):
        (lr,) = hyper
        return -lr * np.sign(grad), state

    class Sign(optikit.Optimizer):
        name = "signgd"

        def __init__(self, lr=0.01):
            self.lr = lr

        def init(self, params):
            return optikit.EmptyState()

        def update(self, grad, state, params, oracle=None):
            return sign_update(grad, state, params, (self.lr,))

        def kernel(self):
            return optikit.Kernel(lambda p, h: optikit.EmptyState(), sign_update, (self.lr,))

    from optikit.engine.loop import Settings, run_problem

    problem = compile_spec(optikit.loads_spec(LINE), data=_line(40), backend="numba")
    settings = Settings(epochs=4, batch_size=3, seed=2)
    assert problem.evaluator.epoch(Sign().kernel(), problem.initial, optikit.EmptyState(), np.arange(40), 3, 1.0,
                                   problem.lower, problem.upper, 40) is not None  # it did compile
    fused = run_problem(problem, Sign(), settings)
    Sign.kernel = lambda self: None
    stepped = run_problem(problem, Sign(), settings)
    assert fused.parameters == stepped.parameters and fused.steps == stepped.steps == 4 * 14
