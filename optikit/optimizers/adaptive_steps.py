"""The states of ``adagrad``, ``rmsprop`` and ``adadelta`` and their in-place rules
(``Kernel.step``): the array rules in adaptive.py element by element, the same IEEE operations
in the same order, so the step and the state come out bit for bit; no array is made, so numba
compiles them into a per-sample epoch (``grad`` and ``params`` may be lists, tuples or arrays)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["AdagradState", "RMSpropState", "AdadeltaState", "adagrad_step", "rmsprop_step", "adadelta_step"]


class AdagradState(NamedTuple):
    """``sum``: running sum of squared gradients; ``count``: steps taken (for ``lr_decay``)."""

    sum: np.ndarray
    count: int


class RMSpropState(NamedTuple):
    """Running averages of the squared gradient and (``centered``) the gradient; momentum buffer."""

    square_avg: np.ndarray
    grad_avg: np.ndarray
    momentum_buffer: np.ndarray


class AdadeltaState(NamedTuple):
    """Running averages of the squared gradient and of the squared update."""

    square_avg: np.ndarray
    acc_delta: np.ndarray


def adagrad_step(grad: np.ndarray, state: AdagradState, params: np.ndarray, hyper: tuple,
                 out: np.ndarray) -> AdagradState:
    """:func:`~optikit.optimizers.adaptive.adagrad_update` in place."""
    lr, lr_decay, weight_decay, _, eps, maximize = hyper
    count = state.count + 1
    clr = lr / (1 + (float(count) - 1) * lr_decay)
    total = state.sum
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if weight_decay != 0:
            g = g + weight_decay * params[j]
        s = total[j] + g * g
        total[j] = s
        out[j] = -clr * (g / (math.sqrt(s) + eps))  # the sum never goes below zero: math.sqrt is np.sqrt
    return AdagradState(total, count)


def rmsprop_step(grad: np.ndarray, state: RMSpropState, params: np.ndarray, hyper: tuple,
                 out: np.ndarray) -> RMSpropState:
    """:func:`~optikit.optimizers.adaptive.rmsprop_update` in place."""
    lr, alpha, eps, weight_decay, momentum, centered, maximize = hyper
    sq, avg_g, buf = state.square_avg, state.grad_avg, state.momentum_buffer
    weight = 1 - alpha
    near = abs(weight) < 0.5  # torch.lerp's branch, as adaptive._lerp takes it
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if weight_decay != 0:
            g = g + weight_decay * params[j]
        s = sq[j] * alpha + (1 - alpha) * g * g
        sq[j] = s
        if centered:
            a = avg_g[j] + weight * (g - avg_g[j]) if near else g - (g - avg_g[j]) * (1 - weight)
            avg_g[j] = a
            s = s - a * a
            # rounding can leave the variance below zero: np.sqrt's NaN where math.sqrt would raise
            root = math.sqrt(s) if not s < 0.0 else math.inf - math.inf
        else:
            root = math.sqrt(s)
        root = root + eps
        if momentum > 0:
            b = buf[j] * momentum + g / root
            buf[j] = b
            out[j] = -lr * b
        else:
            out[j] = -lr * (g / root)
    return RMSpropState(sq, avg_g, buf)


def adadelta_step(grad: np.ndarray, state: AdadeltaState, params: np.ndarray, hyper: tuple,
                  out: np.ndarray) -> AdadeltaState:
    """:func:`~optikit.optimizers.adaptive.adadelta_update` in place."""
    lr, rho, eps, weight_decay, maximize = hyper
    sq, acc = state.square_avg, state.acc_delta
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if weight_decay != 0:
            g = g + weight_decay * params[j]
        s = sq[j] * rho + (1 - rho) * g * g
        sq[j] = s
        delta = math.sqrt(acc[j] + eps) / math.sqrt(s + eps) * g
        acc[j] = acc[j] * rho + (1 - rho) * delta * delta
        out[j] = -lr * delta
    return AdadeltaState(sq, acc)
