"""Per-sample epochs on the numba backend, printed per problem (codegen.row_epoch_source): the
same parameters, bit for bit, as the engine stepping through the same steps, and as the NumPy
backend on arithmetic models."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import optikit
from optikit.api import compile_spec
from optikit.engine.loop import Settings, run_problem

from .test_pyepoch import _trajectory, _without_kernels

numba = pytest.importorskip("numba")

LINE = "model: a*x + b\nparameters: {a: 0.0, b: 0.0}\noptimizer: {name: sgd}\n"
CURVE = ("model: c*exp(-k*x) + sigmoid(a*x + b)/(1 + x*x)\nparameters: {a: 0.3, b: -0.2, c: 1.5, k: 0.4}\n"
         "optimizer: {name: sgd}\n")


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 4, n)
    return {"x": x, "y": 3 * x + 2 + rng.normal(0, 0.5, n)}


CASES = [
    {"optimizer": "sgd", "lr": 0.01},
    {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "dampening": 0.2, "maximize": False},
    {"optimizer": "adam", "lr": 0.01, "amsgrad": True},
    {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1},
    {"optimizer": "adagrad", "lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01},
    {"optimizer": "rmsprop", "lr": 0.01, "centered": True, "momentum": 0.5},
    {"optimizer": "adadelta", "weight_decay": 0.01, "maximize": False},
    {"optimizer": "nadam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"optimizer": "radam", "lr": 0.01, "weight_decay": 0.01},
    {"optimizer": "lion", "lr": 0.001, "weight_decay": 0.1},
]


@pytest.mark.parametrize("spec", [LINE, CURVE], ids=["line", "curve"])
@pytest.mark.parametrize("settings", CASES, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_per_sample_epochs_equal_the_engines_steps_bit_for_bit(spec, settings, monkeypatch):
    """Schedules (the epoch's factor), bounds and a step limit that ends mid-epoch included."""
    text = spec.replace("a: 0.0", "a: {init: 0.0, max: 2.9}").replace("a: 0.3", "a: {init: 0.3, max: 0.5}")
    run = {**settings, "batch_size": 1, "seed": 3, "steps": 250, "schedule": {"name": "step", "step_size": 1,
                                                                                 "gamma": 0.5}}
    fused = optikit.run(optikit.loads_spec(text), data=_data(70), backend="numba", **run)
    reference = optikit.run(optikit.loads_spec(text), data=_data(70), backend="numpy", **run)
    _without_kernels(monkeypatch)
    stepped = optikit.run(optikit.loads_spec(text), data=_data(70), backend="numba", **run)
    assert fused.steps == 250 and _trajectory(fused) == _trajectory(stepped)
    if spec is LINE:  # + - * only: NumPy's arithmetic is the same IEEE arithmetic
        assert _trajectory(fused) == _trajectory(reference)
    else:  # exp and sigmoid: NumPy's and the C library's may differ in the last place
        assert list(fused.parameters.values()) == pytest.approx(list(reference.parameters.values()), rel=1e-12)


def test_the_printed_epoch_is_the_one_that_runs():
    problem = compile_spec(optikit.loads_spec(LINE), data=_data(30), backend="numba")
    from optikit.optimizers.sgd import SGD

    opt = SGD(lr=0.01)
    out = problem.evaluator.epoch(opt.kernel(), problem.initial, opt.init(problem.initial), np.arange(30), 1, 1.0,
                                  problem.lower, problem.upper, 30)
    assert out is not None and out[2] == 30
    assert [key[2:] for key in problem.evaluator._epochs if key[0] == "row"] == [(True, False)]  # tuples, no counts


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adadelta", "nadam", "radam", "lion"])
def test_each_in_place_rule_compiles_into_the_per_sample_epoch(name):
    """Compiled, not replayed in Python (which would give the same numbers): the tuple form, and
    the parameters of the array rule stepping through the NumPy backend's gradients."""
    problem = compile_spec(optikit.loads_spec(LINE), data=_data(30), backend="numba")
    reference = compile_spec(optikit.loads_spec(LINE), data=_data(30), backend="numpy").evaluator
    opt = optikit.plugins.Registry.build(optikit.plugins.plugin_manager()).optimizers[name].obj()
    kernel = opt.kernel()
    out = problem.evaluator.epoch(kernel, problem.initial, opt.init(problem.initial), np.arange(30), 1, 1.0,
                                  problem.lower, problem.upper, 30)
    assert [key[2:] for key, fn in problem.evaluator._epochs.items() if key[0] == "row" and fn] == [(True, False)]
    p, state = problem.initial, opt.init(problem.initial)
    for i in range(30):
        part = reference.sums(p, np.array([i]), loss=False)
        step, state = kernel.update(part.grad / part.n, state, p, kernel.hyper)
        p = p + step
    assert out is not None and out[2] == 30 and out[0].tobytes() == p.tobytes()
    assert all(np.asarray(a).tobytes() == np.asarray(b).tobytes() for a, b in zip(out[1], state))


def test_a_divergent_per_sample_epoch_reads_as_on_numpy():
    errors = []
    for backend in ("numpy", "numba"):
        with pytest.raises(optikit.DivergenceError) as info:
            optikit.run(optikit.loads_spec(LINE), data=_data(40), backend=backend, optimizer="sgd", lr=3.0,
                        epochs=50, batch_size=1, seed=0)
        errors.append((str(info.value), info.value.result.history.records))
    assert errors[0] == errors[1]


def _printed_epoch(exprs, params):
    from optikit.backends.codegen import define_function, row_epoch_source
    from optikit.backends.numba_epochs import jit_pure
    from optikit.backends.numba_helpers import NAMESPACE
    from optikit.optimizers.sgd import gd_step

    text = row_epoch_source("epoch", params, [], exprs)
    fn = define_function(text, "epoch", {**NAMESPACE, "np": np, "step": jit_pure(numba, gd_step)}, "<test>")
    return numba.njit(error_model="numpy")(fn)


def test_one_finiteness_test_of_a_sum_stops_at_an_overflow_of_finite_values():
    """The gradient (p0, p1) is finite, its sum is not: the epoch stops and the caller replays it."""
    from optikit.optimizers.sgd import MomentumState

    p0, p1 = sympy.symbols("p0 p1")
    fn = _printed_epoch([p0, p1], [p0, p1])
    hyper = (0.5, 0.0, 0.0, False, 0.0, False)
    lo, hi = np.full(2, -np.inf), np.full(2, np.inf)
    for start, steps, ok in (([1e308, 1e308], 0, False), ([1.0, -np.inf], 0, False), ([2.0, 4.0], 3, True)):
        p = np.array(start)
        state, done, good = fn(p, np.empty(2), np.empty(2), MomentumState(np.zeros(2), 0), hyper, np.arange(3), 1.0,
                               lo, hi, False, 3)
        assert (done, good) == (steps, ok)
    assert p.tolist() == [0.25, 0.5] and state.count == 3  # p - 0.5 p, three times


def _plain_optimizer(step):
    def update(grad, state, params, hyper):
        return -(grad * hyper[0]), state

    class Plain(optikit.Optimizer):
        name = "plain"

        def init(self, params):
            return optikit.EmptyState()

        def update(self, grad, state, params, oracle=None):
            return update(grad, state, params, (0.01,))

        def kernel(self):
            return optikit.Kernel(lambda p, h: optikit.EmptyState(), update, (0.01,), step)

    return Plain


def _allocating_step(grad, state, params, hyper, out):
    half = np.empty(len(grad))  # an allocation, which an epoch without reference counts refuses
    for j in range(len(grad)):
        half[j] = grad[j] * hyper[0]
        out[j] = -half[j]
    return state


def _array_step(grad, state, params, hyper, out):
    for j in range(grad.shape[0]):  # an array's attribute, which a tuple does not have
        out[j] = -(grad[j] * hyper[0])
    return state


@pytest.mark.parametrize("step, form", [(_allocating_step, (False, True)), (_array_step, (False, False))],
                         ids=["allocates", "reads-shape"])
def test_a_rule_runs_in_the_first_form_it_compiles_in(step, form):
    """Tuples without reference counts, arrays without, arrays with: the same steps in each."""
    plain = _plain_optimizer(step)
    problem = compile_spec(optikit.loads_spec(LINE), data=_data(40), backend="numba")
    settings = Settings(epochs=3, batch_size=1, seed=2)
    fused = run_problem(problem, plain(), settings)
    compiled = [key[2:] for key, fn in problem.evaluator._epochs.items() if key[0] == "row" and fn is not None]
    assert compiled == [form]
    plain.kernel = lambda self: None
    stepped = run_problem(problem, plain(), settings)
    assert fused.parameters == stepped.parameters and fused.steps == stepped.steps == 120


def test_a_one_row_sum_keeps_the_sign_of_a_zero_as_numpy_does():
    """d/da of (a*x + b - y)**2 at a row with x = 0 is 2*0*r: -0.0 when r < 0 (a sum from 0.0 gives 0.0)."""
    data = {"x": np.array([0.0, 1.0]), "y": np.array([5.0, 1.0])}
    signs = []
    for backend in ("numpy", "numba"):
        problem = compile_spec(optikit.loads_spec(LINE), data=data, backend=backend)
        g = problem.evaluator.sums(np.zeros(2), np.array([0]), loss=False).grad
        signs.append((g[0] == 0.0, np.signbit(g).tolist()))
    assert signs[0] == signs[1] == (True, [True, True])


def test_a_numba_without_the_option_to_leave_counts_out_runs_with_them(monkeypatch):
    from numba.core.cpu import CPUTargetOptions

    owner = next(k for k in CPUTargetOptions.__mro__ if "_nrt" in vars(k))
    monkeypatch.delattr(owner, "_nrt")  # numba's own option, which a later numba may drop
    problem = compile_spec(optikit.loads_spec(LINE), data=_data(30), backend="numba")
    from optikit.optimizers.sgd import SGD

    opt = SGD(lr=0.01, momentum=0.5)
    out = problem.evaluator.epoch(opt.kernel(), problem.initial, opt.init(problem.initial), np.arange(30), 1, 1.0,
                                  problem.lower, problem.upper, 30)
    assert out is not None and out[2] == 30
    compiled = [key[2:] for key, fn in problem.evaluator._epochs.items() if key[0] == "row" and fn is not None]
    assert compiled == [(False, True)]


def test_a_wide_model_hands_the_rule_arrays(monkeypatch):
    """Above TUPLE_PARAMETERS the gradient and parameters reach the rule as arrays: the same steps."""
    from optikit.backends.numba_backend import TUPLE_PARAMETERS

    k = TUPLE_PARAMETERS + 1
    terms = " + ".join(f"a{i}*x/{i + 1}" for i in range(k))
    spec = optikit.loads_spec(f"model: {terms}\nparameters: {{{', '.join(f'a{i}: 0.1' for i in range(k))}}}\n"
                              "optimizer: {name: sgd}\n")
    run = {"optimizer": "adam", "lr": 0.01, "batch_size": 1, "seed": 5, "epochs": 2}
    problem = compile_spec(spec, data=_data(30), backend="numba")
    fused = optikit.run(spec, data=_data(30), backend="numba", **run)
    opt = optikit.plugins.Registry.build(optikit.plugins.plugin_manager()).optimizers["adam"].obj(lr=0.01)
    assert problem.evaluator.epoch(opt.kernel(), problem.initial, opt.init(problem.initial), np.arange(30), 1, 1.0,
                                   problem.lower, problem.upper, 30) is not None
    compiled = [key[2:] for key, fn in problem.evaluator._epochs.items() if key[0] == "row" and fn is not None]
    assert compiled == [(False, False)]
    _without_kernels(monkeypatch)
    stepped = optikit.run(spec, data=_data(30), backend="numba", **run)
    assert _trajectory(fused) == _trajectory(stepped)


def test_an_epoch_cut_into_chunks_takes_the_same_steps(monkeypatch):
    from optikit.backends.numba_backend import NumbaEvaluator
    from optikit.engine import fused

    run = {"optimizer": "adam", "lr": 0.01, "batch_size": 1, "seed": 7, "epochs": 2, "steps": 101}
    whole = optikit.run(optikit.loads_spec(LINE), data=_data(70), backend="numba", **run)
    monkeypatch.setattr(fused, "CHUNK_STEPS", 9)
    monkeypatch.setattr(NumbaEvaluator, "epoch_chunk_rows", 0)
    chunked = optikit.run(optikit.loads_spec(LINE), data=_data(70), backend="numba", **run)
    assert _trajectory(chunked) == _trajectory(whole) and whole.steps == 101


def test_the_compiled_permutation_is_numpys_and_leaves_the_generator_as_numpy_does():
    from optikit.backends import numba_draw
    from optikit.backends.numba_backend import _compiled_draw

    draw = _compiled_draw(numba)
    assert draw is not None
    for seed in range(40):
        ours, reference = np.random.default_rng(seed), np.random.default_rng(seed)
        for n in (0, 1, 2, 3, 31, 32, 33, 1000, 65536, 65537):  # drawn in turn: a held 32-bit half is met
            assert np.array_equal(numba_draw.permutation(draw, ours, n), reference.permutation(n))
            assert ours.bit_generator.state == reference.bit_generator.state
        assert ours.random() == reference.random()
    other = np.random.Generator(np.random.Philox(1))  # not PCG64: NumPy draws it
    expected = np.random.Generator(np.random.Philox(1)).permutation(50)
    assert np.array_equal(numba_draw.permutation(draw, other, 50), expected)
    assert not numba_draw.agrees(lambda n, *state: (np.arange(n)[::-1].copy(), *state[:2], *state[4:]))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_epoch_replayed_after_a_compiled_one_steps_from_its_parameters(backend, monkeypatch):
    from optikit.backends.numba_backend import NumbaEvaluator
    from optikit.backends.numpy import NumpyEvaluator

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, 50)
    data = {"x": x, "y": 3 * x + 2}
    run = dict(optimizer="sgd", lr=0.01, batch_size=1, seed=3, epochs=3, backend=backend)
    want = _trajectory(optikit.run(optikit.loads_spec(LINE), data=data, **run))
    evaluator = NumbaEvaluator if backend == "numba" else NumpyEvaluator
    compiled, calls = evaluator.epoch, []

    def second_replayed(self, *args, **kwargs):  # as after a sum that overflowed
        calls.append(1)
        return None if len(calls) == 2 else compiled(self, *args, **kwargs)

    monkeypatch.setattr(evaluator, "epoch", second_replayed)
    assert _trajectory(optikit.run(optikit.loads_spec(LINE), data=data, **run)) == want and len(calls) == 3


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("init, low, high", [("-0.0", "0.0", "1.0"), ("0.0", "-0.0", "1.0"), ("0.0", "-1.0", "-0.0")])
def test_a_zero_at_a_bound_keeps_the_sign_np_clip_gives_it(backend, init, low, high, monkeypatch):
    spec = optikit.loads_spec(f"model: a*x + b\nparameters: {{a: {{init: {init}, min: {low}, max: {high}}}, b: 0.0}}\n"
                              "optimizer: {name: sgd}\n")
    data = {"x": np.zeros(4), "y": -np.ones(4)}
    run = dict(optimizer="sgd", lr=0.1, batch_size=1, seed=0, epochs=1, backend=backend)
    got = optikit.run(spec, data=data, **run).parameters["a"]
    _without_kernels(monkeypatch)
    want = optikit.run(spec, data=data, **run).parameters["a"]
    assert np.copysign(1.0, got) == np.copysign(1.0, want) and got == want


class _MethodRule(optikit.Optimizer):
    """A plugin whose kernel's rules are bound methods: the numba backend steps in Python."""

    name = "method-rule"

    def init(self, params):
        return optikit.EmptyState()

    def update(self, grad, state, params, oracle=None):
        return -(grad * 0.01), state

    def _update(self, grad, state, params, hyper):
        return -(grad * hyper[0]), state

    def _step(self, grad, state, params, hyper, out):
        for j in range(len(grad)):
            out[j] = -(grad[j] * hyper[0])
        return state

    def kernel(self):
        return optikit.Kernel(lambda p, h: optikit.EmptyState(), self._update, (0.01,), self._step)


@pytest.mark.parametrize("batch", [1, 4])
def test_a_kernel_of_bound_methods_runs_on_numba_as_on_numpy(batch):
    x = np.linspace(0, 1, 40)
    runs = [run_problem(compile_spec(optikit.loads_spec(LINE), data={"x": x, "y": 2 * x + 1}, backend=backend),
                        _MethodRule(), Settings(epochs=2, batch_size=batch, seed=1)).parameters
            for backend in ("numpy", "numba")]
    assert runs[0] == runs[1]
