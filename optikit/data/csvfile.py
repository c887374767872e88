"""CSV files: the header (read when a spec is loaded) and the rows (read when a run opens the
source), whole or a chunk of lines at a time.

Rows are parsed by NumPy's C reader (``np.loadtxt``); when it refuses a block, or finds a value
that is not finite, the block is read again by Python's :mod:`csv` module, which names the bad
cell by row and column, or drops rows with empty cells under ``missing: drop``. Both readers
accept the same files, so the fast one decides nothing.
"""

from __future__ import annotations

import csv
import math
import warnings
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .files import check_file

__all__ = ["read_csv", "read_header", "csv_chunks", "MISSING"]

#: What ``missing`` may say about empty cells: refuse them, or drop their rows.
MISSING = ("error", "drop")


def read_header(file: Path, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file's first row; ``ValueError`` if it is not a readable CSV file."""
    check_file(file)
    with open(file, newline="", encoding="utf-8-sig") as handle:
        try:
            return _header(next(csv.reader(handle, delimiter=delimiter), []))
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        except csv.Error as exc:
            raise ValueError(f"malformed CSV: {exc}") from None


def _header(row: list[str]) -> list[str]:
    header = [h.strip() for h in row]
    if not header or not any(header):
        raise ValueError("empty file; expected a header row of column names")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise ValueError(f"column {dup!r} appears twice in the header")
    return header


def read_csv(file: Path, *, delimiter: str = ",", missing: str = "error",
             columns: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Read a numeric CSV file with a header row into ``(names, float matrix)``, of ``columns``
    only when given (in their order).

    Raises ``ValueError`` naming the row and column of a bad cell (quoting at most a short
    excerpt of it), a ragged row, a file without data rows, or one that is not a regular file.
    """
    header = read_header(file, delimiter)
    names = list(columns) if columns is not None else header
    blocks = list(csv_chunks(file, header, names, None, delimiter=delimiter, missing=missing))
    if not blocks:
        raise ValueError("no data rows after the header")
    return names, blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def csv_chunks(file: Path, header: list[str], names: list[str], rows: int | None, *, delimiter: str = ",",
               missing: str = "error") -> Iterator[np.ndarray]:
    """The data rows of ``file`` as float matrices of the columns ``names``, up to ``rows`` lines
    each (the whole file for ``None``); errors number lines as in the file, the header being 1."""
    check_file(file)
    use = [header.index(c) for c in names]
    if rows is None:  # the whole file, by name: NumPy reads it fastest so, its lines never held as strings
        block = _fast(file, header, use, delimiter, skip=1)
        if block is not None:
            if len(block):
                yield block
            return
    with open(file, newline="", encoding="utf-8-sig") as handle:
        try:
            next(handle, None)
            if rows is None:
                block = _careful(handle, 2, header, use, delimiter, missing)
                if len(block):
                    yield block
                return
            line_no = 2
            while lines := list(islice(handle, rows)):
                block = _fast(lines, header, use, delimiter)
                if block is None:
                    block = _careful(lines, line_no, header, use, delimiter, missing)
                line_no += len(lines)
                if len(block):
                    yield block
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None


def _fast(lines: Iterable[str] | Path, header: list[str], use: list[int], delimiter: str = ",",
          skip: int = 0) -> np.ndarray | None:
    """NumPy's parse of the lines, or ``None`` when it refuses them or finds a value that is not
    finite (the careful reader then says where)."""
    try:
        with warnings.catch_warnings():  # "input contained no data": a file of blank lines, said below
            warnings.simplefilter("ignore", UserWarning)
            out = np.loadtxt(lines, delimiter=delimiter, ndmin=2, comments=None, dtype=float, skiprows=skip,
                             encoding="utf-8-sig")
    except ValueError:
        return None
    if not len(out):
        return np.empty((0, len(use)))
    if out.shape[1] != len(header):
        return None
    out = out[:, use] if use != list(range(len(header))) else out
    return out if np.isfinite(out).all() else None


def _careful(lines: Iterable[str], first: int, header: list[str], use: list[int], delimiter: str,
             missing: str) -> np.ndarray:
    """The slow reader: the same rows, or an error naming the first bad row and cell."""
    out = []
    try:
        for line_no, row in enumerate(csv.reader(lines, delimiter=delimiter), start=first):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"row {line_no} has {len(row)} cells, the header has {len(header)}")
            if missing == "drop" and any(not row[j].strip() for j in use):
                continue
            out.append([_cell(row[j], line_no, header[j]) for j in use])
    except csv.Error as exc:
        raise ValueError(f"malformed CSV: {exc}") from None
    return np.array(out, dtype=float).reshape(-1, len(use))


def _cell(text: str, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        excerpt = text.strip()
        excerpt = excerpt if len(excerpt) <= 20 else excerpt[:17] + "..."
        hint = " (an empty cell; 'missing: drop' drops such rows)" if not excerpt else ""
        raise ValueError(f"row {row}, column {column!r}: {excerpt!r} is not a number{hint}") from None
    if not math.isfinite(value):
        raise ValueError(f"row {row}, column {column!r}: {text.strip()!r} is not a finite number")
    return value
