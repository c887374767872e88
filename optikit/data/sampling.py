"""How a run draws rows: the batches of one epoch, from memory or from a stream."""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping

import numpy as np

from .stream import _cut

__all__ = ["batches", "buffered_batches", "steps_per_epoch"]


def steps_per_epoch(n_rows: int, batch_size: int | None) -> int:
    """How many batches, so optimizer steps, one epoch over ``n_rows`` rows takes."""
    return 1 if batch_size is None or batch_size >= n_rows else -(-n_rows // batch_size)


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


def buffered_batches(chunks: Iterable[Mapping[str, np.ndarray]], batch_size: int, buffer_rows: int,
                     rng: np.random.Generator | None, shuffle: bool = True
                     ) -> Iterator[tuple[Mapping[str, np.ndarray], np.ndarray]]:
    """One epoch of batches over rows that arrive in chunks: ``(buffer, indices into it)``.

    The rows are gathered, in order, into buffers of ``buffer_rows`` rounded up to a multiple of
    ``batch_size`` (the last buffer holds what is left); each buffer's rows are permuted by
    ``rng.permutation`` (when ``shuffle``) and cut into batches, so every batch lies within one
    buffer and the last batch of the epoch holds what is left. A buffer holding every row draws
    exactly the batches of :func:`batches` over the same rows and ``rng``.
    """
    size = -(-max(buffer_rows, batch_size) // batch_size) * batch_size
    held: list[Mapping[str, np.ndarray]] = []
    count = 0

    def cut(buffer: Mapping[str, np.ndarray]) -> Iterator[tuple[Mapping[str, np.ndarray], np.ndarray]]:
        k = len(next(iter(buffer.values())))
        order = rng.permutation(k) if shuffle and rng is not None else np.arange(k)
        for start in range(0, k, batch_size):
            yield buffer, order[start:start + batch_size]

    for chunk in chunks:
        k = len(next(iter(chunk.values())))
        if not k:
            continue
        held.append(chunk)
        count += k
        while count >= size:
            buffer, held = _cut(held, size)
            count -= size
            yield from cut(buffer)
    if count:
        yield from cut(_cut(held, count)[0])
