"""Whole epochs of mini-batch steps for the NumPy backend, in one tight Python loop.

The engine's loop pays for generality on every step (batches drawn through a generator, a
:class:`~optikit.backends.Sums` built and split, the update's form checked, ``np.all`` twice);
a per-sample step then costs tens of microseconds, most of it not arithmetic. Given an
optimizer's :class:`~optikit.Kernel`, this loop does the same arithmetic and nothing else: a
one-row step calls the group's scalar code with the row's values, the kernel's update, adds the
step and clips, in the engine's order, so the parameters come out bit for bit as stepping in
the engine does. With a kernel's in-place rule (``Kernel.step``) a per-sample epoch runs on
Python floats and lists throughout, with no array made per step. Anything unusual (a value that is not finite, scalar code that cannot follow
NumPy) returns ``None``: the engine undoes the epoch and replays it step by step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["python_epoch"]

_isfinite = math.isfinite


def python_epoch(evaluator: Any, kernel: Any, params: np.ndarray, state: Any, order: np.ndarray, batch_size: int,
                 factor: float, lower: np.ndarray, upper: np.ndarray,
                 max_steps: int) -> tuple[np.ndarray, Any, int] | None:
    """``(params, state, steps)`` after the steps of ``order`` cut into batches (see
    :meth:`optikit.backends.numba_backend.NumbaEvaluator.epoch` for the contract), or ``None``."""
    update, hyper = kernel.update, kernel.hyper
    bounded = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
    p, steps = params, 0
    if batch_size == 1:
        group = evaluator._group(("grad",))
        cols = [evaluator.columns[c] for c in group.columns]
        step = getattr(kernel, "step", None)
        if step is not None and all(v.ndim == 1 for v in state if isinstance(v, np.ndarray)):
            # each row's values gathered once for the chunk of steps, as Python floats
            values = [c[order[:max_steps]].tolist() for c in cols]
            return _float_steps(group, values, len(order[:max_steps]), step, hyper, params, state, factor, lower, upper,
                                bounded)
        fn, items = group.scalar, [c.item for c in cols]  # lambdified only for rules without an in-place form
        for i in order[:max_steps].tolist():
            try:  # scalar code that cannot follow NumPy (a domain error, a complex power) raises here
                g = [float(v) for v in fn(*p.tolist(), *[item(i) for item in items])]
            except (ArithmeticError, ValueError, TypeError):
                return None
            if not all(map(_isfinite, g)):
                return None
            # the engine divides the one row's sum by 1: the same numbers
            moved = _array_step(update, np.array(g, dtype=float), state, p, hyper, factor, lower, upper, bounded)
            if moved is None:
                return None
            p, state = moved
            steps += 1
        return p, state, steps
    for start in range(0, len(order), batch_size):
        if steps >= max_steps:
            break
        part = evaluator.sums(p, order[start:start + batch_size], loss=False)
        g = part.grad / part.n
        if not np.all(np.isfinite(g)):
            return None
        moved = _array_step(update, g, state, p, hyper, factor, lower, upper, bounded)
        if moved is None:
            return None
        p, state = moved
        steps += 1
    return p, state, steps


def _array_step(update: Any, g: np.ndarray, state: Any, p: np.ndarray, hyper: tuple, factor: float,
                lower: np.ndarray, upper: np.ndarray, bounded: bool) -> tuple[np.ndarray, Any] | None:
    """The engine's step from a batch's mean gradient ``g``, operation for operation: the new
    parameters and state, or ``None`` where the engine must take it (and report what went wrong)."""
    try:
        delta, new_state = update(g, state, p, hyper)
        if delta.shape != p.shape or delta.dtype.kind not in "iuf":
            return None
    except Exception:  # noqa: BLE001 - the engine's step reports it, naming the optimizer
        return None
    new = p + delta if factor == 1.0 else p + factor * np.asarray(delta)
    if bounded:
        new = np.clip(new, lower, upper)
    if not all(map(_isfinite, new.tolist())):
        return None
    return new, new_state


def _float_steps(group: Any, values: list[list[float]], count: int, step: Any, hyper: tuple, params: np.ndarray,
                 state: Any, factor: float, lower: np.ndarray, upper: np.ndarray,
                 bounded: bool) -> tuple[np.ndarray, Any, int] | None:
    """Per-sample steps on Python floats with the kernel's in-place rule (``Kernel.step``), which
    works element by element: lists stand in for the state's arrays and the parameters, so no
    array is made per step, and the group's per-sample epoch
    (:func:`optikit.backends.pystep.per_sample_epoch`) runs them. Float arithmetic is the IEEE
    arithmetic NumPy does element-wise, so the numbers are those of the array rule."""
    st = type(state)(*(v.tolist() if isinstance(v, np.ndarray) else v for v in state))  # copies
    p = params.tolist()
    epoch = group.per_sample(factor == 1.0, bounded)
    try:  # scalar code that cannot follow NumPy, or a rule that fails: the engine replays and reports
        st, steps, ok = epoch(step, hyper, st, p, [0.0] * len(p), lower.tolist(), upper.tolist(), factor, count,
                              *values)
    except Exception:  # noqa: BLE001
        return None
    if not ok:
        return None
    arrays = type(state)(*(np.array(f, dtype=v.dtype) if isinstance(v, np.ndarray) else f for f, v in zip(st, state)))
    return np.array(p, dtype=float), arrays, steps
