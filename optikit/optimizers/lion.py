"""``lion``: the sign of an interpolated momentum (Chen et al., 2023, "Symbolic Discovery of
Optimization Algorithms", Algorithm 2).

Not part of torch.optim; the update is the paper's, written in optax.lion's operation order::

    c = (1 - beta1) * g + beta1 * m
    step = -lr * (sign(c) + weight_decay * p)
    m = (1 - beta2) * g + beta2 * m

Defaults are the paper's (and lion-pytorch's): ``lr=1e-4``, ``betas=(0.9, 0.99)``,
``weight_decay=0``. optax.lion defaults ``weight_decay`` to ``1e-3`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .betas import betas as _betas
from .adaptive import _real
from .base import Kernel, Optimizer


class LionState(NamedTuple):
    """``exp_avg``: the momentum ``m``."""

    exp_avg: np.ndarray


class Lion(Optimizer):
    """Lion (EvoLved Sign Momentum): every coordinate moves by ``lr`` (plus weight decay) per step.

    Steps are of fixed size, so ``lr`` is typically 3-10x smaller than Adam's.

    Parameters
    ----------
    lr : float
        Learning rate: the size of every coordinate's step.
    betas : list[float]
        Interpolation weight of the momentum in the step, and decay rate of the momentum.
    weight_decay : float
        Decoupled weight decay: ``lr * weight_decay * p`` is subtracted each step.
    """

    name = "lion"
    batch_size = None

    def __init__(
        self,
        lr: float = 1e-4,
        betas: Sequence[float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = _real("learning rate", lr)
        # beta = 1 is meaningful here (beta1 = 1 steps along the momentum's sign alone)
        self.betas = _betas(betas, closed=True)
        self.weight_decay = _real("weight_decay value", weight_decay)

    def init(self, params: np.ndarray) -> LionState:
        return lion_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return lion_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(lion_init, lion_update, self._hyper(), lion_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.betas[0], self.betas[1], self.weight_decay)


def lion_init(params: np.ndarray, hyper: tuple) -> LionState:
    return LionState(np.zeros_like(params, dtype=float))


def lion_update(grad: np.ndarray, state: LionState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, beta1, beta2, weight_decay)``."""
    lr, beta1, beta2, weight_decay = hyper
    m = state.exp_avg
    direction = np.sign((1.0 - beta1) * grad + beta1 * m) + weight_decay * params
    return -lr * direction, LionState((1.0 - beta2) * grad + beta2 * m)


def lion_step(grad: np.ndarray, state: LionState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> LionState:
    """:func:`lion_update` in place, element by element (``Kernel.step``): no array is made."""
    lr, beta1, beta2, weight_decay = hyper
    m = state.exp_avg
    for j in range(len(grad)):
        c = (1.0 - beta1) * grad[j] + beta1 * m[j]
        # np.sign's: zero of either sign gives +0.0, NaN stays NaN (numba's np.sign keeps -0.0)
        sign = 1.0 if c > 0 else (-1.0 if c < 0 else (0.0 if c == 0 else c))
        out[j] = -lr * (sign + weight_decay * params[j])
        m[j] = (1.0 - beta2) * grad[j] + beta2 * m[j]
    return LionState(m)


OPTIMIZERS = (Lion,)
"""Built-in optimizers; each registers through the public ``optikit_register_optimizers`` hook."""
