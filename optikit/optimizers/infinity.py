"""``adamax`` (Adam with the infinity norm) and ``adafactor`` (relative steps, factored moments).

Each update is torch.optim's single-tensor (``foreach=False``) code path, operation for
operation, so a float64 trajectory agrees with PyTorch's to rounding. A parameter vector is a
1-D tensor, where Adafactor keeps a full (unfactored) second moment, as torch does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .betas import betas as _betas
from .adaptive import _flag, _lerp, _real, _signed_grad
from .base import Optimizer


class AdamaxState(NamedTuple):
    """``exp_avg``: running mean of the gradient; ``exp_inf``: decayed running max of its magnitude."""

    exp_avg: np.ndarray
    exp_inf: np.ndarray
    count: int


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, §7.1): Adam with the second moment replaced by an infinity norm.

    Parameters
    ----------
    lr : float
        Learning rate.
    betas : list[float]
        Decay rates of the running mean of the gradient and of the running maximum.
    eps : float
        Added to the gradient's magnitude before the maximum, for numerical stability.
    weight_decay : float
        L2 penalty added to the gradient as ``weight_decay * p``.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "adamax"
    batch_size = None

    def __init__(self, lr: float = 2e-3, betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False) -> None:
        self.lr = _real("learning rate", lr)
        self.betas = _betas(betas)
        self.eps = _real("epsilon value", eps)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> AdamaxState:
        return AdamaxState(np.zeros_like(params, dtype=float), np.zeros_like(params, dtype=float), 0)

    def update(self, grad, state, params, oracle=None):
        beta1, beta2 = self.betas
        g = _signed_grad(grad, params, self.maximize, self.weight_decay)
        count = state.count + 1
        exp_avg = _lerp(state.exp_avg, g, 1 - beta1)
        exp_inf = np.maximum(state.exp_inf * beta2, np.abs(g) + self.eps)
        clr = self.lr / (1 - beta1 ** float(count))
        return -clr * (exp_avg / exp_inf), AdamaxState(exp_avg, exp_inf, count)


class AdafactorState(NamedTuple):
    """``variance``: running mean of the squared gradient (unfactored for a vector); ``count``: steps."""

    variance: np.ndarray
    count: int


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as torch.optim.Adafactor: steps relative to the parameters'
    RMS, a second-moment decay ``1 - t**beta2_decay``, and update clipping at RMS ``d``.

    Parameters
    ----------
    lr : float
        Learning rate: the relative step is ``min(lr, 1/sqrt(t))``.
    beta2_decay : float
        Exponent of the second-moment decay: its weight at step t is ``t**beta2_decay``.
    eps : list[float]
        ``[eps1, eps2]``: floor of the second moment (null: machine epsilon) and of the parameters' RMS.
    d : float
        Clipping threshold on the RMS of the update.
    weight_decay : float
        Decoupled weight decay: the parameters are multiplied by ``1 - lr * weight_decay``.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "adafactor"
    batch_size = None

    def __init__(self, lr: float = 1e-2, beta2_decay: float = -0.8, eps: Sequence[float | None] = (None, 1e-3),
                 d: float = 1.0, weight_decay: float = 0.0, maximize: bool = False) -> None:
        self.lr = _real("learning rate", lr)
        if isinstance(beta2_decay, bool) or not isinstance(beta2_decay, (int, float)) or not beta2_decay <= 0:
            raise ValueError(f"Invalid beta2_decay: {beta2_decay!r} (must be <= 0)")
        self.beta2_decay = float(beta2_decay)
        if isinstance(eps, (str, bytes)) or not isinstance(eps, (Sequence, np.ndarray)) or len(eps) != 2:
            raise ValueError(f"Invalid eps: {eps!r} (expected [eps1 or null, eps2])")
        eps1 = None if eps[0] is None else _real("epsilon1 value", eps[0])
        self.eps = (eps1, _real("epsilon2 value", eps[1]))
        self.d = _real("clipping threshold d (>= 1)", d, low=1.0)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> AdafactorState:
        return AdafactorState(np.zeros_like(params, dtype=float), 0)

    def update(self, grad, state, params, oracle=None):
        g = -grad if self.maximize else grad
        eps1 = self.eps[0] if self.eps[0] is not None else float(np.finfo(float).eps)
        count = state.count + 1
        t = float(count)
        one_minus_beta2 = t**self.beta2_decay
        rho = min(self.lr, 1 / t**0.5)
        size = max(np.size(params), 1)
        alpha = max(self.eps[1], float(np.linalg.norm(params)) / size**0.5) * rho
        new = params * (1 - self.lr * self.weight_decay) if self.weight_decay != 0 else params
        variance = _lerp(state.variance, g * g, one_minus_beta2)
        update = g / np.sqrt(np.maximum(variance, eps1 * eps1))
        denom = max(1.0, float(np.linalg.norm(update)) / (size**0.5 * self.d))
        # torch's new parameter minus the old one (two in-place operations when decaying)
        step = (new - alpha / denom * update) - params if self.weight_decay != 0 else -(alpha / denom) * update
        return step, AdafactorState(variance, count)


OPTIMIZERS = (Adamax, Adafactor)
