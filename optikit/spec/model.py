"""The parts of a spec: parameters, the optimizer section, the check section, and the names they use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy


from ..settings import RunSettings

__all__ = ["Parameter", "OptimizerSpec", "CheckSpec", "MODEL", "TOP_KEYS"]

#: Name of the symbol standing for the model's prediction inside a loss expression.
MODEL = "model"
TOP_KEYS = ("name", "description", "model", "objective", "target", "sigma", "parameters", "data", "loss",
            "optimizer", "predict", "gradient", "check")


@dataclass(frozen=True)
class Parameter:
    """A trainable parameter: initial value and optional bounds (enforced by projection)."""

    name: str
    init: float
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec(RunSettings):
    """The ``optimizer`` section: which optimizer, its hyperparameters, and the run settings
    (``schedule`` is the validated mapping with ``name``)."""

    name: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    #: Whether the section set ``epochs`` or ``steps``; when neither, an optimizer's
    #: ``default_epochs`` (if it has one) replaces the default epochs.
    length_given: bool = True


@dataclass(frozen=True)
class CheckSpec:
    """The ``check`` section: hand-written gradients to verify and the points to verify them at."""

    gradient: Mapping[str, sympy.Expr] = field(default_factory=dict)
    gradient_text: Mapping[str, str] = field(default_factory=dict)
    at: tuple[Mapping[str, float], ...] = ()
