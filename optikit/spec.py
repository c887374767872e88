"""Spec files: YAML text to a validated, frozen :class:`Spec` that knows where each field stood.

The format is documented key by key in ``docs/spec.md``. Loading parses every expression
(through :mod:`optikit.expr`, never ``eval``) so unknown symbols are reported with their line;
it does not import plugins or run anything the file names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
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
        return _apply_overrides(self, overrides)


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


def _suggest(word: str, choices: Any) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


_OVERRIDE_LOC = Location("<override>")


def _apply_overrides(spec: Spec, overrides: dict[str, Any]) -> Spec:
    opt = spec.optimizer
    opt_fields: dict[str, Any] = {}
    hyper = dict(opt.hyperparameters)
    params = list(spec.parameters)
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "optimizer":
            if not isinstance(value, str):
                raise SpecError("expected an optimizer name", field=key, location=_OVERRIDE_LOC)
            if value != opt.name:
                hyper = {}  # the spec's hyperparameters belong to its own optimizer
            opt_fields["name"] = value
        elif key == "parameters":
            names = spec.parameter_names
            for name, init in dict(value).items():
                if name not in names:
                    raise SpecError(f"unknown parameter {name!r}", field=f"parameters.{name}", location=_OVERRIDE_LOC,
                                    hint=_suggest(name, names))
                i = names.index(name)
                params[i] = replace(params[i], init=float(init))
        elif key in ("epochs", "steps", "batch_size", "seed"):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "seed" else 1):
                raise SpecError(f"expected a positive whole number, got {value!r}", field=f"optimizer.{key}",
                                location=_OVERRIDE_LOC)
            opt_fields[key] = value
            if key == "steps" and "epochs" not in overrides:
                opt_fields["epochs"] = None
        elif key in ("tol", "gtol", "max_time", "shuffle", "schedule"):
            opt_fields[key] = value
        elif key in TOP_KEYS:
            raise SpecError(f"{key!r} cannot be overridden; edit the spec", field=key, location=_OVERRIDE_LOC)
        else:
            hyper[key] = value
    opt = replace(opt, hyperparameters=MappingProxyType(hyper), **opt_fields)
    return replace(spec, optimizer=opt, parameters=tuple(params))
