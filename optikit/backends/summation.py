"""The summation rule, the one place it is decided.

A batch of up to :data:`SEQUENTIAL_SUM_ROWS` rows is summed strictly in row order (``cumsum``),
so a hand-written loop over the rows is reproduced digit for digit (the seed program's 102
lines); larger batches are summed pairwise (``sum``), which is faster and more accurate. A value
that does not depend on the row is multiplied by the row count rather than summed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SEQUENTIAL_SUM_ROWS", "row_sum"]

#: Batches up to this many rows are summed strictly in row order; larger ones pairwise.
SEQUENTIAL_SUM_ROWS = 4096


def row_sum(values: Any, n: int, scratch: np.ndarray) -> float:
    """The sum of one output over ``n`` rows by the summation rule (``scratch``: at least
    ``min(n, SEQUENTIAL_SUM_ROWS)`` floats for the running sum, so no array is allocated)."""
    if type(values) is not np.ndarray or values.shape != (n,):
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 0:  # the same value on every row
            return float(arr) * n
        values = np.broadcast_to(arr, (n,))
    if n <= SEQUENTIAL_SUM_ROWS:
        # sum() pairs rows up from 8 on; accumulate (cumsum without its wrapper's cost) adds in row order
        return float(np.add.accumulate(values, out=scratch[:n])[-1])
    return float(values.sum())
