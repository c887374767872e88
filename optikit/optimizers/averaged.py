"""``rprop`` (sign-based steps with per-coordinate sizes) and ``asgd`` (averaged SGD).

Each update is torch.optim's single-tensor (``foreach=False``) code path, operation for
operation, so a float64 trajectory agrees with PyTorch's to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .adaptive import _flag, _real, _signed_grad
from .base import Optimizer


def _pair(name: str, value, check) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected two numbers)")
    return check(value[0], value[1])


class RpropState(NamedTuple):
    """``prev``: the last gradient used (zeroed where its sign flipped); ``step_size``: per-coordinate sizes."""

    prev: np.ndarray
    step_size: np.ndarray
    count: int


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun, 1993): each coordinate moves by its own step size against the
    gradient's sign; the size grows by ``etas[1]`` while the sign holds and shrinks by ``etas[0]``
    when it flips (and that coordinate then waits a step).

    Parameters
    ----------
    lr : float
        Initial step size of every coordinate.
    etas : list[float]
        ``[etaminus, etaplus]``: factors for a sign flip (< 1) and a kept sign (> 1).
    step_sizes : list[float]
        ``[min, max]`` of the step sizes.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "rprop"
    batch_size = None

    def __init__(self, lr: float = 1e-2, etas: Sequence[float] = (0.5, 1.2), step_sizes: Sequence[float] = (1e-6, 50),
                 maximize: bool = False) -> None:
        self.lr = _real("learning rate", lr)

        def etas_ok(minus, plus):
            minus, plus = _real("etaminus", minus), _real("etaplus", plus)
            if not 0.0 < minus < 1.0 < plus:
                raise ValueError(f"Invalid eta values: {minus}, {plus}")
            return minus, plus

        def sizes_ok(lo, hi):
            lo, hi = _real("minimal step size", lo), _real("maximal step size", hi)
            if lo > hi:
                raise ValueError(f"Invalid step sizes: min {lo} > max {hi}")
            return lo, hi

        self.etas = _pair("etas", etas, etas_ok)
        self.step_sizes = _pair("step_sizes", step_sizes, sizes_ok)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> RpropState:
        return RpropState(np.zeros_like(params, dtype=float), np.full_like(params, self.lr, dtype=float), 0)

    def update(self, grad, state, params, oracle=None):
        etaminus, etaplus = self.etas
        g = -grad if self.maximize else np.array(grad, dtype=float)
        sign = np.sign(g * state.prev)
        factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
        step_size = np.clip(state.step_size * factor, *self.step_sizes)
        g = np.where(factor == etaminus, 0.0, g)
        return -(np.sign(g) * step_size), RpropState(g, step_size, state.count + 1)


class ASGDState(NamedTuple):
    """``eta``: current step size; ``mu``: averaging weight; ``ax``: the averaged parameters."""

    eta: float
    mu: float
    ax: np.ndarray
    count: int


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992) as torch.optim.ASGD: decaying steps
    ``lr / (1 + lambd*lr*t)**alpha`` and a running average of the iterates from step ``t0`` on
    (``ax`` in the state; the parameters themselves follow plain SGD with the decay term).

    Parameters
    ----------
    lr : float
        Learning rate.
    lambd : float
        Decay term: the parameters shrink by ``1 - lambd*eta`` each step.
    alpha : float
        Power of the step-size decay.
    t0 : float
        Step from which the iterates are averaged.
    weight_decay : float
        L2 penalty added to the gradient as ``weight_decay * p``.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    name = "asgd"
    batch_size = None

    def __init__(self, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, maximize: bool = False) -> None:
        self.lr = _real("learning rate", lr)
        self.lambd = _real("lambd value", lambd)
        self.alpha = _real("alpha value", alpha)
        self.t0 = _real("t0 value", t0)
        self.weight_decay = _real("weight_decay value", weight_decay)
        self.maximize = _flag("maximize", maximize)

    def init(self, params: np.ndarray) -> ASGDState:
        return ASGDState(self.lr, 1.0, np.zeros_like(params, dtype=float), 0)

    def update(self, grad, state, params, oracle=None):
        g = _signed_grad(grad, params, self.maximize, self.weight_decay)
        count = state.count + 1
        eta = state.eta
        # two in-place operations in torch: the step is its new parameter minus the old one
        new = params * (1 - self.lambd * eta)
        new = new - eta * g
        ax = state.ax + (new - state.ax) * state.mu if state.mu != 1 else new.copy()
        t = float(count)
        new_eta = self.lr / ((1 + self.lambd * self.lr * t) ** self.alpha)
        new_mu = 1 / max(1.0, t - self.t0)
        return new - params, ASGDState(new_eta, new_mu, ax, count)


OPTIMIZERS = (Rprop, ASGD)
