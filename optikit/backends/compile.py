"""From a spec to a compiled :class:`Problem`: derive, open the data, compile with a backend."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from ..data import DataError, DataSource, VectorColumns, vector_inputs, from_arrays, open_source, open_validation, split_source
from ..errors import SpecError, did_you_mean
from ..spec import Spec
from ..symbolic import symbolic_problem
from .base import Backend
from .problem import Problem
from .streaming import evaluator_for

__all__ = ["Data", "compile_problem", "open_data", "open_split", "find_backend"]

#: What ``data=`` accepts: a mapping of column names to 1-D arrays, or a data source.
Data = Mapping[str, Any] | DataSource


@contextmanager
def _located(spec: Spec) -> Iterator[None]:
    """Data errors found while a source is opened or read, placed at the spec's field that named
    the data; errors in ``data=`` name the keyword and stay as they are."""
    try:
        yield
    except DataError as exc:
        if exc.from_keyword:
            raise
        raise spec.error(exc.message, *exc.path, hint=exc.hint) from None


def open_data(spec: Spec, data: Data | None = None) -> DataSource | None:
    """The source of a spec's rows: ``data`` handed over from Python, else what the spec's ``data``
    section names (its rows are read when first used); ``None`` for an objective without data."""
    if data is not None:
        if not spec.used_columns:
            raise DataError(f"the {'model' if spec.model else 'objective'} uses no data column, so there is nothing "
                            "to take from data=", ("data=",), hint="leave data= out")
        source = from_arrays(data, only=spec.columns)
        if spec.data is not None and spec.data.options.get("vectors"):  # a DataFrame of the file's columns, say
            source = _grouped(spec, source, ("data=",))
        missing = [c for c in spec.used_columns if c not in source.columns]
        if missing:
            raise DataError(f"no column {missing[0]!r}, which the spec uses (columns given: "
                            f"{', '.join(source.columns)})", ("data=",), hint=did_you_mean(missing[0], source.columns))
        return source
    if spec.data is not None:
        with _located(spec):
            return open_source(spec.data)
    if spec.model is not None:
        raise spec.error("the spec has no 'data' section and no data was given", "data", key=True,
                         hint="add a 'data' section, or pass the columns: optikit.run(spec, data={...})")
    return None


def _held_out(spec: Spec, data: Data) -> DataSource:
    """Validation rows handed over from Python: the columns the loss reads, checked like ``data=``."""
    source = _grouped(spec, from_arrays(data, keyword="validation", only=spec.columns), ("validation=",))
    missing = [c for c in spec.used_columns if c not in source.columns]
    if missing:
        raise DataError(f"no column {missing[0]!r}, which the spec uses (columns given: {', '.join(source.columns)})",
                        ("validation=",), hint=did_you_mean(missing[0], source.columns))
    return source


def _grouped(spec: Spec, source: DataSource, path: tuple = ("data", "validation")) -> DataSource:
    """``source`` (a validation source, or rows from Python) with the spec's vector inputs
    (``vectors:``) stacked from its columns; a member it lacks is an error at ``path``."""
    groups = spec.data.options.get("vectors") if spec.data is not None else None
    if not groups or any(name in source.columns for name in groups):
        return source
    for name, members in groups.items():
        absent = [m for m in members if m not in source.columns]
        if absent:
            raise DataError(f"no column {absent[0]!r}, which the vector input {name!r} is made of (columns: "
                            f"{', '.join(source.columns)})", path)
    return VectorColumns(source, groups)


def _scalar_columns(spec: Spec, used: tuple[str, ...], source: DataSource, keyword: bool) -> None:
    """Refuse a vector input where a problem without sums reads one number per row."""
    vectors = [c for c in vector_inputs(source) if c in used]
    if vectors:
        what = "model" if spec.model else "objective"
        message = (f"{vectors[0]!r} is a vector input (a 2-D array, or several columns), but the {what} reads it "
                   "as one number per row")
        hint = f"use it inside sum() or dot(), e.g. dot(w, {vectors[0]}) with a parameter w: {{shape: N, init: 0.0}}"
        if keyword:
            raise DataError(message, ("data=", vectors[0]), hint=hint)
        raise spec.error(message, what, hint=hint)


def find_backend(name: str, backends: Mapping[str, Any]) -> Backend:
    """An instance of the backend registered as ``name`` (``backends``: the registry's table)."""
    entry = backends.get(name)
    if entry is None:
        raise SpecError(f"unknown backend {name!r}; registered: {', '.join(sorted(backends))}", field="--backend / backend=",
                        hint=did_you_mean(name, backends) or "see 'optikit plugins'")
    return entry.obj()


def open_split(spec: Spec, data: Data | None = None, validation: Data | None = None
               ) -> tuple[DataSource | None, DataSource | None]:
    """The training and held-out sources of a run: ``data`` (or the spec's own data, split as its
    ``split`` says) and ``validation`` (or the spec's validation source, if any)."""
    source = open_data(spec, data)
    with _located(spec):
        options = spec.data.options if data is None and spec.data is not None else {}
        if validation is not None:
            return source, _held_out(spec, validation)
        if options.get("split") is not None and source is not None:
            return split_source(source, *options["split"])
        if options.get("validation") is not None:
            return source, _grouped(spec, open_validation(options["validation"]))
    return source, None


def compile_problem(spec: Spec, losses: Mapping[str, str], backend: Backend, *, data: Data | None = None,
                    use_hand_gradient: bool = False, validation: Data | None = None) -> Problem:
    """Derive ``spec``'s problem (``losses``: named losses as expression text) and compile it with
    ``backend`` against its data (and ``validation``, held-out rows from Python, if given)."""
    symbolic = symbolic_problem(spec, losses, use_hand_gradient=use_hand_gradient)
    source, held_out = open_split(spec, data, validation)
    if symbolic.vectors is None and source is not None:
        _scalar_columns(spec, symbolic.columns, source, data is not None)
    with _located(spec):
        buffer = spec.data.options.get("shuffle_buffer") if spec.data is not None else None
        held = evaluator_for(symbolic, held_out, backend) if held_out is not None else None
        return Problem(symbolic, evaluator_for(symbolic, source, backend, buffer), source, backend,
                       validation=held, validation_source=held_out)
