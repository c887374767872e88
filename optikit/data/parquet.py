"""Parquet files through pyarrow, the optional extra ``optikit[parquet]``: the schema when a spec is
loaded, the rows when a run opens the source, whole or a record batch at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .files import check_file
from .ref import DataError

__all__ = ["pyarrow_parquet", "parquet_header", "read_parquet", "row_group_rows", "read_row_groups"]

FIELD = ("data", "parquet")


def pyarrow_parquet() -> Any:
    """``pyarrow.parquet``, or a one-line error saying how to install it."""
    try:
        import pyarrow.parquet
    except ImportError:
        raise DataError("reading parquet files needs pyarrow: install optikit[parquet]", FIELD,
                        hint="pip install 'optikit[parquet]'") from None
    return pyarrow.parquet


def parquet_header(file: Path) -> list[str]:
    """The column names of a parquet file (its schema; no rows are read)."""
    pq = pyarrow_parquet()
    check_file(file)
    try:
        return list(pq.read_schema(file).names)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError, ...
        raise ValueError(f"not a readable parquet file ({type(exc).__name__}: {str(exc)[:80]})") from None


def read_parquet(file: Path, names: list[str], rows: int | None, missing: str) -> Iterator[Mapping[str, np.ndarray]]:
    """The columns ``names``, one record batch (about ``rows`` rows) at a time; a null cell is an
    error naming its row and column, or drops its row under ``missing: drop``."""
    pq = pyarrow_parquet()
    check_file(file)
    try:
        handle = pq.ParquetFile(file)
        batches = handle.iter_batches(batch_size=rows or 1 << 20, columns=names)
        first = 0
        for batch in batches:
            yield _columns(batch, names, first, missing)
            first += batch.num_rows
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"cannot read ({type(exc).__name__}: {str(exc)[:80]})") from None


def row_group_rows(file: Path) -> list[int]:
    """The rows of each row group of a parquet file (its footer; no rows are read)."""
    pq = pyarrow_parquet()
    check_file(file)
    try:
        meta = pq.ParquetFile(file).metadata
    except Exception as exc:
        raise ValueError(f"not a readable parquet file ({type(exc).__name__}: {str(exc)[:80]})") from None
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def read_row_groups(file: Path, names: list[str], groups: list[int], first: int, missing: str) -> dict[str, np.ndarray]:
    """The columns ``names`` of row groups ``groups`` (consecutive, ``first`` the file's row
    number of their first row), checked as :func:`read_parquet` checks them."""
    pq = pyarrow_parquet()
    check_file(file)
    try:
        batches = pq.ParquetFile(file).read_row_groups(groups, columns=names).to_batches()
    except Exception as exc:
        raise ValueError(f"cannot read ({type(exc).__name__}: {str(exc)[:80]})") from None
    blocks = []
    for batch in batches:
        blocks.append(_columns(batch, names, first, missing))
        first += batch.num_rows
    return {c: np.concatenate([b[c] for b in blocks]) if blocks else np.empty(0) for c in names}


def _columns(batch: Any, names: list[str], first: int, missing: str) -> dict[str, np.ndarray]:
    import pyarrow.types as pat

    keep = None
    for c in names:
        col = batch.column(c)
        if not (pat.is_integer(col.type) or pat.is_floating(col.type)):
            raise ValueError(f"column {c!r} holds {col.type}, not numbers")
        if col.null_count:
            nulls = np.asarray(col.is_null())
            if missing != "drop":
                raise ValueError(f"row {first + int(np.flatnonzero(nulls)[0])}, column {c!r}: an empty cell "
                                 "('missing: drop' drops such rows)")
            keep = ~nulls if keep is None else keep & ~nulls
    out = {}
    for c in names:
        a = batch.column(c).to_numpy(zero_copy_only=False).astype(float)
        out[c] = a[keep] if keep is not None else a
        bad = np.flatnonzero(~np.isfinite(out[c]))
        if bad.size:
            raise ValueError(f"row {first + int(bad[0])}, column {c!r}: {out[c][bad[0]]} is not a finite number")
    return out
