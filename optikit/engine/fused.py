"""Whole epochs of mini-batch steps in a backend's compiled code, when the backend offers
``epoch(...)`` and the optimizer a :meth:`~optikit.Optimizer.kernel`.

The loop delegates one epoch at a time and keeps everything else: records, schedules (the
factor of the epoch is passed in), bounds, stops, callbacks, checkpoints at epoch boundaries.
When the compiled epoch reports a non-finite gradient or parameter it is undone (the draw of the
epoch included) and the loop replays it step by step, so divergence and ``skip`` behave and
read exactly as without it. The epoch is handed over in chunks of :data:`CHUNK_STEPS` steps, so
that the progress bar moves and Ctrl-C stops the run within a long epoch, as stepping does; a
backend whose steps cost little per row says how many rows a chunk may hold
(``evaluator.epoch_chunk_rows``), so that its calls are not what an epoch costs.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..backends import Problem
from ..optimizers.base import Optimizer

__all__ = ["fused_epochs", "CHUNK_STEPS"]

#: Steps handed to the backend at a time; between chunks the progress is reported and Ctrl-C seen.
CHUNK_STEPS = 8192

#: ``(params, state, rng, factor, steps_left, steps_done) -> (params, state, steps) | None``
FusedEpoch = Callable[[np.ndarray, Any, np.random.Generator, float, int, int], "tuple[np.ndarray, Any, int] | None"]


def _owner(cls: type, name: str) -> type | None:
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def fused_epochs(problem: Problem, optimizer: Optimizer, batch_size: int | None, shuffle: bool,
                 requires: frozenset[str], control: Any = None) -> FusedEpoch | None:
    """A function running one epoch in compiled code, or ``None`` where the loop must step in Python.
    ``control`` (a :class:`~optikit.engine.checkpoint.RunControl`) gets ``on_step`` calls and may
    interrupt between chunks."""
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
    in_order = None if shuffle else np.arange(n)  # read only, so made once
    # a backend may draw the permutation itself: the same rows and generator state as NumPy's
    permutation = getattr(problem.evaluator, "permutation", None) or (lambda rng, n: rng.permutation(n))

    def run(params: np.ndarray, state: Any, rng: np.random.Generator, factor: float,
            steps_left: int, steps_done: int = 0) -> tuple[np.ndarray, Any, int] | None:
        drawn = rng.bit_generator.state
        # the rows of the epoch as optikit.data.batches draws them
        order = permutation(rng, n) if in_order is None else in_order
        p, st, steps = params, state, 0
        # whole batches: the chunks cut the rows as one pass would
        chunk = max(CHUNK_STEPS, getattr(problem.evaluator, "epoch_chunk_rows", 0) // batch_size) * batch_size
        for start in range(0, n, chunk):
            if steps >= steps_left:
                break
            out = epoch(kernel, p, st, order[start:start + chunk], batch_size, factor, lower, upper, steps_left - steps)
            if out is None:  # replayed from the epoch's start: the kernels' states are never changed in place
                rng.bit_generator.state = drawn
                return None
            p, st, steps = out[0], out[1], steps + out[2]
            if control is not None:
                if control.on_step is not None:
                    control.on_step(steps_done + steps)
                if control.interrupted:
                    break
        return p, st, steps

    return run
