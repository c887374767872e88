"""The sections a spec file and its overrides share: parameters and the optimizer section."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Mapping

from .. import expr
from ..errors import ExpressionError, did_you_mean
from .fields import FieldReader, describe_value
from ..errors import dotted
from ..settings import ENGINE_KEYS, Setting, run_settings
from .model import OptimizerSpec, Parameter

__all__ = ["SectionReader"]


class SectionReader(FieldReader):
    """Typed getters plus the sections that overrides check the way the file is checked."""

    def symbol_name(self, name: str, path: tuple, what: str) -> None:
        """``name`` must be usable as a symbol; the error points at its key."""
        try:
            expr.check_name(name, what=what)
        except ExpressionError as exc:
            raise exc.at(self.source.key(path), dotted(path)) from None

    def override_parameters(self, value: Any, params: list[Parameter]) -> list[Parameter]:
        section = self.mapping(value, ("parameters",), "a mapping of parameter names to initial values")
        names = [p.name for p in params]
        out = list(params)
        for name, init in section.items():
            if name not in names:
                raise self.err(f"unknown parameter {name!r}", ("parameters", name), hint=did_you_mean(name, names))
            i = names.index(name)
            out[i] = self.bounded(replace(params[i], init=self.number(init, ("parameters", name))))
        return out

    def bounded(self, p: Parameter) -> Parameter:
        if (p.min is not None and p.init < p.min) or (p.max is not None and p.init > p.max):
            raise self.err(f"initial value {p.init} is outside [{p.min}, {p.max}]", ("parameters", p.name, "init"))
        return p

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
            lo = hi = None
            if isinstance(value, dict):
                self.known_keys(value, path, ("init", "min", "max"))
                if "init" not in value:
                    raise self.err("missing 'init' (the initial value)", path, key=True)
                init = self.number(value["init"], path + ("init",))
                lo = self.number(value["min"], path + ("min",)) if value.get("min") is not None else None
                hi = self.number(value["max"], path + ("max",)) if value.get("max") is not None else None
                if lo is not None and hi is not None and lo > hi:
                    raise self.err(f"min ({lo}) is greater than max ({hi})", path + ("min",))
            else:
                init = self.number(value, path)
            out.append(self.bounded(Parameter(name, init, lo, hi)))
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
