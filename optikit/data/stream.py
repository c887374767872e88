"""File sources: read whole when first used (:class:`FileSource`), or a chunk at a time and never
whole (:class:`StreamSource`, for files larger than memory).

A file kind supplies ``read(rows)``: an iterator over its rows as column mappings, ``rows`` rows
per chunk (any number for ``None``); errors are ``ValueError`` naming row and column, which
the source places at the spec's field.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from .ref import DataError, DataRef
from .source import DEFAULT_CHUNK_ROWS, ArraySource, chunked_digest

__all__ = ["FileSource", "StreamSource", "Reader", "DEFAULT_CHUNK_ROWS"]

#: ``read(rows)``: the file's rows, ``rows`` at a time (whole chunks of any size for ``None``).
Reader = Callable[[int | None], Iterator[Mapping[str, np.ndarray]]]


def _named(ref: DataRef) -> str:
    return str(ref.options.get("file", ref.path))


def _reading(ref: DataRef, chunks: Iterator[Mapping[str, np.ndarray]]) -> Iterator[Mapping[str, np.ndarray]]:
    try:
        yield from chunks
    except ValueError as exc:
        raise DataError(f"{_named(ref)}: {exc}", ref.field) from None


class FileSource(Mapping[str, np.ndarray]):
    """The columns of a file, its rows read in full when first needed (not when it is opened)."""

    streaming = False

    def __init__(self, ref: DataRef, read: Reader) -> None:
        self.ref = ref
        self._read = read
        self._data: ArraySource | None = None

    @property
    def data(self) -> ArraySource:
        """The rows, read now if they have not been."""
        if self._data is None:
            blocks = list(_reading(self.ref, self._read(None)))
            if not blocks:
                raise DataError(f"{_named(self.ref)}: no data rows", self.ref.field)
            columns = {c: np.concatenate([b[c] for b in blocks]) if len(blocks) > 1 else blocks[0][c]
                       for c in self.ref.columns}
            self._data = ArraySource(columns, self.ref.field)
        return self._data

    @property
    def columns(self) -> tuple[str, ...]:
        return self.ref.columns

    @property
    def n_rows(self) -> int:
        return self.data.n_rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ref.columns)

    def __len__(self) -> int:
        return len(self.ref.columns)

    def chunks(self, rows: int) -> Iterator[Mapping[str, np.ndarray]]:
        return self.data.chunks(rows)

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        return self.data.take(indices)

    def fingerprint(self, columns: Sequence[str] | None = None) -> str:
        return self.data.fingerprint(columns)

    def __repr__(self) -> str:
        return f"FileSource({_named(self.ref)!r})"


class StreamSource:
    """The columns of a file read ``chunk_rows`` rows at a time, each pass from the start: memory
    holds one chunk, whatever the file's size. ``take`` is refused; backends sum over ``chunks``."""

    streaming = True

    def __init__(self, ref: DataRef, read: Reader, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.ref = ref
        self._read = read
        self.chunk_rows = chunk_rows
        self._n: int | None = None
        self._digest: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return self.ref.columns

    @property
    def n_rows(self) -> int:
        """Rows of the file, counted by one pass the first time they are asked for."""
        if self._n is None:
            n = sum(len(next(iter(c.values()))) for c in self.chunks(self.chunk_rows))
            if n == 0:
                raise DataError(f"{_named(self.ref)}: no data rows", self.ref.field)
            self._n = n
        return self._n

    def __contains__(self, name: object) -> bool:
        return name in self.ref.columns

    def chunks(self, rows: int | None = None) -> Iterator[Mapping[str, np.ndarray]]:
        """The rows in order, exactly ``rows`` per chunk (the last holds what is left)."""
        rows = self.chunk_rows if rows is None else rows
        if rows < 1:
            raise ValueError(f"rows must be at least 1, got {rows}")
        held: list[Mapping[str, np.ndarray]] = []
        count = 0
        for block in _reading(self.ref, self._read(rows)):
            held.append(block)
            count += len(next(iter(block.values())))
            while count >= rows:
                chunk, held = _cut(held, rows)
                count -= rows
                yield chunk
        if count:
            yield _cut(held, count)[0]

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        raise DataError(f"{_named(self.ref)} is streamed (read in chunks), not held in memory; "
                        "this backend or command needs it in memory", self.ref.field,
                        hint="set 'stream: false' in the data section")

    def fingerprint(self, columns: Sequence[str] | None = None) -> str:
        """The fingerprint an in-memory copy would have (one pass over the file per column)."""
        if columns is not None:
            return chunked_digest(columns, lambda: self.chunks(self.chunk_rows))
        if self._digest is None:
            self._digest = chunked_digest(self.columns, lambda: self.chunks(self.chunk_rows))
        return self._digest

    def __repr__(self) -> str:
        return f"StreamSource({_named(self.ref)!r}, chunk_rows={self.chunk_rows})"


def _cut(held: list[Mapping[str, np.ndarray]], rows: int) -> tuple[dict[str, np.ndarray], list]:
    """The first ``rows`` rows of the held blocks, and the blocks that remain."""
    names = list(held[0])
    out: dict[str, list[np.ndarray]] = {c: [] for c in names}
    need, rest = rows, []
    for i, block in enumerate(held):
        k = len(block[names[0]])
        if need >= k:
            for c in names:
                out[c].append(block[c])
            need -= k
        else:
            if need:
                for c in names:
                    out[c].append(block[c][:need])
            rest = [{c: block[c][need:] for c in names}, *held[i + 1:]]
            break
        if need == 0:
            rest = list(held[i + 1:])
            break
    chunk = {c: (parts[0] if len(parts) == 1 else np.concatenate(parts)) for c, parts in out.items()}
    for a in chunk.values():
        a.flags.writeable = False
    return chunk, rest
