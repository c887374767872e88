"""In-place forms of the most used update rules, for whole epochs in compiled code.

``update(grad, state, params, hyper)`` builds new arrays for the step and the state on every
call; in a compiled epoch of per-sample steps those allocations cost far more than the
arithmetic. Each function here is the same rule element by element, operation for operation
(so its numbers are those of the array form, bit for bit): it writes the step into ``out``,
changes the state's arrays in place and returns the state with its counter advanced. The
compiled epoch hands it copies of the engine's state arrays, so nothing the engine holds is
changed. See :class:`~optikit.Kernel` for the contract.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .adam import AdamState
from .sgd import MomentumState

__all__ = ["gd_step", "adam_step"]


def gd_step(grad: np.ndarray, state: MomentumState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> Any:
    """:func:`optikit.optimizers.sgd.gd_update` in place."""
    lr, momentum, dampening, nesterov, weight_decay, maximize = hyper
    buf, count = state
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if weight_decay:
            g = g + weight_decay * params[j]
        if momentum:
            b = g if count == 0 else momentum * buf[j] + (1 - dampening) * g
            buf[j] = b
            g = g + momentum * b if nesterov else b
        out[j] = -lr * g
    return MomentumState(buf, count + 1)


def adam_step(grad: np.ndarray, state: AdamState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> Any:
    """:func:`optikit.optimizers.adam.adam_update` in place."""
    lr, beta1, beta2, eps, wd, amsgrad, maximize, decoupled_wd = hyper
    decoupled = decoupled_wd and wd != 0
    penalty = 0.0 if decoupled else wd
    count = state.count + 1
    step = float(count)
    m, v, vmax = state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq
    weight = 1 - beta1
    near = abs(weight) < 0.5  # torch.lerp's branch, as adaptive._lerp takes it
    step_size = lr / (1 - beta1**step)
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if penalty != 0:
            g = g + penalty * params[j]
        mj = m[j] + weight * (g - m[j]) if near else g - (g - m[j]) * (1 - weight)
        m[j] = mj
        vj = v[j] * beta2 + (1 - beta2) * g * g
        v[j] = vj
        if amsgrad:
            top = vmax[j]
            vj = top if (top >= vj or top != top) else vj  # np.maximum, NaN included
            vmax[j] = vj
        d = -step_size * (mj / (math.sqrt(vj) / bias_correction2_sqrt + eps))
        if decoupled:
            d = (params[j] * (1 - lr * wd) + d) - params[j]
        out[j] = d
    return AdamState(m, v, vmax, count)
