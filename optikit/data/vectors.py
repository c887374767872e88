"""Vector inputs: several columns of a file read as one ``rows x n`` array (``vectors: {x: "f*"}``).

A spec names the members by a pattern over the header (``fnmatch`` rules: ``"f*"``, members in
header order; the target and sigma columns are never matched) or by a list of names and patterns
(``[mean_*, se_*]``). The grouping is a view over any source, in memory or streamed: each chunk or
batch the source gives gains the stacked array, so sampling, splitting and streaming need to know
nothing of vectors. Arrays handed over from Python are vector inputs when they are 2-D.
"""

from __future__ import annotations

import fnmatch
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .. import expr
from ..errors import ExpressionError
from .ref import DataError, DataRef
from .source import DataSource

__all__ = ["with_vectors", "VectorColumns", "group_columns", "vector_inputs"]


def with_vectors(ref: DataRef, value: Any, exclude: Sequence[str] = ()) -> DataRef:
    """``ref`` with the vector inputs of a spec's ``vectors:`` mapping resolved against its columns.

    ``exclude``: the target and sigma columns, which a pattern never matches and a list may not name
    (a model that read its target through a vector would fit it perfectly)."""
    path = ("data", "vectors")
    if not isinstance(value, Mapping) or not value:
        raise DataError('expected a mapping of vector names to a list of columns or a pattern, such as x: "f*"', path)
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in value.items():
        where = (*path, name)
        if not isinstance(name, str) or name in ref.columns:
            raise DataError(f"vector name {name!r} is already a column of the data; choose another name", where)
        try:
            expr.check_name(name, what="vector input")
        except ExpressionError as exc:
            raise DataError(exc.message, where, hint=exc.hint) from None
        patterns = [members] if isinstance(members, str) else members
        if not isinstance(patterns, list) or not patterns or not all(isinstance(m, str) for m in patterns):
            raise DataError('expected a column pattern such as "f*", or a list of columns and patterns', where)
        found: dict[str, None] = {}  # ordered, and a constant-time test of membership
        known = set(ref.columns)
        for i, pattern in enumerate(patterns):
            at = where if isinstance(members, str) else (*where, i)
            glob = any(ch in pattern for ch in "*?[")
            if not glob and pattern in exclude:
                raise DataError(f"{pattern!r} is the target or sigma column; a model input cannot be it", at)
            if glob:
                matched = [c for c in ref.columns if fnmatch.fnmatchcase(c, pattern) and c not in exclude]
            else:
                matched = [pattern] if pattern in known else []
            if not matched:
                raise DataError(f"no column {'matches' if glob else 'named'} "
                                f"{pattern!r} (columns: {', '.join(ref.columns)})", at)
            twice = [c for c in matched if c in found]
            if twice:
                raise DataError(f"column {twice[0]!r} is in the vector twice", at)
            found.update(dict.fromkeys(matched))
        groups[name] = tuple(found)
    return DataRef(ref.kind, ref.columns, ref.path, MappingProxyType({**ref.options, "vectors": MappingProxyType(groups)}))


def group_columns(columns: Mapping[str, np.ndarray], groups: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """``columns`` with each group's members stacked side by side as one read-only 2-D array."""
    out = dict(columns)
    for name, members in groups.items():
        stacked = np.column_stack([np.asarray(columns[m], dtype=float) for m in members])
        stacked.flags.writeable = False
        out[name] = stacked
    return out


class VectorColumns:
    """A source whose chunks and batches also hold the stacked vector inputs ``groups``."""

    def __init__(self, source: DataSource, groups: Mapping[str, Sequence[str]]) -> None:
        self.source = source
        self.groups = {k: tuple(v) for k, v in groups.items()}
        # read whole at once (by take) a source keeps its stacked arrays, so that each epoch does not stack again
        self._whole: dict[str, np.ndarray] | None = None

    def __getattr__(self, name: str) -> Any:  # streaming, chunk_rows, ...: the wrapped source's
        return getattr(self.source, name)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.source.columns, *self.groups)

    @property
    def n_rows(self) -> int:
        return self.source.n_rows

    def chunks(self, rows: int) -> Iterator[Mapping[str, np.ndarray]]:
        for chunk in self.source.chunks(rows):
            yield group_columns(chunk, self.groups)

    def take(self, indices: np.ndarray | None = None) -> Mapping[str, np.ndarray]:
        if indices is None:
            if self._whole is None:
                self._whole = group_columns(self.source.take(None), self.groups)
            return self._whole
        return group_columns(self.source.take(indices), self.groups)

    def fingerprint(self, columns: Sequence[str] | None = None) -> str:
        if columns is None:
            return self.source.fingerprint()
        members = [m for c in columns for m in self.groups.get(c, (c,))]
        return self.source.fingerprint(list(dict.fromkeys(members)))

    def __repr__(self) -> str:
        return f"VectorColumns({self.source!r}; {', '.join(f'{k}={len(v)}' for k, v in self.groups.items())})"


def vector_inputs(source: DataSource) -> tuple[str, ...]:
    """The columns of ``source`` that are vector inputs (2-D), as far as is known without reading rows."""
    if isinstance(source, VectorColumns):
        return (*source.groups, *vector_inputs(source.source))
    arrays = getattr(source, "_arrays", None)  # an ArraySource holds its arrays already
    return tuple(k for k, v in arrays.items() if v.ndim == 2) if arrays is not None else ()
