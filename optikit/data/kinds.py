"""A spec's ``data`` section for each kind of source: its options checked when the spec is loaded
(a file's header read, not its rows), the source made when a run opens it."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import numpy as np

from .. import expr
from ..errors import ExpressionError
from .csvfile import MISSING, csv_chunks, read_header
from .files import check_file, resolve_files, resolve_path
from .generate import generate, generate_ref
from .npyfile import check_rows, npy_header, npz_header, read_npy, read_npz
from .parquet import parquet_header, read_parquet
from .ref import DataError, DataRef
from .source import ArraySource, DataSource
from .stream import DEFAULT_CHUNK_ROWS, FileSource, StreamSource
from .vectors import VectorColumns

__all__ = ["FILE_KINDS", "data_ref", "open_source", "open_validation", "DEFAULT_MEMORY_BUDGET_MB"]

#: The file kinds, and the options each takes besides ``columns``, ``split`` and ``validation``.
FILE_KINDS = {"csv": ("delimiter", "missing", "stream", "chunk_rows", "shuffle_buffer", "memory_budget_mb"),
              "parquet": ("missing", "stream", "chunk_rows", "shuffle_buffer", "memory_budget_mb"),
              "npy": (), "npz": ()}
#: A file larger than this many MiB is streamed unless the spec says ``stream: false``.
DEFAULT_MEMORY_BUDGET_MB = 1024


def data_ref(kind: str, section: Mapping[str, Any], base: Path | None, inline: DataRef | None = None) -> DataRef:
    """The :class:`DataRef` of a file or ``generate`` section (or the ``split`` of ``inline`` data);
    errors name the field."""
    if inline is not None:
        return _with_split(inline, section)
    if kind == "generate":
        for key in section:
            if key not in ("generate", "split", "validation"):
                raise DataError(f"unknown key {key!r} next to 'generate' (the columns go inside it)", ("data", key))
        return _with_split(generate_ref(section["generate"]), section, base)
    for key in section:
        if key != kind and key not in ("columns", "split", "validation", *FILE_KINDS[kind]):
            raise DataError(f"unknown key {key!r} for {kind} data; keys: "
                            f"{', '.join((kind, 'columns', 'split', 'validation', *FILE_KINDS[kind]))}",
                            ("data", key))
    ref = section[kind]
    files = resolve_files(ref, base, ("data", kind), kind) if kind in ("csv", "parquet") else None
    file = files[0] if files else resolve_path(ref, base, ("data", kind))
    wanted = section.get("columns")
    if wanted is not None and (not isinstance(wanted, list) or not wanted or not all(isinstance(c, str) for c in wanted)):
        raise DataError("expected a list of column names", ("data", "columns"))
    options: dict[str, Any] = {"file": ref}
    try:
        if kind == "csv":
            delimiter = section.get("delimiter", ",")
            if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
                raise DataError("expected one character, such as ',' or ';' or '\\t'", ("data", "delimiter"))
            options["delimiter"] = delimiter
            header = read_header(file, delimiter)
        elif kind == "parquet":
            header = parquet_header(file)
        elif kind == "npy":
            header = npy_header(file, wanted)
        else:
            header = npz_header(file)
        for other in (files or [])[1:]:  # every file of a set offers the columns the first one names
            _same_columns(kind, other, header, wanted, options.get("delimiter", ","))
    except ValueError as exc:
        raise DataError(f"{ref}: {exc}", ("data", kind)) from None
    if files:
        options["files"] = tuple(files)
    for i, name in enumerate(wanted or ()):
        if name not in header:
            raise DataError(f"{ref} has no column {name!r} (columns: {', '.join(header)})", ("data", "columns", i))
    for name in wanted or header:
        try:
            expr.check_name(name, what="data column")
        except ExpressionError as exc:
            raise DataError(f"{ref}: column {name!r}: {exc.message}", ("data", kind),
                            hint="select usable columns with 'columns: [...]'") from None
    options["header"] = tuple(header)
    options.update(_stream_options(kind, section))
    return _with_split(DataRef(kind, tuple(wanted or header), file, MappingProxyType(options)), section, base)


def _same_columns(kind: str, file: Path, header: list[str], wanted: list[str] | None, delimiter: str) -> None:
    names = read_header(file, delimiter) if kind == "csv" else parquet_header(file)
    lacking = [c for c in (wanted or header) if c not in names]
    if lacking:
        raise ValueError(f"{file.name} has no column {lacking[0]!r} (columns: {', '.join(names)})")


def _whole(section: Mapping[str, Any], key: str, default: Any, low: float) -> Any:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
        raise DataError(f"expected a number >= {low}", ("data", key))
    return value


def _stream_options(kind: str, section: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "missing" in FILE_KINDS[kind]:
        missing = section.get("missing", "error")
        if missing not in MISSING:
            raise DataError(f"expected one of: {', '.join(MISSING)}", ("data", "missing"))
        out["missing"] = missing
    if "stream" in FILE_KINDS[kind]:
        stream = section.get("stream", "auto")
        if stream not in (True, False, "auto"):
            raise DataError("expected true, false or auto", ("data", "stream"))
        for key in ("chunk_rows", "shuffle_buffer"):
            out[key] = _whole(section, key, DEFAULT_CHUNK_ROWS, 1)
            if not isinstance(out[key], int):
                raise DataError("expected a whole number of rows", ("data", key))
        out.update(stream=stream,
                   memory_budget_mb=_whole(section, "memory_budget_mb", DEFAULT_MEMORY_BUDGET_MB, 1e-6))
    return out


def _within(path: tuple) -> tuple:
    """A path of a nested ``validation`` section, as a field of the spec."""
    return ("data", "validation", *path[1:])


def _with_validation(ref: DataRef, section: Mapping[str, Any], base: Path | None) -> DataRef:
    """``validation: {KIND: file, ...}``: a second source of held-out rows."""
    nested = section["validation"]
    kinds = [k for k in (*FILE_KINDS, "generate") if isinstance(nested, Mapping) and k in nested]
    if len(kinds) != 1 or "split" in nested or "validation" in nested:
        raise DataError(f"expected one source ({', '.join((*FILE_KINDS, 'generate'))}) without split or validation",
                        ("data", "validation"))
    try:
        held = data_ref(kinds[0], nested, base)
    except DataError as exc:
        raise DataError(exc.message, _within(exc.path), hint=exc.hint) from None
    return DataRef(ref.kind, ref.columns, ref.path, MappingProxyType({**ref.options, "validation": held}))


def open_validation(ref: DataRef) -> DataSource:
    """The source of a ``validation`` section; errors name its field."""
    try:
        return open_source(ref)
    except DataError as exc:
        raise DataError(exc.message, _within(exc.path), hint=exc.hint) from None


def _with_split(ref: DataRef, section: Mapping[str, Any], base: Path | None = None) -> DataRef:
    if "validation" in section:
        if "split" in section:
            raise DataError("give either a split or a validation source, not both", ("data", "validation"))
        return _with_validation(ref, section, base)
    if "split" not in section:
        return ref
    split = section["split"]
    if not isinstance(split, Mapping) or set(split) - {"validation", "seed"} or "validation" not in split:
        raise DataError("expected {validation: FRACTION, seed: N}", ("data", "split"))
    frac, seed = split["validation"], split.get("seed", 0)
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
        raise DataError("expected a fraction of the rows between 0 and 1", ("data", "split", "validation"))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError("expected a whole number >= 0", ("data", "split", "seed"))
    return DataRef(ref.kind, ref.columns, ref.path, MappingProxyType({**ref.options, "split": (float(frac), seed)}))


def _reader(ref: DataRef) -> Any:
    """``read(rows)`` for a file reference: its columns as mappings, a chunk at a time (the files
    of a set one after the other, in their sorted order)."""
    files = ref.options.get("files")
    if files:
        def read_all(rows: int | None) -> Iterator[Mapping[str, np.ndarray]]:
            for file in files:
                try:
                    # a csv file's own header: the files of a set may order their columns differently
                    header = read_header(file, ref.options["delimiter"]) if ref.kind == "csv" else ref.options["header"]
                    one = DataRef(ref.kind, ref.columns, file, MappingProxyType({**ref.options, "files": None,
                                                                                 "header": tuple(header)}))
                    yield from _reader(one)(rows)
                except ValueError as exc:  # name the file of the set the error is in
                    raise ValueError(f"{file.name}: {exc}") from None
        return read_all
    names, file = list(ref.columns), ref.path
    header = list(ref.options["header"])
    if ref.kind == "csv":
        def read(rows: int | None) -> Iterator[Mapping[str, np.ndarray]]:
            for block in csv_chunks(file, header, names, rows, delimiter=ref.options["delimiter"],
                                    missing=ref.options["missing"]):
                yield {c: block[:, j] for j, c in enumerate(names)}
        return read
    if ref.kind == "parquet":
        return partial(read_parquet, file, names, missing=ref.options["missing"])
    if ref.kind == "npy":
        return lambda rows: read_npy(file, header, names)
    return lambda rows: read_npz(file, names)


def streams(ref: DataRef) -> bool:
    """Whether a run reads this file a chunk at a time: ``stream: true``, or ``auto`` and the file
    is larger than ``memory_budget_mb``."""
    stream = ref.options.get("stream", False)
    if stream == "auto":
        try:
            size = sum(check_file(f) for f in ref.options.get("files") or [ref.path])
        except ValueError:
            return False  # reading it reports the problem
        return size > ref.options["memory_budget_mb"] * 2**20
    return bool(stream)


def open_source(ref: DataRef) -> DataSource:
    """The source a :class:`DataRef` names, with its vector inputs; a file's rows are read when first used."""
    source = _open(ref)
    return VectorColumns(source, ref.options["vectors"]) if ref.options.get("vectors") else source


def _open(ref: DataRef) -> DataSource:
    if ref.kind == "inline":
        return ArraySource(ref.options["values"], ref.field)
    if ref.kind == "generate":
        return generate(ref)
    if ref.kind not in FILE_KINDS:
        raise DataError(f"cannot open data of kind {ref.kind!r}", ref.field)
    read = _reader(ref)
    if ref.kind in ("npy", "npz"):
        def checked(rows: int | None) -> Iterator[Mapping[str, np.ndarray]]:
            for block in read(rows):
                check_rows(ref, block)
                yield block
        return FileSource(ref, checked)
    if streams(ref):
        return StreamSource(ref, read, ref.options["chunk_rows"])
    return FileSource(ref, read)
