"""The parts of a spec: parameters, the optimizer section, the check section, and the names they use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy


from ..settings import RunSettings

__all__ = ["Parameter", "element_name", "OptimizerSpec", "CheckSpec", "MODEL", "TOP_KEYS"]

#: Name of the symbol standing for the model's prediction inside a loss expression.
MODEL = "model"
TOP_KEYS = ("name", "description", "model", "objective", "target", "sigma", "parameters", "data", "loss",
            "optimizer", "predict", "gradient", "check")


@dataclass(frozen=True)
class Parameter:
    """A trainable parameter: initial value and optional bounds (enforced by projection).

    A vector parameter (``shape: 30``) has ``shape`` set and one initial value per element; its
    bounds hold for every element. Everywhere numbers are shown it is flattened into elements
    named ``w[0]``, ``w[1]``, ... (:meth:`flat`).
    """

    name: str
    init: float | tuple[float, ...]
    min: float | None = None
    max: float | None = None
    #: the number of elements of a vector parameter; ``None`` for a scalar
    shape: int | None = None

    @property
    def size(self) -> int:
        return 1 if self.shape is None else self.shape

    @property
    def inits(self) -> tuple[float, ...]:
        """The initial value of each element."""
        return (self.init,) if self.shape is None else tuple(self.init)  # type: ignore[arg-type]

    def flat(self) -> tuple[Parameter, ...]:
        """The scalar parameters this one is made of: itself, or ``w[0]``, ``w[1]``, ..."""
        if self.shape is None:
            return (self,)
        return tuple(Parameter(element_name(self.name, i), v, self.min, self.max) for i, v in enumerate(self.inits))


def element_name(name: str, index: int) -> str:
    """How element ``index`` of vector parameter ``name`` is named in results: ``w[3]``."""
    return f"{name}[{index}]"


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
