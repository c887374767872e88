"""The sections a spec file and its overrides share: parameters and the optimizer section."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from .. import expr
from ..errors import ExpressionError, did_you_mean
from .fields import FieldReader, describe_value
from ..errors import dotted
from ..settings import ENGINE_KEYS, Setting, run_settings
from .model import OptimizerSpec, Parameter

__all__ = ["SectionReader", "MAX_ELEMENTS"]

#: The most elements of a vector parameter: each is a number a result, a history and a report name.
MAX_ELEMENTS = 1_000_000


class SectionReader(FieldReader):
    """Typed getters plus the sections that overrides check the way the file is checked."""

    def symbol_name(self, name: str, path: tuple, what: str) -> None:
        """``name`` must be usable as a symbol; the error points at its key."""
        try:
            expr.check_name(name, what=what)
        except ExpressionError as exc:
            raise exc.at(self.source.key(path), dotted(path)) from None

    def override_parameters(self, value: Any, params: list[Parameter]) -> list[Parameter]:
        """New initial values by declared name (a number, or a list for a vector) or by element (``w[3]``)."""
        section = self.mapping(value, ("parameters",), "a mapping of parameter names to initial values")
        names = [p.name for p in params]
        elements = {e.name: (i, j) for i, p in enumerate(params) if p.shape is not None for j, e in enumerate(p.flat())}
        out = list(params)
        for name, init in section.items():
            path = ("parameters", name)
            if name in elements:
                i, j = elements[name]
                values = list(out[i].inits)
                values[j] = self.number(init, path)
                out[i] = self.bounded(replace(out[i], init=tuple(values)))
                continue
            if name not in names:
                raise self.err(f"unknown parameter {name!r}", path, hint=did_you_mean(name, [*names, *elements]))
            i = names.index(name)
            out[i] = self.bounded(replace(params[i], init=self.initial(init, path, params[i].shape)))
        return out

    def initial(self, value: Any, path: tuple, shape: int | None) -> float | tuple[float, ...]:
        """A scalar's initial value; for a vector, one number for every element or a list of ``shape``."""
        if shape is None or not isinstance(value, (list, tuple)):
            v = self.number(value, path)
            return v if shape is None else (v,) * shape
        if len(value) != shape:
            raise self.err(f"expected {shape} initial values (shape {shape}), got {len(value)}", path)
        return tuple(self.number(v, path + (i,)) for i, v in enumerate(value))

    def bounded(self, p: Parameter, path: tuple | None = None) -> Parameter:
        for i, v in enumerate(p.inits):
            if (p.min is not None and v < p.min) or (p.max is not None and v > p.max):
                where = "" if p.shape is None else f" (element {i})"
                raise self.err(f"initial value {v}{where} is outside [{p.min}, {p.max}]",
                               path or ("parameters", p.name, "init"))
        return p

    def check_points(self, at: Any, params: Sequence[Parameter]) -> tuple[Mapping[str, Any], ...]:
        """``check.at``: points as ``{w: 1.0, b: 0.5}``; a vector by one number for every element, a
        list, or element by element (``w[1]: 2.0``), as ``parameters=`` overrides take them."""
        if not isinstance(at, list):
            raise self.err("expected a list of points such as {w: 1.0}", ("check", "at"))
        shapes = {p.name: p.shape for p in params}
        keys = tuple(dict.fromkeys([*shapes, *(e.name for p in params if p.shape is not None for e in p.flat())]))
        points = []
        for i, point in enumerate(at):
            path = ("check", "at", i)
            point = self.mapping(point, path, "a mapping of parameter names to values")
            self.known_keys(point, path, keys)
            points.append(MappingProxyType({k: self.initial(v, path + (k,), shapes.get(k)) for k, v in point.items()}))
        return tuple(points)

    def shape(self, value: Any, path: tuple) -> int:
        """``shape: 30`` (or ``[30]``): the number of elements of a vector parameter."""
        if isinstance(value, list) and len(value) == 1:
            value, path = value[0], path + (0,)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.err(f"expected a positive whole number of elements (a vector), got {describe_value(value)}",
                           path, hint="vectors have one dimension: shape: 30")
        if value > MAX_ELEMENTS:
            raise self.err(f"{value} elements is more than the {MAX_ELEMENTS} a vector parameter may have", path)
        return value

    def parameters(self, raw: dict) -> tuple[Parameter, ...]:
        if "parameters" not in raw:
            raise self.err("missing 'parameters' (name: initial value, one per line)", ())
        section = self.mapping(raw["parameters"], ("parameters",), "a mapping of parameter names to initial values")
        if not section:
            raise self.err("declare at least one parameter", ("parameters",))
        out = []
        for name, value in section.items():
            path = ("parameters", name)
            self.symbol_name(name, path, "parameter")
            lo = hi = shape = None
            if isinstance(value, dict):
                self.known_keys(value, path, ("init", "min", "max", "shape"))
                if "shape" in value:
                    shape = self.shape(value["shape"], path + ("shape",))
                if "init" not in value:
                    raise self.err("missing 'init' (the initial value)", path, key=True)
                init = self.initial(value["init"], path + ("init",), shape)
                lo = self.number(value["min"], path + ("min",)) if value.get("min") is not None else None
                hi = self.number(value["max"], path + ("max",)) if value.get("max") is not None else None
                if lo is not None and hi is not None and lo > hi:
                    raise self.err(f"min ({lo}) is greater than max ({hi})", path + ("min",))
            else:
                init = self.number(value, path)
            out.append(self.bounded(Parameter(name, init, lo, hi, shape)))
        return tuple(out)

    def optimizer(self, value: Any) -> OptimizerSpec:
        path = ("optimizer",)
        if value is None:
            raise self.err("missing 'optimizer' (at least 'name:', e.g. gd)", ())
        if isinstance(value, str):
            value = {"name": value}
        section = self.mapping(value, path)
        if "name" not in section:
            raise self.err("missing 'name' (e.g. gd, sgd, adam; see 'optikit plugins')", path, key=True)
        name = self.text(section["name"], path + ("name",)).strip()
        kw = {s.name: self.setting(s, section[s.name], path + (s.name,)) for s in run_settings()
              if section.get(s.name) is not None}
        if "steps" in kw and "epochs" not in section:
            kw["epochs"] = None  # a run given in steps is not also cut short by the default epochs
        hyper = {k: self.hyperparameter(v, path + (k,)) for k, v in section.items() if k not in ENGINE_KEYS}
        given = "epochs" in kw or "steps" in kw
        return OptimizerSpec(name=name, hyperparameters=MappingProxyType(hyper), length_given=given, **kw)

    def setting(self, setting: Setting, value: Any, path: tuple) -> Any:
        """A run setting's value, checked by its kind (:data:`optikit.settings.KINDS`)."""
        kind = setting.kind
        if kind in ("count", "seed"):
            return self.integer(value, path, 1 if kind == "count" else 0)
        if kind == "flag":
            if not isinstance(value, bool):
                raise self.err(f"expected true or false, got {describe_value(value)}", path)
            return value
        if kind == "positive":
            number = self.number(value, path)
            if number <= 0:
                raise self.err(f"must be positive, got {value}", path)
            return number
        return self.schedule(value, path)

    def schedule(self, value: Any, path: tuple) -> Mapping[str, Any]:
        if isinstance(value, str):
            value = {"name": value}
        section = self.mapping(value, path, "a schedule name or a mapping with 'name'")
        if "name" not in section:
            raise self.err("missing 'name' (constant, step, exponential, cosine, linear)", path)
        out = {"name": self.text(section["name"], path + ("name",))}
        out.update({k: self.hyperparameter(v, path + (k,)) for k, v in section.items() if k != "name"})
        return MappingProxyType(out)

    def hyperparameter(self, value: Any, path: tuple) -> Any:
        if isinstance(value, (bool, str)) or value is None:
            return value
        if isinstance(value, (int, float)):
            return self.number(value, path) if isinstance(value, float) else value
        if isinstance(value, list):
            return tuple(self.hyperparameter(v, path + (i,)) for i, v in enumerate(value))
        raise self.err(f"expected a number, true/false, text or a list, got {describe_value(value)}", path)
