"""The Adam family: ``adam``, ``adamw``, ``nadam`` and ``radam``.

Each update is torch.optim's single-tensor (``foreach=False``) code path, option for option and
operation for operation, so a float64 trajectory agrees with PyTorch's to rounding.

Where torch changes the parameter in more than one in-place operation (decoupled weight decay's
``param.mul_(1 - lr * weight_decay)``; NAdam's two ``addcdiv_``), the step is computed as torch's
new parameter minus the old one. That difference is exact whenever the two are within a factor
of two of each other (Sterbenz), so ``params + step`` is then torch's parameter bit for bit;
otherwise it is off by one rounding. Single-operation updates return torch's addend itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .adaptive import _flag, _lerp, _real, _signed_grad
from .base import Kernel, Optimizer
from .betas import betas as _betas
from .nadam import NAdam, RAdam  # in their own module; the catalogue lists the Adam family together


class AdamState(NamedTuple):
    """First and second moment estimates, the running maximum of the second (``amsgrad``), steps taken."""

    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray
    count: int


def adam_init(params: np.ndarray, hyper: tuple) -> AdamState:
    return AdamState(np.zeros_like(params, dtype=float), np.zeros_like(params, dtype=float),
                     np.zeros_like(params, dtype=float), 0)


def adam_update(grad: np.ndarray, state: AdamState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)``."""
    lr, beta1, beta2, eps, wd, amsgrad, maximize, decoupled_wd = hyper
    decoupled = decoupled_wd and wd != 0
    g = _signed_grad(grad, params, maximize, 0.0 if decoupled else wd)
    count = state.count + 1
    step = float(count)  # torch's step counter is a float tensor read back with .item()
    exp_avg = _lerp(state.exp_avg, g, 1 - beta1)
    exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * g * g
    step_size = lr / (1 - beta1**step)
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    max_exp_avg_sq = state.max_exp_avg_sq
    if amsgrad:
        max_exp_avg_sq = np.maximum(max_exp_avg_sq, exp_avg_sq)
        denom = np.sqrt(max_exp_avg_sq) / bias_correction2_sqrt + eps
    else:
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    delta = -step_size * (exp_avg / denom)
    if decoupled:  # torch's new parameter minus the old (see the module docstring)
        delta = (params * (1 - lr * wd) + delta) - params
    return delta, AdamState(exp_avg, exp_avg_sq, max_exp_avg_sq, count)


def adam_step(grad: np.ndarray, state: AdamState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> AdamState:
    """:func:`adam_update` in place, element by element (``Kernel.step``): no array is made."""
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


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): bias-corrected running moments of the gradient and its square.

    Parameters
    ----------
    lr : float
        Learning rate.
    betas : list[float]
        Decay rates of the running averages of the gradient and of its square.
    eps : float
        Added to the denominator for numerical stability.
    weight_decay : float
        Weight decay: an L2 penalty on the gradient, or decoupled if ``decoupled_weight_decay``.
    amsgrad : bool
        Use the AMSGrad variant (the running maximum of the second moment).
    maximize : bool
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool
        Shrink the parameters by ``1 - lr * weight_decay`` each step (AdamW) instead.
    """

    name = "adam"
    batch_size = None

    def __init__(
        self,
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        self.lr = _real("learning rate", lr)
        self.betas = _betas(betas)
        self.eps = _real("epsilon value", eps)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.amsgrad = _flag("amsgrad", amsgrad)
        self.maximize = _flag("maximize", maximize)
        self.decoupled_weight_decay = _flag("decoupled_weight_decay", decoupled_weight_decay)

    def init(self, params: np.ndarray) -> AdamState:
        return adam_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return adam_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(adam_init, adam_update, self._hyper(), adam_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.betas[0], self.betas[1], self.eps, self.weight_decay, self.amsgrad, self.maximize,
                self.decoupled_weight_decay)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    Parameters
    ----------
    lr : float
        Learning rate.
    betas : list[float]
        Decay rates of the running averages of the gradient and of its square.
    eps : float
        Added to the denominator for numerical stability.
    weight_decay : float
        Decoupled weight decay: each step first shrinks the parameters by ``1 - lr * weight_decay``.
    amsgrad : bool
        Use the AMSGrad variant (the running maximum of the second moment).
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "adamw"

    def __init__(
        self,
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=True)


OPTIMIZERS = (Adam, AdamW, NAdam, RAdam)
"""Built-in optimizers; each registers through the public ``optikit_register_optimizers`` hook."""
