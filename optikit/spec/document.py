"""The frozen :class:`Spec`: what to fit, where the data is, and where each field stood in its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import sympy

from ..data import DataRef
from ..errors import Location, SpecError
from ..errors import dotted
from .model import CheckSpec, OptimizerSpec, Parameter
from .overrides import apply_overrides
from .yamlsafe import SourceMap

__all__ = ["Spec"]


@dataclass(frozen=True, eq=False)
class Spec:
    """A validated spec. Expressions are kept both as text and as SymPy trees over real symbols."""

    name: str
    parameters: tuple[Parameter, ...]
    symbols: Mapping[str, sympy.Symbol]
    loss_expr: sympy.Expr | None
    optimizer: OptimizerSpec
    #: where the data is (``None``: handed over at run time, ``optikit.run(spec, data=...)``)
    data: DataRef | None = None
    #: every data column the spec knows of: the data's, or the model's inputs and target
    columns: tuple[str, ...] = ()
    model: str | None = None
    model_expr: sympy.Expr | None = None
    objective: str | None = None
    target: str | None = None
    loss: str = "mse"
    #: the data column of per-row standard deviations that weight a least-squares fit (``sigma:``)
    sigma: str | None = None
    #: whether ``sigma`` is absolute (curve_fit's ``absolute_sigma``) or only relative weights
    absolute_sigma: bool = False
    predict: Mapping[str, tuple[int | float, ...]] = field(default_factory=dict)
    gradient: Mapping[str, sympy.Expr] | None = None
    gradient_text: Mapping[str, str] | None = None
    check: CheckSpec | None = None
    description: str = ""
    path: Path | None = None
    source: SourceMap = field(default_factory=lambda: SourceMap(None), repr=False)

    @property
    def flat_parameters(self) -> tuple[Parameter, ...]:
        """The parameters with each vector parameter split into its elements (``w[0]``, ...): the
        layout of every parameter vector an optimizer, a result or a checkpoint holds."""
        return tuple(e for p in self.parameters for e in p.flat())

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The flat parameter names, in declaration order (``w[0]``, ..., ``w[29]``, ``b``)."""
        return tuple(p.name for p in self.flat_parameters)

    @property
    def vector_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.shape is not None)

    @property
    def initial(self) -> np.ndarray:
        """Initial parameter vector, in declaration order."""
        return np.array([p.init for p in self.flat_parameters], dtype=float)

    @property
    def used_columns(self) -> tuple[str, ...]:
        """The data columns the model, loss, objective or hand-written gradients use (the target among
        them), in column order."""
        hand = [*(self.gradient or {}).values(), *(self.check.gradient.values() if self.check else ())]
        trees = [t for t in (self.model_expr, self.loss_expr, *hand) if t is not None]
        used = {s.name for t in trees for s in t.free_symbols} | ({self.target} if self.model else set())
        used |= {self.sigma} if self.sigma else set()
        return tuple(c for c in self.columns if c in used)

    def where(self, *path: Any, key: bool = False) -> Location:
        """File location of a field (``spec.where("optimizer", "lr")``)."""
        return self.source.key(path) if key else self.source.value(path)

    def error(self, message: str, *path: Any, hint: str | None = None, key: bool = False) -> SpecError:
        """A :class:`SpecError` for field ``path`` of this spec, located in its file."""
        return SpecError(message, field=dotted(path), location=self.where(*path, key=key), hint=hint)

    def with_overrides(self, **overrides: Any) -> Spec:
        """A copy with ``optimizer`` (a name), engine keys, hyperparameters or ``parameters`` replaced.

        ``spec.with_overrides(optimizer="adam", lr=0.1, epochs=10, parameters={"w": 0.0})``
        """
        return apply_overrides(self, overrides)
