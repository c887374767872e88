"""The one timing rule of the benchmarks: the median wall time of repeated calls."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def median(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``repeat`` calls of ``fn`` (medians, not minima: these machines are noisy)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
