"""What the benchmarks share: the data, the learning rate, and optikit runs prepared once and
timed by whole epochs through the engine."""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import optikit  # noqa: E402
from optikit.api import prepare  # noqa: E402
from optikit.engine.loop import run_problem  # noqa: E402

LR = 1e-3


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``x`` uniform on [0, 1) and ``y = 3 x + 2`` plus noise, the same for every case."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, n)
    return x, 3.0 * x + 2.0 + rng.normal(0, 0.1, n)


def have(name: str) -> bool:
    """Whether the package ``name`` imports (absent ones leave their column out)."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def optikit_epoch(backend: str, x, y, optimizer: str = "gd", batch: int | None = None,
                  shuffle: bool = True) -> Callable[[int], float]:
    """Seconds for ``epochs`` epochs of a prepared run (compiled once, outside the timing)."""
    opt = (f"{{name: {optimizer}, lr: {LR}, epochs: 1, seed: 0{', batch_size: %d' % batch if batch else ''}"
           f"{'' if shuffle else ', shuffle: false'}}}")
    spec = optikit.loads_spec(f"model: w*x + b\nparameters: {{w: 0.0, b: 0.0}}\noptimizer: {opt}\n")
    prep = prepare(spec, data={"x": x, "y": y}, backend=backend)
    run_problem(prep.problem, prep.optimizer, prep.settings)  # compile and warm up

    def timed(epochs: int) -> float:
        settings = dataclasses.replace(prep.settings, epochs=epochs)
        start = time.perf_counter()
        run_problem(prep.problem, prep.optimizer, settings)
        return time.perf_counter() - start

    return timed


def per_epoch(timed: Callable[[int], float], epochs: int, repeat: int) -> float:
    """Median of (time of 1 + epochs) - (time of 1): the per-run start and final pass cancel."""
    return statistics.median((timed(1 + epochs) - timed(1)) / epochs for _ in range(repeat))
