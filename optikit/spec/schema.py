"""A JSON Schema of the spec format, for editors (the YAML language server) and other tools.

Built from the loader's own declarations: the top-level keys (:data:`~optikit.spec.model.TOP_KEYS`),
the run settings (:func:`optikit.settings.run_settings`) and the data kinds
(:data:`optikit.data.ref.KINDS`); ``tests/test_schema.py`` holds the two in step. Given the
registered optimizers, the ``optimizer`` section lists each one's hyperparameters, so an editor
completes them and flags a misspelled one.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..data.kinds import FILE_KINDS
from ..settings import run_settings
from .model import TOP_KEYS

__all__ = ["spec_schema", "SCHEMA_ID", "FILE_OPTIONS"]

SCHEMA_ID = "https://optikit.invalid/spec.schema.json"
_INT1 = {"type": "integer", "minimum": 1}
#: The schema of each option a file kind may take (which kind takes which: ``FILE_KINDS``).
FILE_OPTIONS = {
    "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "description": "the separator, e.g. ';'"},
    "missing": {"enum": ["error", "drop"], "description": "an empty cell is an error (default), or its row is dropped"},
    "stream": {"enum": [True, False, "auto"], "description": "read in chunks (auto: past memory_budget_mb)"},
    "chunk_rows": {**_INT1, "description": "rows per chunk when streamed"},
    "shuffle_buffer": {**_INT1, "description": "rows shuffled together when a streamed file is sampled"},
    "memory_budget_mb": {"type": "number", "exclusiveMinimum": 0,
                         "description": "files larger than this are streamed (MiB)"},
}
_COLUMNS = {"type": "array", "items": {"type": "string"}, "minItems": 1,
            "description": "the columns to read (default: every column of the file)"}
_SPLIT = {"type": "object", "required": ["validation"], "additionalProperties": False,
          "properties": {"validation": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                         "seed": {"type": "integer", "minimum": 0}},
          "description": "hold out a fraction of the rows for the validation loss"}
_GENERATE = {"type": "object", "required": ["rows", "seed", "columns"], "additionalProperties": False,
             "properties": {"rows": _INT1, "seed": {"type": "integer", "minimum": 0},
                            "columns": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}},
             "description": "seeded synthetic rows: column name -> expression with uniform(a, b), normal(m, s), ..."}

_NUMBER = {"type": "number"}
_VALUE = {"type": ["number", "boolean", "string", "null", "array"]}
_SETTING = {"count": {"type": ["integer", "null"], "minimum": 1}, "seed": {"type": ["integer", "null"], "minimum": 0},
            "flag": {"type": ["boolean", "null"]}, "positive": {"type": ["number", "null"], "exclusiveMinimum": 0},
            "schedule": {"oneOf": [{"type": "string"}, {"type": "null"},
                                   {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}},
                                    "additionalProperties": _VALUE}]}}

_DOCS = {
    "name": "the spec's name, shown in reports", "description": "free text",
    "model": "the model's prediction as an expression of parameters and input columns (fit data)",
    "objective": "a function of the parameters to minimize (no data)",
    "target": "the data column the model is fitted to (default y)",
    "sigma": "the column of per-row standard deviations of the target: COLUMN, or {column: COLUMN, absolute: true}",
    "parameters": "name: initial value, or name: {init, min, max, shape}",
    "data": "inline columns (name: [numbers]) or a file ({csv: file.csv})",
    "loss": "a named loss (mse, mae, huber, ...) or an expression of 'model' and the columns",
    "optimizer": "the optimizer's name and its hyperparameters and run settings",
    "predict": "input values to predict at after training",
    "gradient": "hand-written training gradient, one expression per parameter (checked against SymPy's)",
    "check": "hand-written gradients to check, and the points to check them at",
}


def _hyper_type(default: Any) -> dict[str, Any]:
    if isinstance(default, bool):
        return {"type": "boolean"}
    if isinstance(default, (int, float)):
        return {"type": "number"}
    if isinstance(default, str):
        return {"type": "string"}
    if isinstance(default, (tuple, list)):
        return {"type": "array"}
    return _VALUE


def _optimizer(optimizers: Mapping[str, Sequence[tuple[str, Any, bool]]] | None) -> dict[str, Any]:
    settings = {s.name: {**_SETTING[s.kind], "description": s.doc} for s in run_settings()}
    if optimizers is None:  # unknown optimizers: any hyperparameter of an accepted type
        section = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, **settings},
                   "additionalProperties": _VALUE}
        return {"oneOf": [{"type": "string"}, section]}
    choices = []
    for name, hypers in sorted(optimizers.items()):
        props = {h: {**_hyper_type(default), "description": f"default {default!r}" if not required else "required"}
                 for h, default, required in hypers}
        choices.append({"type": "object", "required": ["name", *(h for h, _, r in hypers if r)],
                        "properties": {"name": {"const": name}, **settings, **props}, "additionalProperties": False})
    return {"oneOf": [{"type": "string", "enum": sorted(optimizers)}, *choices]}


def _data(nested: bool = False) -> dict[str, Any]:
    """Inline columns, a file of each kind with its options, or generated rows; with a ``split`` or
    a second, ``validation`` source (``nested``: a file or generated rows, without a further split)."""
    vectors = {"type": "object", "minProperties": 1, "description": "vector inputs: name -> a column pattern such as "
               "\"f*\", or a list of columns and patterns", "additionalProperties": {"oneOf": [
                   {"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}}
    # a validation source takes the vector inputs of the data it validates
    extra = {} if nested else {"split": _SPLIT, "validation": {"$ref": "#/$defs/source"}, "vectors": vectors}
    inline = {"type": "object", "minProperties": 1, "properties": extra,
              "additionalProperties": {"type": "array", "items": _NUMBER, "minItems": 1},
              "not": {"anyOf": [{"required": [k]} for k in (*FILE_KINDS, "generate")]},
              "description": "columns of numbers, inline"}
    files = [{"type": "object", "required": [k], "additionalProperties": False,
              "properties": {k: {"type": "string", "description": f"a {k} file, relative to the spec"},
                             "columns": _COLUMNS, **{o: FILE_OPTIONS[o] for o in options}, **extra}}
             for k, options in FILE_KINDS.items()]
    generated = {"type": "object", "required": ["generate"], "additionalProperties": False,
                 "properties": {"generate": _GENERATE, **extra}}
    return {"oneOf": [*([] if nested else [inline]), *files, generated]}


def spec_schema(optimizers: Mapping[str, Sequence[tuple[str, Any, bool]]] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec; ``optimizers``: name -> ``(hyperparameter, default,
    required)`` for each registered optimizer (``None``: any optimizer, any hyperparameter)."""
    bounded = {"type": "object", "required": ["init"], "additionalProperties": False,
               "properties": {"init": {"oneOf": [_NUMBER, {"type": "array", "items": _NUMBER, "minItems": 1}]},
                              "min": {"type": ["number", "null"]}, "max": {"type": ["number", "null"]},
                              "shape": {"oneOf": [{"type": "integer", "minimum": 1},
                                                  {"type": "array", "items": {"type": "integer", "minimum": 1},
                                                   "minItems": 1, "maxItems": 1}],
                                        "description": "elements of a vector parameter (shown as w[0], w[1], ...)"}},
               # a list of initial values is a vector's
               "if": {"properties": {"init": {"type": "array"}}, "required": ["init"]}, "then": {"required": ["shape"]}}
    expressions = {"type": "object", "additionalProperties": {"type": "string"}}
    props: dict[str, Any] = {
        "name": {"type": "string"}, "description": {"type": "string"}, "model": {"type": "string"},
        "objective": {"type": "string"}, "target": {"type": "string"}, "loss": {"type": "string"},
        "sigma": {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": False, "required": ["column"],
                                                  "properties": {"column": {"type": "string"},
                                                                 "absolute": {"type": "boolean"}}}]},
        "parameters": {"type": "object", "minProperties": 1, "additionalProperties": {"oneOf": [_NUMBER, bounded]}},
        "data": _data(), "optimizer": _optimizer(optimizers),
        "predict": {"type": "object", "additionalProperties": {
            "oneOf": [_NUMBER, {"type": "array", "items": _NUMBER, "minItems": 1}]}},
        "gradient": expressions,
        "check": {"type": "object", "additionalProperties": False, "properties": {
            "gradient": expressions,
            "at": {"type": "array", "items": {"type": "object", "additionalProperties": _NUMBER}}}},
    }
    assert set(props) == set(TOP_KEYS), "every top-level key of the loader has a schema here"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, "title": "optikit spec",
            "$defs": {"source": _data(nested=True)},
            "type": "object", "required": ["parameters", "optimizer"],
            "oneOf": [{"required": ["model"]}, {"required": ["objective"]}],
            "properties": {k: {**props[k], "description": _DOCS[k]} for k in TOP_KEYS}, "additionalProperties": False}
