"""Whole epochs of mini-batch steps in a backend's compiled code, when the backend offers
``epoch(...)`` and the optimizer a :meth:`~optikit.Optimizer.kernel`.

The loop delegates one epoch at a time and keeps everything else: records, schedules (the
factor of the epoch is passed in), bounds, stops, callbacks, checkpoints at epoch boundaries.
When the compiled epoch reports a non-finite gradient or parameter it is undone (the draw of the
epoch included) and the loop replays it step by step, so divergence and ``skip`` behave and
read exactly as without it. Ctrl-C is seen at the end of the epoch rather than mid-epoch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..backends import Problem
from ..optimizers.base import Optimizer

__all__ = ["fused_epochs"]

#: ``(params, state, rng, factor, steps_left) -> (params, state, steps) | None``
FusedEpoch = Callable[[np.ndarray, Any, np.random.Generator, float, int], "tuple[np.ndarray, Any, int] | None"]


def _owner(cls: type, name: str) -> type | None:
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def fused_epochs(problem: Problem, optimizer: Optimizer, batch_size: int | None, shuffle: bool,
                 requires: frozenset[str]) -> FusedEpoch | None:
    """A function running one epoch in compiled code, or ``None`` where the loop must step in Python."""
    epoch = getattr(problem.evaluator, "epoch", None)
    make = getattr(optimizer, "kernel", None)
    n = problem.n_rows
    if epoch is None or make is None or requires or batch_size is None or batch_size >= n:
        return None
    if _owner(type(optimizer), "update") is not _owner(type(optimizer), "kernel"):
        return None  # a subclass changed update() but inherited kernel(): the kernel is not its rule
    kernel = make()
    if kernel is None:
        return None
    lower, upper = problem.lower, problem.upper

    def run(params: np.ndarray, state: Any, rng: np.random.Generator, factor: float,
            steps_left: int) -> tuple[np.ndarray, Any, int] | None:
        drawn = rng.bit_generator.state
        # the rows of the epoch as optikit.data.batches draws them
        order = rng.permutation(n) if shuffle else np.arange(n)
        out = epoch(kernel, params, state, order, batch_size, factor, lower, upper, steps_left)
        if out is None:
            rng.bit_generator.state = drawn
        return out

    return run
