"""The in-place update rules whole epochs use (Kernel.step) compute exactly what the array rules
compute, on arrays and on the lists and tuples per-sample epochs pass, and a compiled epoch leaves
the engine's state as it was."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optikit.optimizers.adam import Adam, AdamW
from optikit.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from optikit.optimizers.lion import Lion
from optikit.optimizers.nadam import NAdam, RAdam
from optikit.optimizers.sgd import SGD


def _cases():
    for momentum, dampening, nesterov, wd, maximize in itertools.product((0.0, 0.9), (0.0, 0.3), (False, True),
                                                                         (0.0, 0.05), (False, True)):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        yield SGD(lr=0.01, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd,
                  maximize=maximize)
    for amsgrad, wd, maximize in itertools.product((False, True), (0.0, 0.1), (False, True)):
        yield Adam(lr=0.01, amsgrad=amsgrad, weight_decay=wd, maximize=maximize)
        yield AdamW(lr=0.01, amsgrad=amsgrad, weight_decay=wd, maximize=maximize)
    yield Adam(lr=0.01, betas=(0.3, 0.9))  # the other branch of torch.lerp's formula
    yield from _adaptive_cases()


def _adaptive_cases():
    for lr_decay, wd, initial, maximize in itertools.product((0.0, 0.1), (0.0, 0.05), (0.0, 0.5), (False, True)):
        yield Adagrad(lr=0.1, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=initial, maximize=maximize)
    for momentum, centered, wd, maximize in itertools.product((0.0, 0.9), (False, True), (0.0, 0.05), (False, True)):
        yield RMSprop(lr=0.01, momentum=momentum, centered=centered, weight_decay=wd, maximize=maximize)
    yield RMSprop(lr=0.01, alpha=0.3, centered=True)  # torch.lerp's other branch
    for wd, maximize in itertools.product((0.0, 0.05), (False, True)):
        yield Adadelta(weight_decay=wd, maximize=maximize)
    for cls in (NAdam, RAdam):
        for wd, decoupled, maximize in itertools.product((0.0, 0.1), (False, True), (False, True)):
            yield cls(lr=0.01, weight_decay=wd, decoupled_weight_decay=decoupled, maximize=maximize)
        yield cls(lr=0.01, betas=(0.3, 0.9))  # torch.lerp's other branch; RAdam rectified from step 6
    for betas, wd in itertools.product(((0.9, 0.99), (1.0, 0.5), (0.0, 1.0)), (0.0, 0.1)):
        yield Lion(lr=0.01, betas=betas, weight_decay=wd)


def _copy(state, kind=np.array):
    return type(state)(*(kind(v) if isinstance(v, np.ndarray) else v for v in state))


@pytest.mark.parametrize("opt", list(_cases()), ids=lambda o: f"{o.name}-{hash(tuple(o.kernel().hyper)) % 10**6}")
def test_the_in_place_step_equals_the_update_bit_for_bit(opt):
    """On arrays (the numba backend's general epochs) and on a tuple gradient with lists for the
    parameters, the step and the state (the NumPy backend's per-sample epochs)."""
    kernel = opt.kernel()
    rng = np.random.default_rng(0)
    params = rng.normal(size=5)
    array_state = kernel.init(params, kernel.hyper)
    in_place_state, list_state = _copy(array_state), _copy(array_state, lambda v: v.tolist())
    for _ in range(8):  # RAdam's rectified steps start at the 6th
        grad = rng.normal(size=5) * 10.0 ** rng.integers(-3, 3)
        step, array_state = kernel.update(grad, array_state, params, kernel.hyper)
        out, out_list = np.empty(5), [0.0] * 5
        in_place_state = kernel.step(grad, in_place_state, params, kernel.hyper, out)
        list_state = kernel.step(tuple(grad.tolist()), list_state, params.tolist(), kernel.hyper, out_list)
        assert out.tobytes() == np.asarray(step, dtype=float).tobytes() == np.array(out_list).tobytes()
        for a, b, c in zip(array_state, in_place_state, list_state):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes() == np.asarray(c, dtype=np.asarray(a).dtype).tobytes()
        params = params + step


@pytest.mark.parametrize("opt", [Lion(lr=0.1, betas=(0.5, 0.5), weight_decay=0.1), RMSprop(centered=True),
                                 RMSprop(centered=True, momentum=0.5)], ids=["lion", "rmsprop", "rmsprop-momentum"])
def test_signed_zeros_nans_and_a_negative_variance_as_numpy(opt):
    """Lion's ``np.sign``: +0.0 for either zero, NaN kept; RMSprop's ``np.sqrt`` of a variance below
    zero: NaN where ``math.sqrt`` would raise. Compiled by numba too (whose ``np.sign(-0.0)`` is -0.0)."""
    numba = pytest.importorskip("numba")
    from optikit.backends.numba_epochs import jit_pure

    kernel = opt.kernel()
    grad = np.array([-0.0, 0.0, np.nan, 1e-3, -0.0])
    params = np.array([-0.0, 0.0, 2.0, -1.0, 3.0])
    state = kernel.init(params, kernel.hyper)
    for v in state:  # momentum -0.0 (Lion's m); RMSprop's mean gradient above the root of its mean square
        v[:] = [-0.0, 0.0, 1.0, 2.0, 0.5]
    with np.errstate(invalid="ignore"):  # the root of a negative number, on purpose
        step, expected = kernel.update(grad, _copy(state), params, kernel.hyper)
    compiled = jit_pure(numba, kernel.step)
    for rule, g, s, p in ((kernel.step, tuple(grad.tolist()), _copy(state, lambda v: v.tolist()), params.tolist()),
                          (compiled, grad, _copy(state), params)):
        out = np.empty(5)
        got = rule(g, s, p, kernel.hyper, out)
        assert _same(out, step)
        for a, b in zip(expected, got):
            assert _same(a, np.asarray(b))


def _same(a, b):
    """Equal values, NaN at the same places, zeros of the same sign (a NaN's sign is the hardware's)."""
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a) & ~np.isnan(a),
                                                                   np.signbit(b) & ~np.isnan(b))


def test_a_compiled_epoch_leaves_the_engines_state_alone():
    pytest.importorskip("numba")
    import optikit
    from optikit.api import compile_spec

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 50)
    problem = compile_spec(optikit.loads_spec("model: a*x + b\nparameters: {a: 0.0, b: 0.0}\noptimizer: {name: sgd}\n"),
                           data={"x": x, "y": 3 * x + 2}, backend="numba")
    opt = SGD(lr=0.001, momentum=0.9)
    state = opt.init(problem.initial)
    before = state.buf.copy()
    out = problem.evaluator.epoch(opt.kernel(), problem.initial, state, np.arange(50), 1, 1.0, problem.lower,
                                  problem.upper, 50)
    assert out is not None and out[2] == 50 and out[1].count == 50
    assert state.count == 0 and state.buf.tobytes() == before.tobytes()
