"""The parts of a spec: parameters, the optimizer section, the check section, and the names they use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy


__all__ = ["Parameter", "OptimizerSpec", "CheckSpec", "MODEL", "TOP_KEYS", "ENGINE_KEYS", "dotted"]

#: Name of the symbol standing for the model's prediction inside a loss expression.
MODEL = "model"
TOP_KEYS = ("name", "description", "model", "objective", "target", "parameters", "data", "loss",
            "optimizer", "predict", "gradient", "check")
#: Keys of ``optimizer`` that drive the engine; every other key is a hyperparameter.
ENGINE_KEYS = ("name", "epochs", "steps", "batch_size", "seed", "shuffle", "schedule", "tol", "gtol", "max_time")
DEFAULT_EPOCHS = 100


@dataclass(frozen=True)
class Parameter:
    """A trainable parameter: initial value and optional bounds (enforced by projection)."""

    name: str
    init: float
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class OptimizerSpec:
    """The ``optimizer`` section: which optimizer, its hyperparameters, and how long to run."""

    name: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    epochs: int | None = DEFAULT_EPOCHS
    steps: int | None = None
    batch_size: int | None = None
    seed: int | None = None
    shuffle: bool = True
    schedule: Mapping[str, Any] | None = None
    tol: float | None = None
    gtol: float | None = None
    max_time: float | None = None


@dataclass(frozen=True)
class CheckSpec:
    """The ``check`` section: hand-written gradients to verify and the points to verify them at."""

    gradient: Mapping[str, sympy.Expr] = field(default_factory=dict)
    gradient_text: Mapping[str, str] = field(default_factory=dict)
    at: tuple[Mapping[str, float], ...] = ()


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out
