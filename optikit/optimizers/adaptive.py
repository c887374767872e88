"""Per-coordinate adaptive step sizes: ``adagrad``, ``rmsprop`` and ``adadelta``.

Each update is torch.optim's single-tensor (``foreach=False``) code path, option for option and
operation for operation, so a float64 trajectory agrees with PyTorch's to rounding: torch's
fused multiply-adds (``lerp``) are the only operations not reproduced bit for bit.
"""

from __future__ import annotations

import numpy as np

from .adaptive_steps import AdadeltaState, AdagradState, RMSpropState, adadelta_step, adagrad_step, rmsprop_step
from .base import Kernel, Optimizer, check_flag as _flag, check_real as _real


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp's two-branch formula (torch fuses the multiply-add; the result differs by an ulp)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def _signed_grad(grad: np.ndarray, params: np.ndarray, maximize: bool, weight_decay: float) -> np.ndarray:
    """torch's ``grad = -grad if maximize``; ``grad = grad.add(param, alpha=weight_decay)``."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * params
    return g


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): steps scaled by the root of the summed squared gradients.

    Parameters
    ----------
    lr : float
        Learning rate.
    lr_decay : float
        Learning-rate decay: step ``t`` uses ``lr / (1 + (t - 1) * lr_decay)``.
    weight_decay : float
        L2 penalty added to the gradient as ``weight_decay * p``.
    initial_accumulator_value : float
        Starting value of the sum of squared gradients.
    eps : float
        Added to the denominator for numerical stability.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "adagrad"
    batch_size = None

    def __init__(
        self,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ) -> None:
        self.lr = _real("learning rate", lr)
        self.lr_decay = _real("lr_decay value", lr_decay)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.initial_accumulator_value = _real("initial_accumulator_value value", initial_accumulator_value)
        self.eps = _real("epsilon value", eps)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> AdagradState:
        return adagrad_init(params, self._hyper())

    def update(self, grad, state, params, oracle=None):
        return adagrad_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(adagrad_init, adagrad_update, self._hyper(), adagrad_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.lr_decay, self.weight_decay, self.initial_accumulator_value, self.eps, self.maximize)


def adagrad_init(params: np.ndarray, hyper: tuple) -> AdagradState:
    return AdagradState(np.full_like(params, hyper[3], dtype=float), 0)


def adagrad_update(grad: np.ndarray, state: AdagradState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize)``."""
    lr, lr_decay, weight_decay, _, eps, maximize = hyper
    count = state.count + 1
    g = _signed_grad(grad, params, maximize, weight_decay)
    # torch keeps the step counter as a float tensor and reads it back with .item()
    clr = lr / (1 + (float(count) - 1) * lr_decay)
    total = state.sum + g * g
    std = np.sqrt(total) + eps
    return -clr * (g / std), AdagradState(total, count)


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): steps divided by a running root mean square of the gradient.

    Parameters
    ----------
    lr : float
        Learning rate.
    alpha : float
        Smoothing constant of the running averages.
    eps : float
        Added to the denominator for numerical stability.
    weight_decay : float
        L2 penalty added to the gradient as ``weight_decay * p``.
    momentum : float
        Momentum factor (0 disables momentum).
    centered : bool
        Normalise by an estimate of the gradient's variance instead of its second moment.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "rmsprop"
    batch_size = None

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        self.lr = _real("learning rate", lr)
        self.alpha = _real("alpha value", alpha)
        self.eps = _real("epsilon value", eps)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.momentum = _real("momentum value", momentum)
        self.centered = _flag("centered", centered)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> RMSpropState:
        return rmsprop_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return rmsprop_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(rmsprop_init, rmsprop_update, self._hyper(), rmsprop_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.alpha, self.eps, self.weight_decay, self.momentum, self.centered, self.maximize)


def rmsprop_init(params: np.ndarray, hyper: tuple) -> RMSpropState:
    return RMSpropState(np.zeros_like(params, dtype=float), np.zeros_like(params, dtype=float),
                        np.zeros_like(params, dtype=float))


def rmsprop_update(grad: np.ndarray, state: RMSpropState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, alpha, eps, weight_decay, momentum, centered, maximize)``."""
    lr, alpha, eps, weight_decay, momentum, centered, maximize = hyper
    g = _signed_grad(grad, params, maximize, weight_decay)
    square_avg = state.square_avg * alpha + (1 - alpha) * g * g
    grad_avg = state.grad_avg
    if centered:
        grad_avg = _lerp(grad_avg, g, 1 - alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg = avg + eps
    buf = state.momentum_buffer
    if momentum > 0:
        buf = buf * momentum + g / avg
        step = -lr * buf
    else:
        step = -lr * (g / avg)
    return step, RMSpropState(square_avg, grad_avg, buf)


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): RMSprop with the step scaled by a running RMS of past updates.

    Parameters
    ----------
    lr : float
        Coefficient that scales the update.
    rho : float
        Decay rate of the running averages.
    eps : float
        Added inside the square roots for numerical stability.
    weight_decay : float
        L2 penalty added to the gradient as ``weight_decay * p``.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "adadelta"
    batch_size = None

    def __init__(
        self,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        self.lr = _real("learning rate", lr)
        self.rho = _real("rho value", rho, high=1.0)
        self.eps = _real("epsilon value", eps)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> AdadeltaState:
        return adadelta_init(params, ())

    def update(self, grad, state, params, oracle=None):
        return adadelta_update(grad, state, params, self._hyper())

    def kernel(self) -> Kernel:
        return Kernel(adadelta_init, adadelta_update, self._hyper(), adadelta_step)

    def _hyper(self) -> tuple:
        return (self.lr, self.rho, self.eps, self.weight_decay, self.maximize)


def adadelta_init(params: np.ndarray, hyper: tuple) -> AdadeltaState:
    return AdadeltaState(np.zeros_like(params, dtype=float), np.zeros_like(params, dtype=float))


def adadelta_update(grad: np.ndarray, state: AdadeltaState, params: np.ndarray, hyper: tuple):
    """``hyper``: ``(lr, rho, eps, weight_decay, maximize)``."""
    lr, rho, eps, weight_decay, maximize = hyper
    g = _signed_grad(grad, params, maximize, weight_decay)
    square_avg = state.square_avg * rho + (1 - rho) * g * g
    std = np.sqrt(square_avg + eps)
    delta = np.sqrt(state.acc_delta + eps) / std * g
    acc_delta = state.acc_delta * rho + (1 - rho) * delta * delta
    return -lr * delta, AdadeltaState(square_avg, acc_delta)


OPTIMIZERS = (Adagrad, RMSprop, Adadelta)
"""Built-in optimizers; each registers through the public ``optikit_register_optimizers`` hook."""
