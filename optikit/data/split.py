"""A validation split, ``split: {validation: FRACTION, seed: N}``: each row goes to the validation
set with probability FRACTION, decided by ``numpy.random.default_rng(seed).random()`` drawn row by
row in file order, so a streamed file and the same rows in memory split the same way."""

from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np

from .ref import DataError
from .source import DEFAULT_CHUNK_ROWS, ArraySource, DataSource, chunked_digest

__all__ = ["split_source", "SplitStream"]


def _masked(source: DataSource, fraction: float, seed: int, validation: bool,
            rows: int) -> Iterator[Mapping[str, np.ndarray]]:
    rng = np.random.default_rng(seed)  # the same draws on every pass
    for chunk in source.chunks(rows):
        held = rng.random(len(next(iter(chunk.values())))) < fraction
        keep = held if validation else ~held
        yield {c: a[keep] for c, a in chunk.items()}


class SplitStream:
    """One side of the split of a streamed source, read chunk by chunk like the source itself."""

    streaming = True

    def __init__(self, source: DataSource, fraction: float, seed: int, validation: bool) -> None:
        self.source, self.fraction, self.seed, self.validation = source, fraction, seed, validation
        self.chunk_rows = getattr(source, "chunk_rows", DEFAULT_CHUNK_ROWS)
        self._n: int | None = None
        self._digest: str | None = None
        self.ref = getattr(source, "ref", None)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.source.columns

    @property
    def n_rows(self) -> int:
        if self._n is None:
            self._n = sum(len(next(iter(c.values()))) for c in self.chunks())
            if not self._n:
                side = "validation" if self.validation else "training"
                raise DataError(f"the {side} side of the split has no rows (validation fraction {self.fraction})",
                                ("data", "split"))
        return self._n

    def __contains__(self, name: object) -> bool:
        return name in self.source.columns

    def chunks(self, rows: int | None = None) -> Iterator[Mapping[str, np.ndarray]]:
        """The side's rows in order, chunk by chunk (chunks of up to ``rows`` rows)."""
        return _masked(self.source, self.fraction, self.seed, self.validation, rows or self.chunk_rows)

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        return self.source.take(indices)  # refused by the streamed source, with its message

    def fingerprint(self, columns: Sequence[str] | None = None) -> str:
        if columns is not None:
            return chunked_digest(columns, self.chunks)
        if self._digest is None:
            self._digest = chunked_digest(self.columns, self.chunks)
        return self._digest


def split_source(source: DataSource, fraction: float, seed: int,
                 path: tuple = ("data", "split")) -> tuple[DataSource, DataSource]:
    """``(training, validation)`` sides of ``source``; both must keep at least one row."""
    if getattr(source, "streaming", False):
        return SplitStream(source, fraction, seed, False), SplitStream(source, fraction, seed, True)
    sides = []
    for validation in (False, True):
        parts = list(_masked(source, fraction, seed, validation, max(source.n_rows, 1)))
        columns = {c: np.concatenate([p[c] for p in parts]) for c in source.columns}
        if not len(next(iter(columns.values()))):
            raise DataError(f"the {'validation' if validation else 'training'} side of the split has no rows "
                            f"({source.n_rows} rows, validation fraction {fraction})", path)
        sides.append(ArraySource(columns, path))
    return sides[0], sides[1]
