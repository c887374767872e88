"""Overrides of a loaded spec (``optikit.run(spec, lr=0.1)``, ``--set``), checked like the file."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from ..settings import ENGINE_KEYS
from .model import TOP_KEYS
from .sections import SectionReader
from .yamlsafe import SourceMap

if TYPE_CHECKING:
    from .document import Spec

__all__ = ["apply_overrides"]


def apply_overrides(spec: Spec, overrides: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> Spec:
    """``spec`` with optimizer keys, hyperparameters or ``parameters`` replaced, checked like the file.

    ``origins`` names where each override came from (``{"lr": "--lr 0.1"}``; by default the
    keyword, ``keyword lr=``). Errors about an overridden value, now or once the spec is
    prepared, are located there rather than in the file. A new optimizer name drops the spec's
    hyperparameters (they belong to its own optimizer); a new ``epochs`` or ``steps`` replaces
    the spec's run length.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    located = {_path(k): (origins or {}).get(k, f"keyword {k}=") for k in overrides}
    reader = SectionReader(None, SourceMap("<override>").overlaid(located), None)
    opt = spec.optimizer
    section: dict[str, Any] = {"name": opt.name, **_raw(opt.hyperparameters)}
    section.update({k: _raw(getattr(opt, k)) for k in ENGINE_KEYS[1:] if getattr(opt, k) is not None
                    and (k != "epochs" or opt.length_given)})
    if "optimizer" in overrides:
        section = {k: v for k, v in section.items() if k in ENGINE_KEYS} | {"name": overrides.pop("optimizer")}
    if ("epochs" in overrides) != ("steps" in overrides):
        section.pop("steps" if "epochs" in overrides else "epochs", None)
    params = list(spec.parameters)
    for key, value in overrides.items():
        if key == "parameters":
            params = reader.override_parameters(value, params)
        elif key in TOP_KEYS:
            hint = "use optimizer=NAME to switch optimizers" if key == "name" else None
            raise reader.err(f"{key!r} cannot be overridden; edit the spec", (key,), hint=hint)
        else:
            section[key] = _raw(value)
    # only the optimizer's fields are checked again later (when the optimizer is made); a new
    # initial value has nothing left to check
    source = spec.source.overlaid({p: o for p, o in located.items() if p[0] == "optimizer"})
    return replace(spec, optimizer=reader.optimizer(section), parameters=tuple(params), source=source)


def _path(key: str) -> tuple[str, ...]:
    """The spec field an override keyword replaces."""
    if key == "optimizer":
        return ("optimizer", "name")
    return (key,) if key in TOP_KEYS else ("optimizer", key)


def _raw(value: Any) -> Any:
    """A validated value back in the plain form a YAML document would hold."""
    if isinstance(value, (tuple, list)):
        return [_raw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _raw(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
