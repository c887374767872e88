"""optikit's backends against the code people write by hand, measured in one run on the same data.

    python benchmarks/run.py [--quick] [--json PATH] [--only {batch,sgd,compile,memory}]...

Batch gradient descent on ``w*x + b`` (mean squared error, float64) per epoch at 1e3..1e7 rows;
per-sample SGD per step at 1e5 rows; spec to first epoch (a fresh interpreter: import, parse,
derive, compile, one epoch) at 2..200 parameters, twice; peak memory of a batch epoch. Baselines:
hand-written NumPy, PyTorch CPU with torch.optim, JAX with jit / lax.scan, a hand-written numba
loop, the blog's pure-Python loop (where it finishes) and the bandwidth floor ``np.dot(x, y)``.
With ``optikit[dask]``, the batch epoch at 1e7 rows on two local Dask worker processes and the
per-step overhead of a cluster (benchmarks/bench_dask.py).
Each figure is the median of several repeats; absent packages are left out. Prints ratios to
the hand-written NumPy (batch) or numba (SGD) figure measured in this run. Per-sample SGD is
timed both ways an epoch can order its rows, for optikit and the hand-written loops alike: with a
new ``rng.permutation(n)`` each epoch inside the timing (optikit's default) and in row order
(``shuffle: false``); each figure is compared with the hand-written numba loop ordered the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import optikit  # noqa: E402

import bench_dask  # noqa: E402
from prepared import LR, data as _data, have as _have, optikit_epoch, per_epoch  # noqa: E402
from bench_sgd import DRAWN, IN_ORDER, bench_sgd, sgd_table  # noqa: E402
from timing import median  # noqa: E402


# ---- batch gradient descent, seconds per epoch ----------------------------------------------
def hand_numpy(x, y, epochs: int) -> None:
    w = b = 0.0
    for _ in range(epochs):
        r = w * x + b - y
        loss = np.mean(r * r)  # noqa: F841 - the epoch's loss, as optikit reports it
        w, b = w - LR * np.mean(2 * x * r), b - LR * np.mean(2 * r)


def torch_gd(x, y, epochs: int) -> None:
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=LR)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.mean((p[0] * xt + p[1] - yt) ** 2)
        loss.backward()
        opt.step()


def jax_gd(x, y) -> Callable[[int], None]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    xj, yj = jnp.asarray(x), jnp.asarray(y)

    @jax.jit
    def step(p):
        loss, g = jax.value_and_grad(lambda q: jnp.mean((q[0] * xj + q[1] - yj) ** 2))(p)
        return p - LR * g, loss

    step(jnp.zeros(2))[0].block_until_ready()

    def run(epochs: int) -> None:
        p = jnp.zeros(2)
        for _ in range(epochs):
            p, _ = step(p)
        p.block_until_ready()

    return run


def numba_kernels() -> dict[str, Callable[..., Any]]:
    import numba

    @numba.njit
    def gd(x, y, epochs):
        w = b = 0.0
        for _ in range(epochs):
            s0 = s1 = s2 = 0.0
            for i in range(x.shape[0]):
                r = w * x[i] + b - y[i]
                s0 += r * r
                s1 += 2 * x[i] * r
                s2 += 2 * r
            w, b = w - LR * s1 / x.shape[0], b - LR * s2 / x.shape[0]
        return w, b

    return {"gd": gd}


def pure_python_gd(xs: list[float], ys: list[float], epochs: int) -> None:
    w = b = 0.0
    n = len(xs)
    for _ in range(epochs):
        gw = gb = loss = 0.0
        for xi, yi in zip(xs, ys):
            r = w * xi + b - yi
            loss += r * r
            gw += 2 * xi * r
            gb += 2 * r
        w, b = w - LR * gw / n, b - LR * gb / n


def bench_batch(sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    rows = []
    kernels = numba_kernels() if _have("numba") else None
    for n in sizes:
        x, y = _data(n)
        epochs = max(2, min(50, 2_000_000 // n))
        add = lambda impl, sec: rows.append({"n": n, "impl": impl, "us_per_epoch": sec * 1e6})  # noqa: E731
        for backend in ("numpy", *(("numba",) if kernels else ())):
            add(f"optikit-{backend}", per_epoch(optikit_epoch(backend, x, y), epochs, repeat))
        add("hand-numpy", median(lambda: hand_numpy(x, y, epochs), repeat) / epochs)
        if _have("torch"):
            add("torch.optim", median(lambda: torch_gd(x, y, epochs), repeat) / epochs)
        if _have("jax"):
            run = jax_gd(x, y)
            add("jax-jit", median(lambda: run(epochs), repeat) / epochs)
        if kernels:
            kernels["gd"](x, y, 1)
            add("hand-numba", median(lambda: kernels["gd"](x, y, epochs), repeat) / epochs)
        if n <= 100_000:
            xs, ys = x.tolist(), y.tolist()
            add("pure-python", median(lambda: pure_python_gd(xs, ys, 2), repeat) / 2)
        add("floor np.dot", median(lambda: [np.dot(x, y) for _ in range(epochs)], repeat) / epochs)
    return rows


# ---- spec to first epoch ----------------------------------------------------------------------
def _wide_spec(params: int) -> str:
    terms = " + ".join(f"w{i}*x{i}" for i in range(params - 1))
    cols = ", ".join(f"x{i}" for i in range(params - 1))
    pars = ", ".join([*(f"w{i}: 0.1" for i in range(params - 1)), "b: 0.0"])
    return f"model: sigmoid({terms} + b)\nparameters: {{{pars}}}\noptimizer: {{name: adam, lr: 0.01, epochs: 1}}\n", cols


def bench_compile(sizes: list[int], backends: list[str], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for params in sizes:
        text, cols = _wide_spec(params)
        code = ("import time; t = time.perf_counter(); import numpy as np; import optikit\n"
                f"rng = np.random.default_rng(0); data = {{c: rng.normal(size=200) for c in {cols.split(', ')!r}}}\n"
                "data['y'] = rng.uniform(size=200)\n"
                f"optikit.run(optikit.loads_spec({text!r}), data=data, backend=BACKEND)\n"
                "print(time.perf_counter() - t)")
        for backend in backends:
            # a cache of this case alone: the first run finds it empty, the second finds what the first wrote
            cache = tempfile.mkdtemp(prefix="optikit-bench-cache-")
            for attempt in ("first", "second"):
                out = subprocess.run([sys.executable, "-c", code.replace("BACKEND", repr(backend))], capture_output=True,
                                     text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "OPTIKIT_CACHE_DIR": cache},
                                     check=False)
                if out.returncode:
                    print(f"spec to first epoch, {params} parameters, {backend}: failed: {out.stderr.strip()[-300:]}")
                    break
                wall = float(out.stdout.strip().splitlines()[-1])
                rows.append({"params": params, "impl": f"optikit-{backend} ({attempt} run)", "seconds": wall})
            shutil.rmtree(cache, ignore_errors=True)
    return rows


# ---- memory ---------------------------------------------------------------------------------
def bench_memory(n: int) -> list[dict[str, Any]]:
    x, y = _data(n)
    rows = []
    timed = optikit_epoch("numpy", x, y)
    for impl, fn in (("optikit-numpy", lambda: timed(3)), ("hand-numpy", lambda: hand_numpy(x, y, 3))):
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"n": n, "impl": impl, "peak_over_data": peak / (x.nbytes + y.nbytes)})
    return rows


def machine() -> dict[str, Any]:
    versions = {m: __import__(m).__version__ for m in ("numpy", "sympy", "numba", "torch", "jax") if _have(m)}
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "optikit": optikit.__version__, **versions}


def _table(rows: list[dict[str, Any]], key: str, unit: str, base: str) -> None:
    for n in sorted({r[key] for r in rows}):
        group = [r for r in rows if r[key] == n]
        ref = next((r[unit] for r in group if r["impl"] == base), None)
        print(f"  {key} = {n:g}")
        for r in group:
            ratio = f"{r[unit] / ref:8.2f}x {base}" if ref else ""
            print(f"    {r['impl']:<32} {r[unit]:>14.4g} {unit}  {ratio}")


def dask_case(rows: int, repeat: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return bench_dask.bench(client, rows, 2, repeat)


SECTIONS = ("batch", "sgd", "compile", "memory")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (under two minutes)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                    help=f"run only this section ({', '.join(SECTIONS)}); repeatable")
    args = ap.parse_args(argv)
    only = set(args.only or SECTIONS)
    repeat = 3 if args.quick else 7
    backends = ["numpy", *(["numba"] if _have("numba") else [])]
    out: dict[str, Any] = {}
    if "batch" in only:
        out["batch_gd"] = bench_batch([1_000, 100_000, 1_000_000] if args.quick else
                                      [1_000, 100_000, 1_000_000, 10_000_000], repeat)
    if "sgd" in only:
        out["sgd"] = bench_sgd(20_000 if args.quick else 100_000, repeat)
    if "compile" in only:
        out["compile"] = bench_compile([2, 10] if args.quick else [2, 10, 50, 200], backends, 1)
    if "memory" in only:
        out["memory"] = bench_memory(1_000_000)
    out["machine"] = machine()
    if "batch" in only and _have("distributed"):  # optikit[dask]: the same epoch on two local worker processes
        out["dask"] = dask_case(100_000 if args.quick else 10_000_000, repeat)
    if "batch_gd" in out:
        print("batch gradient descent, per epoch (ratio to hand-written NumPy):")
        _table(out["batch_gd"], "n", "us_per_epoch", "hand-numpy")
    if "sgd" in out:
        print(f"per-sample SGD, per step (ratio to a hand-written numba loop: [{DRAWN}] draws rng.permutation(n) "
              f"each epoch inside the timing, as optikit's default shuffle does; [{IN_ORDER}] visits the rows in order, "
              "as optikit's shuffle: false does):")
        sgd_table(out["sgd"])
    if "compile" in out:
        print("spec to first epoch, import included (fresh interpreter):")
        _table(out["compile"], "params", "seconds", "")
    if "memory" in out:
        print("peak memory of 3 batch epochs over the data's size:")
        _table(out["memory"], "n", "peak_over_data", "hand-numpy")
    if "dask" in out:
        bench_dask.report(out["dask"])
    print("machine:", json.dumps(out["machine"]))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
