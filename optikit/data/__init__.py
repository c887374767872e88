"""Data sources: where the rows come from, read when a run opens them.

A spec names its data with a :class:`DataRef` (checked, header read, no rows); :func:`open_source`
turns it into a :class:`DataSource`; :func:`from_arrays` wraps columns handed over from Python.
"""

from __future__ import annotations

from typing import Any, Collection

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


def from_arrays(columns: Any, keyword: str = "data", only: Collection[str] | None = None) -> DataSource:
    """A source over columns handed over from Python: a mapping of names to 1-D arrays, anything
    mapping-like (a pandas DataFrame: ``keys()`` and ``[name]``), or a source already. ``only``
    keeps just the columns named there (the others are neither copied nor checked); errors name
    the keyword, e.g. ``data=['x']``."""
    if isinstance(columns, DataSource):
        return columns
    if not (callable(getattr(columns, "keys", None)) and hasattr(columns, "__getitem__")):
        raise DataError(f"expected a mapping of column names to arrays (a dict, or a pandas DataFrame), got "
                        f"{type(columns).__name__}", (f"{keyword}=",))
    names = [k for k in columns.keys() if only is None or k in only]
    return ArraySource({name: columns[name] for name in names}, (f"{keyword}=",))
