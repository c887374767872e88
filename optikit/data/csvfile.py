"""Data columns (inline or from a CSV file next to the spec) and the batches a run draws from them."""

from __future__ import annotations

import csv
import math
import re
import stat
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

__all__ = ["read_csv", "read_csv_spec", "check_columns", "batches", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 256 * 1024 * 1024
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class _Errors(Protocol):
    path: Path | None

    def err(self, message: str, path: tuple, hint: str | None = None, key: bool = False) -> Exception: ...


def check_columns(columns: dict[str, np.ndarray], where: _Errors) -> None:
    """Every column non-empty and of one length."""
    if not columns:
        raise where.err("no data columns", ("data",))
    lengths = {name: len(col) for name, col in columns.items()}
    first_name, first_len = next(iter(lengths.items()))
    for name, n in lengths.items():
        if n == 0:
            raise where.err("column is empty", ("data", name))
        if n != first_len:
            raise where.err(f"column has {n} values but {first_name!r} has {first_len}; columns must be of one length",
                            ("data", name))


def read_csv_spec(section: dict[str, Any], where: _Errors) -> dict[str, np.ndarray]:
    """The columns named by a spec's ``data: {csv: path, columns: [...]}`` section."""
    from .. import expr

    ref = section["csv"]
    if not isinstance(ref, str) or not ref.strip():
        raise where.err("expected a file path", ("data", "csv"))
    if _URL.match(ref):
        raise where.err("URLs are not read; download the file and name its path", ("data", "csv"))
    base = (where.path.parent if where.path is not None else Path.cwd()).resolve()
    file = (base / ref).resolve()
    if not file.is_relative_to(base):  # a stranger's spec may not read files elsewhere (docs/security.md)
        raise where.err("data files must be in the spec's folder or below it", ("data", "csv"),
                        hint="copy the file next to the spec and name it by a relative path")
    try:
        header, rows = read_csv(file)
    except ValueError as exc:
        raise where.err(f"{ref}: {exc}", ("data", "csv")) from None
    wanted = section.get("columns")
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
            raise where.err("expected a list of column names", ("data", "columns"))
        for i, name in enumerate(wanted):
            if name not in header:
                raise where.err(f"{ref} has no column {name!r} (columns: {', '.join(header)})", ("data", "columns", i))
    names = wanted or header
    for name in names:
        try:
            expr.check_name(name, what="data column")
        except Exception as exc:  # an ExpressionError; re-placed at the csv field
            raise where.err(f"{ref}: column {name!r}: {getattr(exc, 'message', exc)}", ("data", "csv")) from None
    out = {name: rows[:, header.index(name)].copy() for name in names}
    check_columns(out, where)
    return out


def read_csv(file: Path) -> tuple[list[str], np.ndarray]:
    """Read a numeric CSV file with a header row into ``(names, float matrix)``.

    Raises ``ValueError`` naming the row and column of a bad cell (quoting at most a short
    excerpt of it), a ragged row, or a file that is not a regular file.
    """
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
    with open(file, newline="", encoding="utf-8-sig") as handle:
        try:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            if not header or not any(header):
                raise ValueError("empty file; expected a header row of column names")
            if len(set(header)) != len(header):
                dup = next(h for h in header if header.count(h) > 1)
                raise ValueError(f"column {dup!r} appears twice in the header")
            rows = []
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise ValueError(f"row {line_no} has {len(row)} cells, the header has {len(header)}")
                rows.append([_cell(c, line_no, header[j]) for j, c in enumerate(row)])
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        except csv.Error as exc:
            raise ValueError(f"malformed CSV: {exc}") from None
    if not rows:
        raise ValueError("no data rows after the header")
    return header, np.array(rows, dtype=float)


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
