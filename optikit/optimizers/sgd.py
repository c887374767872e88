"""Gradient descent: ``gd`` on the full batch, ``sgd`` on randomly drawn samples.

The update is torch.optim.SGD's, option for option (weight decay, momentum with dampening,
Nesterov, maximize), so a trajectory can be checked against PyTorch step by step.
"""

from __future__ import annotations

from typing import NamedTuple

import math

import numpy as np

from .base import Kernel, Optimizer, check_flag, check_real


class MomentumState(NamedTuple):
    """``buf``: the momentum buffer; ``count``: steps taken (the first step seeds ``buf``)."""

    buf: np.ndarray
    count: int


def gd_init(params: np.ndarray, hyper: tuple) -> MomentumState:
    return MomentumState(buf=np.zeros_like(params), count=0)


def gd_update(grad: np.ndarray, state: MomentumState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, momentum, dampening, nesterov, weight_decay, maximize)``."""
    lr, momentum, dampening, nesterov, weight_decay, maximize = hyper
    g = -grad if maximize else grad
    if weight_decay:
        g = g + weight_decay * params
    buf, count = state
    if momentum:
        # torch seeds the buffer with the first gradient, undampened
        buf = g.copy() if count == 0 else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return -lr * g, MomentumState(buf, count + 1)


def gd_step(grad: np.ndarray, state: MomentumState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> MomentumState:
    """:func:`gd_update` in place, element by element (:class:`~optikit.Kernel`'s ``step``)."""
    lr, momentum, dampening, nesterov, weight_decay, maximize = hyper
    buf, count = state
    if not (momentum or weight_decay or maximize):  # plain steps, the common case: the same operations
        for j in range(len(grad)):
            out[j] = -lr * grad[j]
        return MomentumState(buf, count + 1)
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


def gd_plain_step(grad: np.ndarray, state: MomentumState, params: np.ndarray, hyper: tuple,
                  out: np.ndarray) -> MomentumState:
    """:func:`gd_step` without momentum, weight decay or ``maximize``, the rule
    :meth:`GD.kernel` hands over for such hyperparameters: a compiled loop that inlines it has no
    branch on them left, which kept the step from reaching the parameters in registers."""
    lr = hyper[0]
    for j in range(len(grad)):
        out[j] = -lr * grad[j]
    return MomentumState(state.buf, state.count + 1)


class GD(Optimizer):
    """Batch gradient descent: ``p -= lr * g`` on the full data set each step.

    Parameters
    ----------
    lr : float
        Learning rate.
    momentum : float
        Momentum factor (0 disables momentum).
    dampening : float
        Dampening applied to the gradient in the momentum buffer.
    nesterov : bool
        Use Nesterov momentum (needs momentum > 0 and dampening = 0).
    weight_decay : float
        L2 penalty added to the gradient as ``weight_decay * p``.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "gd"
    batch_size = None

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        self.lr = check_real("learning rate", lr)
        self.momentum = check_real("momentum value", momentum)
        self.dampening = check_real("dampening value", dampening, low=-math.inf)
        self.nesterov = check_flag("nesterov", nesterov)
        self.weight_decay = check_real("weight_decay value", weight_decay)
        self.maximize = check_flag("maximize", maximize)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def init(self, params: np.ndarray) -> MomentumState:
        return gd_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return gd_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        plain = not (self.momentum or self.weight_decay or self.maximize)
        return Kernel(gd_init, gd_update, self._hyper(), gd_plain_step if plain else gd_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.momentum, self.dampening, self.nesterov, self.weight_decay, self.maximize)


class SGD(GD):
    """Stochastic gradient descent: the update of ``gd`` on randomly drawn samples.

    By default each step uses one sample; the samples are reshuffled every epoch. A spec's
    ``optimizer.batch_size: k`` gives mini-batches of ``k`` and ``optimizer.seed`` fixes the draw.
    The hyperparameters are those of ``gd``.
    """

    name = "sgd"
    batch_size = 1


OPTIMIZERS = (GD, SGD)
