"""Speed and memory of optikit's loop against hand-written NumPy loops measured in the same run.

Run on demand: ``python benchmarks/bench_engine.py [--quick]``. Prints, per case, optikit's time,
the baseline's, and their ratio (lower is better; 1.0 means no overhead), and the peak memory a
run allocates relative to the size of its data.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import optikit

from timing import median


def _spec(n: int, optimizer: str, epochs: int, batch_size: int | None = None) -> optikit.Spec:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, n)
    y = 3.0 * x + 2.0 + rng.normal(0, 0.5, n)
    bs = f", batch_size: {batch_size}" if batch_size else ""
    text = (f"model: a*x + b\nparameters: {{a: 0.0, b: 0.0}}\ndata:\n  x: {x.tolist()}\n  y: {y.tolist()}\n"
            f"optimizer: {{name: {optimizer}, lr: 0.001, epochs: {epochs}{bs}, seed: 0}}\n")
    return optikit.loads_spec(text)


def _hand_gd(x, y, epochs, lr=0.001):
    a = b = 0.0
    for _ in range(epochs):
        r = a * x + b - y
        a, b = a - lr * np.mean(2 * x * r), b - lr * np.mean(2 * r)
    return a, b


def _hand_sgd(x, y, epochs, batch, lr=0.001):
    rng = np.random.default_rng(0)
    a = b = 0.0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            i = order[s:s + batch]
            r = a * x[i] + b - y[i]
            a, b = a - lr * np.mean(2 * x[i] * r), b - lr * np.mean(2 * r)
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    repeat = 3
    cases = [
        ("gd, 100 rows, 2000 epochs", 100, "gd", 2000 // scale, None),
        ("gd, 100k rows, 50 epochs", 100_000 // scale, "gd", 50, None),
        ("sgd, 10k rows, batch 32, 5 epochs", 10_000 // scale, "sgd", 5, 32),
    ]
    print(f"{'case':40} {'optikit':>10} {'baseline':>10} {'ratio':>7}")
    for label, n, opt, epochs, batch in cases:
        spec = _spec(n, opt, epochs, batch)
        prepared = optikit.prepare(spec)
        data = optikit.load_data(spec)
        x, y = data["x"], data["y"]
        ours = median(lambda: prepared.run(), repeat)
        base = median((lambda: _hand_gd(x, y, epochs)) if batch is None else (lambda: _hand_sgd(x, y, epochs, batch)), repeat)
        print(f"{label:40} {ours:10.4f} {base:10.4f} {ours / base:7.2f}")

    spec = _spec(200_000 // scale, "gd", 5)
    prepared = optikit.prepare(spec)
    data = optikit.load_data(spec)
    data_bytes = sum(data[c].nbytes for c in data.columns)
    tracemalloc.start()
    prepared.run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{'peak memory of a gd run / data size':40} {peak / data_bytes:10.2f}")

    start = time.perf_counter()
    optikit.prepare(optikit.loads_spec(
        "model: a*exp(-b*x) + c*sin(d*x) + k\nparameters: {a: 1, b: 1, c: 1, d: 1, k: 0}\n"
        "data: {x: [0, 1, 2], y: [1, 2, 3]}\noptimizer: newton\n")).problem.hessian(np.ones(5))
    print(f"{'compile 5-parameter model + Hessian (s)':40} {time.perf_counter() - start:10.4f}")


if __name__ == "__main__":
    main()
