"""Data sources: where the rows come from, read when a run opens them.

A spec names its data with a :class:`DataRef` (checked, header read, no rows); :func:`open_source`
turns it into a :class:`DataSource` (in memory, or streamed a chunk at a time); :func:`from_arrays`
wraps columns handed over from Python (a mapping of arrays, a 2-D array with names, or a pandas
DataFrame).
"""

from __future__ import annotations

from typing import Any, Mapping

from .kinds import FILE_KINDS, data_ref, open_source, open_validation
from .ref import KINDS, DataError, DataRef
from .sampling import batches, buffered_batches
from .source import ArraySource, DataSource, check_columns
from .split import split_source
from .stream import FileSource, StreamSource

__all__ = ["DataRef", "DataError", "DataSource", "ArraySource", "FileSource", "StreamSource", "KINDS", "FILE_KINDS",
           "open_source", "open_validation", "from_arrays", "data_ref", "check_columns", "batches", "buffered_batches",
           "split_source"]


def from_arrays(columns: Mapping[str, Any] | Any, keyword: str = "data") -> DataSource:
    """A source over columns handed over from Python: a mapping of names to 1-D arrays, a pandas
    DataFrame (its numeric columns by name), or a source already; errors name the keyword, e.g.
    ``data['x']``."""
    if isinstance(columns, DataSource) and not isinstance(columns, Mapping):
        return columns
    if not isinstance(columns, Mapping) and hasattr(columns, "columns") and hasattr(columns, "to_numpy"):
        # a DataFrame, recognised by its shape so that pandas is never imported here
        names = list(columns.columns)
        if not all(isinstance(n, str) for n in names):
            raise DataError("DataFrame column names must be strings", (f"{keyword}=",))
        converted = {}
        for n in names:
            try:
                converted[n] = columns[n].to_numpy(dtype=float, na_value=float("nan"))
            except (TypeError, ValueError) as exc:
                raise DataError(f"expected numbers ({str(exc)[:60]})", (f"{keyword}=", n)) from None
        columns = converted
    return ArraySource(columns, (f"{keyword}=",))
