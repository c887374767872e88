"""Built-in learning-rate schedules, registered through ``optikit_register_schedules``.

A schedule factory takes ``total`` (the number of epochs the run may take, or ``None``) and the
schedule's keywords from the spec, and returns ``factor(epoch) -> float``: the multiplier of the
optimizer's step at that (0-based) epoch, like ``torch.optim.lr_scheduler.LambdaLR`` stepped
once per epoch.
"""

from __future__ import annotations

import math
from typing import Callable

from ..hookspecs import hookimpl

Factor = Callable[[int], float]


def constant(total: int | None) -> Factor:
    """The same step size throughout."""
    return lambda epoch: 1.0


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


def step(total: int | None, step_size: int, gamma: float = 0.1) -> Factor:
    """Multiply by ``gamma`` every ``step_size`` epochs (torch's StepLR)."""
    _count("step_size", step_size)
    _positive("gamma", gamma)
    return lambda epoch: gamma ** (epoch // step_size)


def exponential(total: int | None, gamma: float) -> Factor:
    """Multiply by ``gamma`` every epoch (torch's ExponentialLR)."""
    _positive("gamma", gamma)
    return lambda epoch: gamma**epoch


def cosine(total: int | None, t_max: int | None = None, min_factor: float = 0.0) -> Factor:
    """Cosine annealing from 1 down to ``min_factor`` over ``t_max`` epochs (default: the run)."""
    t_max = t_max if t_max is not None else total
    if t_max is None:
        raise ValueError("cosine needs t_max when the run has no epoch limit")
    _count("t_max", t_max)
    if not 0 <= min_factor <= 1:
        raise ValueError(f"min_factor must be in [0, 1], got {min_factor!r}")
    return lambda epoch: min_factor + (1 - min_factor) * (1 + math.cos(math.pi * min(epoch, t_max) / t_max)) / 2


def linear(total: int | None, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5) -> Factor:
    """Linear warm-up from ``start_factor`` to ``end_factor`` over ``total_iters`` epochs (torch's LinearLR)."""
    if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
        raise ValueError("start_factor must be in (0, 1] and end_factor in [0, 1]")
    _count("total_iters", total_iters)
    return lambda epoch: start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters


BUILTIN_SCHEDULES = {"constant": constant, "step": step, "exponential": exponential, "cosine": cosine, "linear": linear}


@hookimpl
def optikit_register_schedules(register) -> None:
    for name, factory in BUILTIN_SCHEDULES.items():
        register(name, factory)
