"""Uncertainty of the model's predictions by the delta method, with SymPy's exact gradient.

The standard error of the model at inputs ``x`` is ``sqrt(g(x)^T C g(x))`` with ``g`` the
gradient of the model by the parameters (derived symbolically, where lmfit's ``eval_uncertainty``
takes finite differences) and ``C`` the fit's covariance. The confidence band is
``model -/+ q * se``; the prediction band adds the noise of a new observation,
``model -/+ q * sqrt(se**2 + s**2 * sigma**2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import sympy

__all__ = ["Bands", "model_gradient", "bands"]


@dataclass(frozen=True)
class Bands:
    """Predictions at new inputs with their standard errors and bands at ``level``."""

    value: np.ndarray
    stderr: np.ndarray
    confidence: tuple[np.ndarray, np.ndarray]
    #: None where the noise of a new observation is unknown (a likelihood loss)
    prediction: tuple[np.ndarray, np.ndarray] | None
    level: float


def model_gradient(sym: Any) -> tuple[Callable[..., Any], tuple[str, ...]]:
    """``(f, inputs)``: ``f(*params, *input_columns)`` gives the model and its derivatives by each
    parameter, SymPy's, compiled to NumPy; ``inputs`` are the columns the model reads."""
    inputs = sym.inputs
    if sym.vectors is not None:
        from ..backends.vectors import VectorEvaluator

        evaluator = VectorEvaluator(sym, None, inputs={})

        def vector_fn(*args: Any) -> list[Any]:
            k = len(sym.parameter_names)
            value, grads = evaluator.model_rows(np.asarray(args[:k]), dict(zip(inputs, args[k:])), derivatives=True)
            return [value, *grads]
        vector_fn.vector_inputs = True  # type: ignore[attr-defined]
        return vector_fn, inputs
    model = sym.model_expr
    args = [*sym.params, *(sym.symbol(c) for c in inputs)]
    fn = sympy.lambdify(args, [model, *(sympy.diff(model, p) for p in sym.params)], modules="numpy",
                        docstring_limit=0)
    return fn, inputs


def bands(gradient: tuple[Callable[..., Any], tuple[str, ...]], params: np.ndarray, cov: np.ndarray,
          inputs: Mapping[str, Any], quantile: float, noise: np.ndarray | float | None, level: float) -> Bands:
    """The :class:`Bands` at ``inputs`` (column -> value(s)); ``noise`` is the variance of a new
    observation at each input (None: no prediction band)."""
    fn, columns = gradient
    missing = [c for c in columns if c not in inputs]
    if missing:
        raise ValueError(f"missing input {', '.join(missing)} for the prediction (the model reads "
                         f"{', '.join(columns)})")
    cols = [np.asarray(inputs[c], dtype=float) for c in columns]
    # a vector input is rows x elements: the rows give the shape
    vectors = getattr(fn, "vector_inputs", False)
    shape = np.broadcast_shapes(*(c.shape[:1] if vectors and c.ndim == 2 else c.shape for c in cols)) if cols else ()
    out = fn(*params, *cols)
    value = np.broadcast_to(np.asarray(out[0], dtype=float), shape)
    grads = np.stack([np.broadcast_to(np.asarray(g, dtype=float), shape) for g in out[1:]])
    with np.errstate(invalid="ignore"):
        variance = np.einsum("i...,ij,j...->...", grads, cov, grads)
        se = np.sqrt(np.where(variance >= 0, variance, math.nan))
    conf = (value - quantile * se, value + quantile * se)
    pred = None
    if noise is not None:
        spread = quantile * np.sqrt(se**2 + noise)
        pred = (value - spread, value + spread)
    return Bands(value, se, conf, pred, level)
