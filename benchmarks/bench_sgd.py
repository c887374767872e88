"""Per-sample SGD on ``w*x + b``, ns per step: optikit's backends against torch.optim, JAX's
``lax.scan``, a hand-written numba loop and the blog's pure-Python loop (part of benchmarks/run.py).

Each is timed both ways an epoch can order its rows, where it applies: ``[drawn]`` draws
``rng.permutation(n)`` each epoch inside the timing, as optikit does by default; ``[in order]``
visits rows 0..n-1, as optikit does with ``shuffle: false``. The draw alone is timed too. A
figure is compared only with the hand-written numba loop that orders its rows the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prepared import LR, data, have, optikit_epoch, per_epoch
from timing import median

#: How an implementation orders the rows of an epoch: ``drawn`` draws ``rng.permutation(n)`` each
#: epoch inside the timing (optikit's default, ``shuffle: true``); ``in order`` visits rows 0..n-1
#: (optikit's ``shuffle: false``). Ratios are taken within one kind only.
DRAWN, IN_ORDER = "drawn", "in order"


def bench_sgd(n: int, repeat: int) -> list[dict[str, Any]]:
    x, y = data(n)
    rows = []

    def add(impl: str, order: str, sec: float) -> None:
        rows.append({"n": n, "impl": f"{impl} [{order}]", "ns_per_step": sec * 1e9})

    for backend in ("numpy", *(("numba",) if have("numba") else ())):
        for order, shuffle in ((DRAWN, True), (IN_ORDER, False)):
            timed = optikit_epoch(backend, x, y, optimizer="sgd", batch=1, shuffle=shuffle)
            # a compiled epoch takes about a millisecond: several per sample and more samples, against noise
            epochs, samples = (5, 3 * repeat) if backend == "numba" else (1, repeat)
            add(f"optikit-{backend}", order, per_epoch(timed, epochs, samples) / n)
    if have("torch"):
        import torch

        k = min(n, 5000)
        xt, yt = torch.from_numpy(x[:k]), torch.from_numpy(y[:k])

        def torch_sgd() -> None:
            p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
            opt = torch.optim.SGD([p], lr=LR)
            for i in range(k):
                opt.zero_grad()
                ((p[0] * xt[i] + p[1] - yt[i]) ** 2).backward()
                opt.step()

        add("torch.optim", IN_ORDER, median(torch_sgd, repeat) / k)
    if have("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        xj, yj = jnp.asarray(x), jnp.asarray(y)

        @jax.jit
        def epoch(p, order):
            def step(q, i):
                g = jax.grad(lambda r: (r[0] * xj[i] + r[1] - yj[i]) ** 2)(q)
                return q - LR * g, None

            return jax.lax.scan(step, p, order)[0]

        in_order = jnp.arange(n)
        epoch(jnp.zeros(2), in_order).block_until_ready()
        add("jax lax.scan", IN_ORDER, median(lambda: epoch(jnp.zeros(2), in_order).block_until_ready(), repeat) / n)
        rng = np.random.default_rng(0)
        epoch(jnp.zeros(2), jnp.asarray(rng.permutation(n))).block_until_ready()  # compiled for a host array too
        add("jax lax.scan", DRAWN,
            median(lambda: epoch(jnp.zeros(2), jnp.asarray(rng.permutation(n))).block_until_ready(), repeat) / n)
    if have("numba"):
        kernel = hand_numba()
        in_order = np.arange(n)
        kernel(x, y, in_order)
        add("hand-numba", IN_ORDER, median(lambda: kernel(x, y, in_order), repeat) / n)
        rng = np.random.default_rng(0)
        add("hand-numba", DRAWN, median(lambda: kernel(x, y, rng.permutation(n)), repeat) / n)
    rng = np.random.default_rng(0)
    add("rng.permutation(n) alone", DRAWN, median(lambda: rng.permutation(n), repeat) / n)
    if have("numba"):  # the same permutation, drawn by the numba backend's compiled copy
        import optikit
        from optikit.api import compile_spec

        spec = optikit.loads_spec("model: w*x + b\nparameters: {w: 0.0, b: 0.0}\noptimizer: {name: sgd}\n")
        evaluator = compile_spec(spec, data={"x": x, "y": y}, backend="numba").evaluator
        evaluator.permutation(rng, n)
        drawn = median(lambda: evaluator.permutation(rng, n), repeat) / n
        add("rng.permutation(n) alone, optikit-numba's", DRAWN, drawn)
    xs, ys = x.tolist(), y.tolist()

    def blog_sgd() -> None:
        w = b = 0.0
        for i in np.random.default_rng(0).permutation(n).tolist():
            r = w * xs[i] + b - ys[i]
            w, b = w - LR * 2 * xs[i] * r, b - LR * 2 * r

    add("pure-python", DRAWN, median(blog_sgd, repeat) / n)
    return rows


def _order(row: dict[str, Any]) -> str:
    return row["impl"].rsplit(" [", 1)[1][:-1]


def sgd_table(rows: list[dict[str, Any]]) -> None:
    """Each row against the hand-written numba loop that orders its rows the same way."""
    for n in sorted({r["n"] for r in rows}):
        group = [r for r in rows if r["n"] == n]
        base = {_order(r): r["ns_per_step"] for r in group if r["impl"].startswith("hand-numba")}
        print(f"  n = {n:g}")
        for r in group:
            ref = base.get(_order(r))
            alone = r["impl"].startswith("rng.")  # the draw itself, which the [drawn] figures include
            ratio = f"{r['ns_per_step'] / ref:8.2f}x hand-numba, same order" if ref and not alone else ""
            print(f"    {r['impl']:<44} {r['ns_per_step']:>14.4g} ns_per_step  {ratio}")


def hand_numba() -> Any:
    """The loop people write by hand: ``w`` and ``b`` in locals, the rows in the order given."""
    import numba

    @numba.njit
    def sgd(x, y, order):
        w = b = 0.0
        for i in order:
            r = w * x[i] + b - y[i]
            w, b = w - LR * 2 * x[i] * r, b - LR * 2 * r
        return w, b

    return sgd
