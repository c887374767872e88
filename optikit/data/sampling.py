"""How a run draws rows: the batches of one epoch."""

from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = ["batches"]


def batches(n: int, batch_size: int | None, rng: np.random.Generator | None, shuffle: bool = True) -> Iterator[np.ndarray | None]:
    """Index arrays for one epoch over ``n`` rows.

    ``None`` stands for the full batch in data order (so sums run over the rows as written);
    otherwise a permutation drawn from ``rng`` (when ``shuffle``) cut into batches of
    ``batch_size``; the last batch holds what is left.
    """
    if batch_size is None or batch_size >= n:
        yield None
        return
    order = rng.permutation(n) if shuffle and rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
