"""Whole epochs of steps in the numba backend's compiled code (see
:meth:`optikit.backends.numba_backend.NumbaEvaluator.epoch`).

Per-sample epochs with an in-place rule (``Kernel.step``) run the function that
:func:`~optikit.backends.codegen.row_epoch_source` prints for the problem: the row's gradient
inline, parameters in locals, one finiteness test per step, the gradient and the parameters
handed to the rule as tuples where it takes them. It is compiled without numba's reference
counting where the rule allows (it allocates nothing): a rule inlined into the loop otherwise
pays an atomic count on its array arguments every step, several times the arithmetic of a
per-sample step. Mini-batches, and rules that return new arrays, run the general epochs below,
which call the group's compiled gradient loop.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .codegen import define_function

__all__ = ["jit_pure", "rows_call", "compile_epoch", "compile_epoch_in_place", "compile_row_epoch"]

_JITTED: dict[Any, Any] = {}


def jit_pure(numba: Any, fn: Callable[..., Any]) -> Any:
    """``fn`` compiled by numba together with the plain functions it calls by global name
    (a kernel's helpers), each compiled once. Each is inlined where it is called: a call of a
    kernel that numba does not inline costs some 100 ns (its tuple of hyperparameters and its
    branches on them), several times the arithmetic of a per-sample step; inlining changes no
    operation."""
    if fn in _JITTED:
        return _JITTED[fn]
    globs = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        value = globs.get(name)
        if isinstance(value, type(fn)) and value is not fn:
            globs[name] = jit_pure(numba, value)
    clone = type(fn)(fn.__code__, globs, fn.__name__, fn.__defaults__, fn.__closure__)
    jitted = _JITTED[fn] = numba.njit(cache=False, error_model="numpy", inline="always")(clone)
    return jitted


def rows_call(numba: Any, grad_loop: Any, columns: int) -> Any:
    """``rows_sums(p, rows, out, data)``: ``grad_loop(p, rows, False, out, *data)`` with the columns
    named one by one, which numba calls directly (about 10 ns) where it spends some 400 ns
    unpacking ``*data`` on every call."""
    items = "".join(f", data[{i}]" for i in range(columns))
    source = f"def rows_sums(p, rows, out, data):\n    grad_loop(p, rows, False, out{items})\n"
    fn = define_function(source, "rows_sums", {"grad_loop": grad_loop}, "<optikit rows call>")
    return numba.njit(cache=False, error_model="numpy")(fn)


# The gradient loop is a constant of the compiled epoch (a closure), not an argument, which numba
# would call through a pointer: an epoch is compiled per evaluator and kernel.
def compile_epoch(numba: Any, update: Any, grad_loop: Any) -> Callable[..., Any]:
    @numba.njit(cache=False, error_model="numpy")
    def epoch(p, state, hyper, order, batch, factor, lo, hi, bounded, max_steps, gbuf, data):
        # the engine's step, operation for operation: mean gradient, update, scale, clip, check
        n = order.shape[0]
        steps = 0
        for start in range(0, n, batch):
            if steps >= max_steps:
                break
            rows = order[start:start + batch]
            grad_loop(p, rows, gbuf, data)
            g = gbuf / rows.shape[0]
            if not np.all(np.isfinite(g)):
                return p, state, steps, False
            delta, new_state = update(g, state, p, hyper)
            new = p + delta if factor == 1.0 else p + factor * delta
            if bounded:
                new = np.minimum(np.maximum(new, lo), hi)
            if not np.all(np.isfinite(new)):
                return p, state, steps, False
            p, state = new, new_state
            steps += 1
        return p, state, steps, True

    return epoch


def compile_epoch_in_place(numba: Any, step: Any, grad_loop: Any) -> Callable[..., Any]:
    @numba.njit(cache=False, error_model="numpy")
    def epoch(p, state, hyper, order, batch, factor, lo, hi, bounded, max_steps, gbuf, data):
        # compile_epoch's step with no array allocated per step: the same operations element by element
        n, k = order.shape[0], p.shape[0]
        g, delta, new = np.empty(k), np.empty(k), np.empty(k)
        steps = 0
        for start in range(0, n, batch):
            if steps >= max_steps:
                break
            rows = order[start:start + batch]
            grad_loop(p, rows, gbuf, data)
            m = rows.shape[0]
            for j in range(k):
                g[j] = gbuf[j] / m
                if not np.isfinite(g[j]):
                    return p, state, steps, False
            state = step(g, state, p, hyper, delta)
            for j in range(k):
                v = p[j] + delta[j] if factor == 1.0 else p[j] + factor * delta[j]
                if bounded:
                    if v != v:  # NaN, which np.clip keeps and the comparisons below would drop
                        return p, state, steps, False
                    # np.clip's comparisons, which keep the bound's zero at a tie (min/max keep v's)
                    v = v if v > lo[j] else lo[j]
                    v = v if v < hi[j] else hi[j]
                if not np.isfinite(v):
                    return p, state, steps, False
                new[j] = v
            p[:] = new
            steps += 1
        return p, state, steps, True

    return epoch


def compile_row_epoch(numba: Any, source: str, step: Any, namespace: dict[str, Any],
                      counted: bool) -> Callable[..., Any]:
    """The per-sample epoch printed in ``source`` (``epoch``), calling the in-place rule ``step``;
    without reference counting unless ``counted`` (numba then refuses a rule that allocates,
    when the epoch is first called, and so does a numba without the option, ``_nrt``, which is
    its own and underscored: a ``KeyError`` naming it)."""
    fn = define_function(source, "epoch", {**namespace, "step": jit_pure(numba, step)}, "<optikit row epoch>")
    return numba.njit(cache=False, error_model="numpy", **({} if counted else {"_nrt": False}))(fn)
