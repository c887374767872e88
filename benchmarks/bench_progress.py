"""Cost of the progress hook: a minibatch run with no hook, a no-op hook, and the tqdm bar.

Run on demand: ``python benchmarks/bench_progress.py [--quick]``. Prints the median time of each
and its ratio to the run without a hook, measured in the same process (1.0 means no overhead).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np

import optikit
from optikit.api import prepare
from optikit.engine.runio import run_controlled
from optikit.output.progress import Progress


def _spec(n: int, epochs: int) -> optikit.Spec:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, n)
    y = 3.0 * x + 2.0 + rng.normal(0, 0.5, n)
    return optikit.loads_spec(f"model: a*x + b\nparameters: {{a: 0.0, b: 0.0}}\ndata:\n  x: {x.tolist()}\n"
                              f"  y: {y.tolist()}\noptimizer: {{name: sgd, lr: 0.001, epochs: {epochs}, "
                              f"batch_size: 1, seed: 0}}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    n, epochs, repeat = (500, 2, 3) if args.quick else (5000, 4, 7)
    prepared = prepare(_spec(n, epochs))

    class Noop:
        def step(self, step: int) -> None:
            pass

    cases = {"no hook": lambda: None, "no-op hook": Noop,
             "tqdm bar": lambda: Progress(n * epochs, stream=io.StringIO(), delay=0.0)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):  # round robin: a shared machine's load drifts over the cases alike
        for name, factory in cases.items():
            hook = factory()
            start = time.perf_counter()
            run_controlled(prepared, catch_sigint=False, on_step=hook.step if hook else None)
            times[name].append(time.perf_counter() - start)
            if isinstance(hook, Progress):
                hook.close()
    base = statistics.median(times["no hook"])
    print(f"{n * epochs} steps of batch 1, median of {repeat}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:<12} {t:8.3f} s   ratio {t / base:5.3f}")


if __name__ == "__main__":
    main()
