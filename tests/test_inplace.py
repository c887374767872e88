"""The in-place update rules whole epochs use (Kernel.step: gd_step, adam_step) compute exactly
what the array rules compute, and a compiled epoch leaves the engine's state as it was."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optikit.optimizers.adam import Adam, AdamW
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


@pytest.mark.parametrize("opt", list(_cases()), ids=lambda o: f"{o.name}-{hash(tuple(o.kernel().hyper)) % 10**6}")
def test_the_in_place_step_equals_the_update_bit_for_bit(opt):
    kernel = opt.kernel()
    rng = np.random.default_rng(0)
    params = rng.normal(size=5)
    array_state = kernel.init(params, kernel.hyper)
    copied = type(array_state)(*(v.copy() if isinstance(v, np.ndarray) else v for v in array_state))
    in_place_state = copied
    for _ in range(6):
        grad = rng.normal(size=5) * 10.0 ** rng.integers(-3, 3)
        step, array_state = kernel.update(grad, array_state, params, kernel.hyper)
        out = np.empty(5)
        in_place_state = kernel.step(grad, in_place_state, params, kernel.hyper, out)
        assert out.tobytes() == np.asarray(step, dtype=float).tobytes()
        for a, b in zip(array_state, in_place_state):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
        params = params + step


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
