"""Where a spec's data is: a :class:`DataRef` names it; opening it is a run's business."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import SpecError, dotted

__all__ = ["DataRef", "DataError", "KINDS"]

#: The kinds of data a spec can name.
KINDS = ("inline", "csv", "parquet", "npy", "npz", "generate")


class DataError(SpecError):
    """Data that cannot be used, located by ``path``: the field of the spec's ``data`` section (or
    the ``data=`` keyword) it came from; the caller who knows the file places it there."""

    def __init__(self, message: str, path: tuple[Any, ...] = ("data",), *, hint: str | None = None) -> None:
        self.path = tuple(path)
        keyword = bool(self.path) and str(self.path[0]).endswith("=")  # data handed over from Python
        field = str(self.path[0]) + "".join(f"[{p!r}]" for p in self.path[1:]) if keyword else dotted(self.path)
        super().__init__(message, field=field, hint=hint)

    @property
    def from_keyword(self) -> bool:
        """Whether the data came from a keyword argument (then no spec line is to blame)."""
        return bool(self.path) and str(self.path[0]).endswith("=")


@dataclass(frozen=True)
class DataRef:
    """A spec's ``data`` section, validated but not read: its ``kind``, the file (if any), the
    column names (from the header for a file) and the kind's options.

    Inline data is part of the spec's text, so its numbers travel in ``options["values"]`` as
    tuples; a file's rows are read only when a run opens it (:func:`optikit.data.open_source`).
    """

    kind: str
    columns: tuple[str, ...]
    path: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown data kind {self.kind!r}; kinds: {', '.join(KINDS)}")

    @property
    def n_rows(self) -> int | None:
        """Rows of inline data; ``None`` for a file, whose rows are not counted until it is read."""
        values = self.options.get("values")
        return len(next(iter(values.values()))) if values else None

    @property
    def field(self) -> tuple[str, ...]:
        """The spec field that names this data, for errors found when it is opened."""
        return ("data",) if self.kind == "inline" else ("data", self.kind)
