"""Spec files: YAML text to a validated, frozen :class:`Spec` that knows where each field stood.

The format is documented key by key in ``docs/spec.md``. Loading parses every expression
(through :mod:`optikit.expr`, never ``eval``) so unknown symbols are reported with their line;
it does not import plugins or run anything the file names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import sympy

from .errors import Location, SpecError
from .yamlsafe import SourceMap, load as load_yaml

__all__ = ["Spec", "Parameter", "OptimizerSpec", "CheckSpec", "load_spec", "loads_spec", "MODEL", "TOP_KEYS", "ENGINE_KEYS"]

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


@dataclass(frozen=True, eq=False)
class Spec:
    """A validated spec. Expressions are kept both as text and as SymPy trees over real symbols."""

    name: str
    parameters: tuple[Parameter, ...]
    symbols: Mapping[str, sympy.Symbol]
    loss_expr: sympy.Expr | None
    optimizer: OptimizerSpec
    data: Mapping[str, np.ndarray] = field(default_factory=dict)
    model: str | None = None
    model_expr: sympy.Expr | None = None
    objective: str | None = None
    target: str | None = None
    loss: str = "mse"
    predict: Mapping[str, tuple[int | float, ...]] = field(default_factory=dict)
    gradient: Mapping[str, sympy.Expr] | None = None
    gradient_text: Mapping[str, str] | None = None
    check: CheckSpec | None = None
    description: str = ""
    path: Path | None = None
    source: SourceMap = field(default_factory=lambda: SourceMap(None), repr=False)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def initial(self) -> np.ndarray:
        """Initial parameter vector, in declaration order."""
        return np.array([p.init for p in self.parameters], dtype=float)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def where(self, *path: Any, key: bool = False) -> Location:
        """File location of a field (``spec.where("optimizer", "lr")``)."""
        return self.source.key(path) if key else self.source.value(path)

    def error(self, message: str, *path: Any, hint: str | None = None, key: bool = False) -> SpecError:
        """A :class:`SpecError` for field ``path`` of this spec, located in its file."""
        return SpecError(message, field=_dotted(path), location=self.where(*path, key=key), hint=hint)

    def with_overrides(self, **overrides: Any) -> Spec:
        """A copy with ``optimizer`` (a name), engine keys, hyperparameters or ``parameters`` replaced.

        ``spec.with_overrides(optimizer="adam", lr=0.1, epochs=10, parameters={"w": 0.0})``
        """
        from .overrides import apply_overrides

        return apply_overrides(self, overrides)


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", location=Location(str(path))) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", location=Location(str(path))) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", location=Location(str(path))) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", location=Location(str(path))) from None
    return loads_spec(text, path=path)


def loads_spec(text: str, *, path: str | Path | None = None) -> Spec:
    """Validate spec ``text``; ``path`` (if given) names it in errors and anchors relative data paths."""
    path = Path(path) if path is not None else None
    from .specparse import build

    raw, source = load_yaml(text, str(path) if path else "<spec>")
    return build(raw, source, path)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out
