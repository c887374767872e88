"""Data sources: where the rows come from, read when a run opens them.

A spec names its data with a :class:`DataRef` (checked, header read, no rows); :func:`open_source`
turns it into a :class:`DataSource` (in memory, or streamed a chunk at a time); :func:`from_arrays`
wraps columns handed over from Python (a mapping of arrays, a 2-D array with names, or a pandas
DataFrame).
"""

from __future__ import annotations

from typing import Any, Collection

from .kinds import FILE_KINDS, data_ref, open_source, open_validation
from .ref import KINDS, DataError, DataRef
from .sampling import batches, buffered_batches, steps_per_epoch
from .source import ArraySource, DataSource, check_columns, gather
from .split import split_source
from .stream import FileSource, StreamSource
from .vectors import VectorColumns, group_columns, vector_inputs, with_vectors

__all__ = ["DataRef", "DataError", "DataSource", "ArraySource", "FileSource", "StreamSource", "KINDS", "FILE_KINDS",
           "open_source", "open_validation", "from_arrays", "data_ref", "check_columns", "gather", "batches", "steps_per_epoch", "buffered_batches",
           "split_source", "VectorColumns", "group_columns", "vector_inputs", "with_vectors"]


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
