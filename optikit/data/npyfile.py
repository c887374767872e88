"""NumPy files: ``npy`` (a 2-D array whose columns the spec names, or a structured array with
named fields) and ``npz`` (one 1-D array per column name). Never unpickled."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .files import check_file
from .ref import DataError, DataRef

__all__ = ["npy_header", "npz_header", "read_npy", "read_npz"]


def _open_npy(file: Path) -> np.ndarray:
    check_file(file)
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        # NumPy's own words suggest allow_pickle=True, which would run code from the file: never
        why = "it holds Python objects, which are never read" if "pickle" in str(exc) else str(exc)
        raise ValueError(f"not a NumPy .npy file of numbers ({why})") from None


def npy_header(file: Path, columns: list[str] | None) -> list[str]:
    """The column names of a ``.npy`` file: its fields, or ``columns`` for a 2-D array (one name a
    column, in order, required as such a file has no names)."""
    arr = _open_npy(file)
    if arr.dtype.names:
        return list(arr.dtype.names)
    if arr.ndim != 2 or arr.dtype.kind not in "iuf":
        raise ValueError(f"expected a 2-D array of numbers or a structured array, got {arr.ndim}-D {arr.dtype}")
    if columns is None:
        raise ValueError(f"a {arr.shape[1]}-column array has no names; name them with 'columns: [...]'")
    if len(columns) != arr.shape[1]:
        raise ValueError(f"the array has {arr.shape[1]} columns, 'columns' names {len(columns)}")
    return list(columns)


def read_npy(file: Path, header: list[str], names: list[str]) -> Iterator[Mapping[str, np.ndarray]]:
    arr = _open_npy(file)
    if arr.dtype.names:
        yield {c: np.array(arr[c], dtype=float) for c in names}
    else:
        yield {c: np.array(arr[:, header.index(c)], dtype=float) for c in names}


def npz_header(file: Path) -> list[str]:
    """The array names of a ``.npz`` file (each a column)."""
    check_file(file)
    try:
        with np.load(file, allow_pickle=False) as z:
            return list(z.files)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a NumPy .npz file ({exc})") from None


def read_npz(file: Path, names: list[str]) -> Iterator[Mapping[str, np.ndarray]]:
    check_file(file)
    out: dict[str, Any] = {}
    try:
        with np.load(file, allow_pickle=False) as z:
            for c in names:
                a = z[c]
                if a.ndim != 1 or a.dtype.kind not in "iuf":
                    raise ValueError(f"array {c!r} is {a.ndim}-D {a.dtype}; expected a 1-D array of numbers")
                out[c] = np.asarray(a, dtype=float)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read ({exc})") from None
    yield out


def check_rows(ref: DataRef, columns: Mapping[str, np.ndarray]) -> None:
    """Columns of one length with finite values; errors name the row and column."""
    lengths = {c: len(a) for c, a in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{ref.options.get('file', ref.path)}: columns differ in length: {lengths}", ref.field)
    for c, a in columns.items():
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise DataError(f"{ref.options.get('file', ref.path)}: row {int(bad[0])}, column {c!r}: {a[bad[0]]} is not "
                            "a finite number", ref.field)
