"""The :class:`DataSource` protocol, and :class:`ArraySource`: columns held in memory, read-only.

A source is what a backend evaluates over: named float columns of one length, offered whole
(``take``) or in chunks (``chunks``), with a ``fingerprint`` that names its content (a checkpoint
refuses to resume on other data).
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .. import expr
from ..errors import ExpressionError
from .ref import DataError

__all__ = ["DataSource", "ArraySource", "check_columns", "chunked_digest", "gather", "DEFAULT_CHUNK_ROWS"]

#: Rows a streamed source reads at a time unless its spec says otherwise (``chunk_rows``).
DEFAULT_CHUNK_ROWS = 65536


@runtime_checkable
class DataSource(Protocol):
    """Rows of named float columns, however they are stored."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names, in order."""
        ...

    @property
    def n_rows(self) -> int:
        """How many rows there are."""
        ...

    def chunks(self, rows: int) -> Iterator[Mapping[str, np.ndarray]]:
        """The data in order, ``rows`` rows at a time (the last chunk holds what is left)."""
        ...

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        """The rows at ``indices`` (every row, in order, when ``None``) as read-only arrays."""
        ...

    def fingerprint(self, columns: Sequence[str] | None = None) -> str:
        """A SHA-256 of the names and values (of ``columns`` only, if given): equal for equal data,
        whatever its storage or column order."""
        ...


def gather(source: DataSource, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Columns ``names`` (default: all) of any source as whole arrays: taken from one held in
    memory, gathered chunk by chunk from one that is streamed (the caller asks for a few columns
    of the rows, where a whole pass is the price)."""
    names = list(source.columns if names is None else names)
    if not getattr(source, "streaming", False):
        taken = source.take(None)
        return {c: np.asarray(taken[c]) for c in names}
    parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
    for chunk in source.chunks(getattr(source, "chunk_rows", DEFAULT_CHUNK_ROWS)):
        for c in names:
            parts[c].append(np.asarray(chunk[c], dtype=float))
    return {c: np.concatenate(v) if v else np.empty(0) for c, v in parts.items()}


def check_columns(columns: Mapping[str, np.ndarray], path: tuple[Any, ...] = ("data",)) -> None:
    """Every column non-empty and of one length; errors name the column under ``path``."""
    if not columns:
        raise DataError("no data columns", path)
    lengths = {name: len(col) for name, col in columns.items()}
    first_name, first_len = next(iter(lengths.items()))
    for name, n in lengths.items():
        if n == 0:
            raise DataError("column is empty", (*path, name))
        if n != first_len:
            raise DataError(f"column has {n} values but {first_name!r} has {first_len}; columns must be of one length",
                            (*path, name))


class ArraySource(Mapping[str, np.ndarray]):
    """Columns in memory: float64 arrays of one length, finite, copied and made read-only (2-D arrays,
    rows x elements, are vector inputs).

    A mapping of column names to arrays, as a spec's inline data always was. Each array handed
    out is a view of a read-only array the source alone holds, so it cannot be made writeable
    again. ``path`` is where errors point (``("data",)`` for a spec's inline data; a keyword such
    as ``("data=",)`` for arrays handed to :func:`optikit.run`).
    """

    def __init__(self, columns: Mapping[str, Any], path: tuple[Any, ...] = ("data",)) -> None:
        arrays: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            where = (*path, name)
            if not isinstance(name, str):
                raise DataError(f"column names must be strings, got {name!r}", path)
            try:
                expr.check_name(name, what="data column")
            except ExpressionError as exc:
                raise DataError(exc.message, where, hint=exc.hint) from None
            arrays[name] = _column(values, where)
        check_columns(arrays, path)
        self._arrays = arrays
        self._digest: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._arrays)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self._arrays.values())))

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name][:]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def chunks(self, rows: int) -> Iterator[Mapping[str, np.ndarray]]:
        if rows < 1:
            raise ValueError(f"rows must be at least 1, got {rows}")
        for start in range(0, self.n_rows, rows):
            yield {name: col[start:start + rows] for name, col in self._arrays.items()}

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        if indices is None:
            return {name: col[:] for name, col in self._arrays.items()}
        return {name: _frozen(col[indices]) for name, col in self._arrays.items()}

    def fingerprint(self, columns: Sequence[str] | None = None) -> str:
        if columns is not None:
            return _digest({c: self._arrays[c] for c in columns})
        if self._digest is None:
            self._digest = _digest(self._arrays)
        return self._digest

    def __repr__(self) -> str:
        return f"ArraySource({', '.join(self.columns)}; {self.n_rows} rows)"


def _digest(columns: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of named float64 columns, in name order: equal data, equal digest, whatever the order."""
    return chunked_digest(columns, lambda: iter([columns]))


def chunked_digest(names: Iterable[str], chunks: Callable[[], Iterator[Mapping[str, np.ndarray]]]) -> str:
    """:func:`_digest` of columns read in chunks (one pass of ``chunks()`` per column), so a source
    streamed from a file has the fingerprint its in-memory copy would have."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode() + b"\0")
        for chunk in chunks():
            h.update(np.ascontiguousarray(chunk[name], dtype=float).tobytes())
    return h.hexdigest()


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _column(values: Any, where: tuple[Any, ...]) -> np.ndarray:
    """``values`` as a fresh read-only float64 array (1-D, or 2-D for a vector input); errors say what is
    wrong and where."""
    if isinstance(values, (str, bytes, Mapping)):
        raise DataError(f"expected a sequence of numbers, got {type(values).__name__}", where)
    try:
        arr = np.array(values, dtype=float, copy=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"expected numbers ({exc})", where) from None
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] == 0):
        raise DataError(f"expected a 1-D column, or a 2-D array (rows x elements) for a vector input, got an array "
                        f"of shape {arr.shape}", where)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        more = f" ({bad.size} rows are not finite)" if bad.size > 1 else ""
        row = int(bad[0]) // (arr.shape[1] if arr.ndim == 2 else 1)
        raise DataError(f"row {row} is {float(arr.flat[bad[0]])}, not a finite number{more}", where)
    return _frozen(arr)
