"""Data sources: where the rows come from, read when a run opens them.

A spec names its data with a :class:`DataRef` (checked, header read, no rows); :func:`open_source`
turns it into a :class:`DataSource`; :func:`from_arrays` wraps columns handed over from Python.
"""

from __future__ import annotations

from typing import Any, Mapping

from .csvfile import CsvSource, csv_ref
from .ref import DataError, DataRef
from .sampling import batches
from .source import ArraySource, DataSource, check_columns

__all__ = ["DataRef", "DataError", "DataSource", "ArraySource", "CsvSource", "open_source", "from_arrays",
           "csv_ref", "check_columns", "batches"]


def open_source(ref: DataRef) -> DataSource:
    """The source a :class:`DataRef` names; a file's rows are read when first used."""
    if ref.kind == "inline":
        return ArraySource(ref.options["values"], ref.field)
    if ref.kind == "csv":
        return CsvSource(ref)
    raise DataError(f"cannot open data of kind {ref.kind!r}", ref.field)


def from_arrays(columns: Mapping[str, Any] | Any, keyword: str = "data") -> DataSource:
    """A source over columns handed over from Python (a mapping of names to 1-D arrays, or a
    source already); errors name the keyword, e.g. ``data['x']``."""
    if isinstance(columns, DataSource) and not isinstance(columns, Mapping):
        return columns
    return ArraySource(columns, (f"{keyword}=",))
