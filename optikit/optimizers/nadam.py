"""NAdam and RAdam: Adam with Nesterov momentum, and Adam with its variance rectified (torch's
``NAdam`` and ``RAdam``, step for step); the Adam family's catalogue entry is in adam.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .adaptive import _flag, _lerp, _real, _signed_grad
from .base import Kernel, Optimizer
from .betas import betas as _betas

__all__ = ["NAdam", "RAdam", "NAdamState", "RAdamState"]


class NAdamState(NamedTuple):
    """Moment estimates, the product of the momentum schedule so far, steps taken."""

    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    mu_product: float
    count: int


class NAdam(Optimizer):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum and a warming-up momentum schedule.

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
    momentum_decay : float
        Momentum schedule: step ``t`` uses ``beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``.
    decoupled_weight_decay : bool
        Shrink the parameters by ``1 - lr * weight_decay`` each step (NAdamW) instead.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "nadam"
    batch_size = None

    def __init__(
        self,
        lr: float = 2e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
    ) -> None:
        self.lr = _real("learning rate", lr)
        self.betas = _betas(betas)
        self.eps = _real("epsilon value", eps)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.momentum_decay = _real("momentum_decay value", momentum_decay)
        self.decoupled_weight_decay = _flag("decoupled_weight_decay", decoupled_weight_decay)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> NAdamState:
        return nadam_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return nadam_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(nadam_init, nadam_update, self._hyper(), nadam_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.betas[0], self.betas[1], self.eps, self.weight_decay, self.momentum_decay,
                self.decoupled_weight_decay, self.maximize)


def nadam_init(params: np.ndarray, hyper: tuple) -> NAdamState:
    return NAdamState(np.zeros_like(params, dtype=float), np.zeros_like(params, dtype=float), 1.0, 0)


def nadam_update(grad: np.ndarray, state: NAdamState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize)``."""
    lr, beta1, beta2, eps, wd, md, decoupled_wd, maximize = hyper
    decoupled = decoupled_wd and wd != 0
    g = _signed_grad(grad, params, maximize, 0.0 if decoupled else wd)
    count = state.count + 1
    step = float(count)
    bias_correction2 = 1 - beta2**step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
    # torch keeps mu_product in the default dtype; this is float64 throughout
    mu_product = state.mu_product * mu
    mu_product_next = mu_product * mu_next
    exp_avg = _lerp(state.exp_avg, g, 1 - beta1)
    exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * g * g
    denom = np.sqrt(exp_avg_sq / bias_correction2) + eps
    new = params * (1 - lr * wd) if decoupled else params
    new = new + (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
    new = new + ((-lr * mu_next) / (1.0 - mu_product_next)) * (exp_avg / denom)
    return new - params, NAdamState(exp_avg, exp_avg_sq, mu_product, count)


def nadam_step(grad: np.ndarray, state: NAdamState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> NAdamState:
    """:func:`nadam_update` in place, element by element (``Kernel.step``): no array is made."""
    lr, beta1, beta2, eps, wd, md, decoupled_wd, maximize = hyper
    decoupled = decoupled_wd and wd != 0
    penalty = 0.0 if decoupled else wd
    count = state.count + 1
    step = float(count)
    bias_correction2 = 1 - beta2**step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
    mu_product = state.mu_product * mu
    mu_product_next = mu_product * mu_next
    shrink = 1 - lr * wd
    grad_size = -lr * (1.0 - mu) / (1.0 - mu_product)
    avg_size = (-lr * mu_next) / (1.0 - mu_product_next)
    m, v = state.exp_avg, state.exp_avg_sq
    weight = 1 - beta1
    near = abs(weight) < 0.5  # torch.lerp's branch, as adaptive._lerp takes it
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if penalty != 0:
            g = g + penalty * params[j]
        mj = m[j] + weight * (g - m[j]) if near else g - (g - m[j]) * (1 - weight)
        m[j] = mj
        vj = v[j] * beta2 + (1 - beta2) * g * g
        v[j] = vj
        denom = math.sqrt(vj / bias_correction2) + eps
        new = params[j] * shrink if decoupled else params[j]
        new = new + grad_size * (g / denom)
        new = new + avg_size * (mj / denom)
        out[j] = new - params[j]
    return NAdamState(m, v, mu_product, count)


class RAdamState(NamedTuple):
    """First and second moment estimates, steps taken."""

    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    count: int


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020): Adam with the variance of the adaptive step rectified.

    While the second-moment estimate is too short to trust (the first few steps) it takes
    plain bias-corrected momentum steps.

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
    decoupled_weight_decay : bool
        Shrink the parameters by ``1 - lr * weight_decay`` each step instead.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "radam"
    batch_size = None

    def __init__(
        self,
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
    ) -> None:
        self.lr = _real("learning rate", lr)
        self.betas = _betas(betas)
        self.eps = _real("epsilon value", eps)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.decoupled_weight_decay = _flag("decoupled_weight_decay", decoupled_weight_decay)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> RAdamState:
        return radam_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return radam_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(radam_init, radam_update, self._hyper(), radam_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.betas[0], self.betas[1], self.eps, self.weight_decay, self.decoupled_weight_decay,
                self.maximize)


def radam_init(params: np.ndarray, hyper: tuple) -> RAdamState:
    return RAdamState(np.zeros_like(params, dtype=float), np.zeros_like(params, dtype=float), 0)


def radam_update(grad: np.ndarray, state: RAdamState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize)``."""
    lr, beta1, beta2, eps, wd, decoupled_wd, maximize = hyper
    decoupled = decoupled_wd and wd != 0
    g = _signed_grad(grad, params, maximize, 0.0 if decoupled else wd)
    count = state.count + 1
    step = float(count)
    exp_avg = _lerp(state.exp_avg, g, 1 - beta1)
    exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * g * g
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    bias_corrected_exp_avg = exp_avg / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        # torch evaluates ``scalar / tensor`` as ``tensor.reciprocal() * scalar``
        adaptive_lr = (1.0 / (np.sqrt(exp_avg_sq) + eps)) * bias_correction2**0.5
        delta = -(bias_corrected_exp_avg * lr * adaptive_lr * rect)
    else:
        delta = -(bias_corrected_exp_avg * lr)
    if decoupled:
        delta = (params * (1 - lr * wd) + delta) - params
    return delta, RAdamState(exp_avg, exp_avg_sq, count)


def radam_step(grad: np.ndarray, state: RAdamState, params: np.ndarray, hyper: tuple, out: np.ndarray) -> RAdamState:
    """:func:`radam_update` in place, element by element (``Kernel.step``): no array is made."""
    lr, beta1, beta2, eps, wd, decoupled_wd, maximize = hyper
    decoupled = decoupled_wd and wd != 0
    penalty = 0.0 if decoupled else wd
    count = state.count + 1
    step = float(count)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    rectified = rho_t > 5.0
    rect = 0.0
    if rectified:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
    root_bc2 = bias_correction2**0.5
    shrink = 1 - lr * wd
    m, v = state.exp_avg, state.exp_avg_sq
    weight = 1 - beta1
    near = abs(weight) < 0.5  # torch.lerp's branch, as adaptive._lerp takes it
    for j in range(len(grad)):
        g = -grad[j] if maximize else grad[j]
        if penalty != 0:
            g = g + penalty * params[j]
        mj = m[j] + weight * (g - m[j]) if near else g - (g - m[j]) * (1 - weight)
        m[j] = mj
        vj = v[j] * beta2 + (1 - beta2) * g * g
        v[j] = vj
        if rectified:
            d = -(mj / bias_correction1 * lr * ((1.0 / (math.sqrt(vj) + eps)) * root_bc2) * rect)
        else:
            d = -(mj / bias_correction1 * lr)
        if decoupled:
            d = (params[j] * shrink + d) - params[j]
        out[j] = d
    return RAdamState(m, v, count)
