"""CSV files: the path rules of docs/security.md, the header (read when a spec is loaded) and the
rows (read when a run opens the source)."""

from __future__ import annotations

import csv
import math
import re
import stat
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .. import expr
from ..errors import ExpressionError
from .ref import DataError, DataRef
from .source import ArraySource

__all__ = ["csv_ref", "CsvSource", "read_csv", "read_header", "resolve_path", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 256 * 1024 * 1024
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
FIELD = ("data", "csv")


def resolve_path(ref: Any, base: Path | None, field: tuple[Any, ...] = FIELD) -> Path:
    """The file a spec names, which must lie in the spec's folder or below it (docs/security.md)."""
    if not isinstance(ref, str) or not ref.strip():
        raise DataError("expected a file path", field)
    if _URL.match(ref):
        raise DataError("URLs are not read; download the file and name its path", field)
    base = (base if base is not None else Path.cwd()).resolve()
    file = (base / ref).resolve()
    if not file.is_relative_to(base):  # a stranger's spec may not read files elsewhere
        raise DataError("data files must be in the spec's folder or below it", field,
                        hint="copy the file next to the spec and name it by a relative path")
    return file


def csv_ref(section: Mapping[str, Any], base: Path | None) -> DataRef:
    """A :class:`DataRef` for ``data: {csv: path, columns: [...]}``: the path checked and the header
    read, not the rows."""
    ref = section["csv"]
    file = resolve_path(ref, base)
    try:
        header = read_header(file)
    except ValueError as exc:
        raise DataError(f"{ref}: {exc}", FIELD) from None
    wanted = section.get("columns")
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
            raise DataError("expected a list of column names", ("data", "columns"))
        for i, name in enumerate(wanted):
            if name not in header:
                raise DataError(f"{ref} has no column {name!r} (columns: {', '.join(header)})", ("data", "columns", i))
    names = tuple(wanted or header)
    for name in names:
        try:
            expr.check_name(name, what="data column")
        except ExpressionError as exc:
            raise DataError(f"{ref}: column {name!r}: {exc.message}", FIELD) from None
    return DataRef("csv", names, file, {"file": ref})


class CsvSource(Mapping[str, np.ndarray]):
    """The columns of a CSV file, its rows read in full when first needed (not when it is opened)."""

    def __init__(self, ref: DataRef) -> None:
        self.ref = ref
        self._data: ArraySource | None = None

    @property
    def data(self) -> ArraySource:
        """The rows, read now if they have not been."""
        if self._data is None:
            self._data = self._read()
        return self._data

    def _read(self) -> ArraySource:
        name = self.ref.options.get("file", str(self.ref.path))
        try:  # a column named when the spec was loaded may have gone since: read_csv says so
            names, rows = read_csv(self.ref.path, self.ref.columns)
        except ValueError as exc:
            raise DataError(f"{name}: {exc}", FIELD) from None
        return ArraySource({c: rows[:, i] for i, c in enumerate(names)}, FIELD)

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
        return f"CsvSource({str(self.ref.path)!r})"


def read_header(file: Path) -> list[str]:
    """The column names of a CSV file's first row; ``ValueError`` if it is not a readable CSV file."""
    _check_file(file)
    with open(file, newline="", encoding="utf-8-sig") as handle:
        try:
            return _header(next(csv.reader(handle), []))
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        except csv.Error as exc:
            raise ValueError(f"malformed CSV: {exc}") from None


def _check_file(file: Path) -> None:
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ValueError(f"no such file ({file})") from None
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file (devices, pipes and folders are not read)")
    if info.st_size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 2**20} MiB")


def _header(row: list[str]) -> list[str]:
    header = [h.strip() for h in row]
    if not header or not any(header):
        raise ValueError("empty file; expected a header row of column names")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise ValueError(f"column {dup!r} appears twice in the header")
    return header


def read_csv(file: Path, columns: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Read a numeric CSV file with a header row into ``(names, float matrix)``; with ``columns``
    only those cells are read, in that order (the others need not be numbers).

    Raises ``ValueError`` naming the row and column of a bad cell (quoting at most a short
    excerpt of it), a ragged row, or a file that is not a regular file.
    """
    _check_file(file)
    with open(file, newline="", encoding="utf-8-sig") as handle:
        try:
            reader = csv.reader(handle)
            header = _header(next(reader, []))
            names = list(columns) if columns is not None else header
            missing = [c for c in names if c not in header]
            if missing:
                raise ValueError(f"no column {missing[0]!r} (columns: {', '.join(header)})")
            wanted = [header.index(c) for c in names]
            rows = []
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise ValueError(f"row {line_no} has {len(row)} cells, the header has {len(header)}")
                rows.append([_cell(row[j], line_no, header[j]) for j in wanted])
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        except csv.Error as exc:
            raise ValueError(f"malformed CSV: {exc}") from None
    if not rows:
        raise ValueError("no data rows after the header")
    return names, np.array(rows, dtype=float)


def _cell(text: str, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        excerpt = text.strip()
        excerpt = excerpt if len(excerpt) <= 20 else excerpt[:17] + "..."
        raise ValueError(f"row {row}, column {column!r}: {excerpt!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"row {row}, column {column!r}: {text.strip()!r} is not a finite number")
    return value
