"""Figures of a fitted model: the loss surface with the optimizer's path, the data with the fitted
model, and the residuals. They evaluate the compiled problem, so they take it alongside the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..backends import Problem
from ..engine import Result
from ..errors import OptikitError, SpecError
from ..data import gather
from .plots import PLOT_KINDS, loss_figure, new_figure, spans_decades

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure", "surface_figure", "fit_figure", "residuals_figure", "check_plot_kind"]

#: Most points of a path evaluated for the surface plot (a long run's path is thinned evenly).
PATH_POINTS = 400


def check_plot_kind(problem: Problem, kind: str, option: str | None = None) -> None:
    """Raise :class:`SpecError` (naming ``option``, or ``kind=``) if ``kind`` cannot be drawn for ``problem``."""
    field = option or f"kind={kind!r}"
    if kind not in PLOT_KINDS:
        raise SpecError(f"unknown plot {kind!r}; plots: {', '.join(PLOT_KINDS)}", field="kind")
    n = len(problem.parameter_names)
    if kind == "surface" and n > 2:
        raise SpecError(f"a loss surface is drawn for one or two parameters; this spec has {n}", field=field,
                        hint="plot the loss (--plot) or the fit (--plot-fit) instead")
    if kind in ("fit", "residuals") and (problem.spec.model is None or problem.source is None):
        raise SpecError("an objective without data has no fit to plot", field=field,
                        hint="--plot-surface draws the objective around the optimizer's path")


def figure(result: Result | Sequence[Result], kind: str, problem: Problem) -> Figure:
    """The figure ``kind`` (one of :data:`~optikit.output.plots.PLOT_KINDS`) of ``result``."""
    check_plot_kind(problem, kind)
    results = [result] if isinstance(result, Result) else list(result)
    if kind == "loss":
        return loss_figure(results, ylabel=problem.spec.loss if problem.spec.model else "objective")
    if kind == "surface":
        return surface_figure(results, problem)
    return (fit_figure if kind == "fit" else residuals_figure)(results[0], problem)


def _path(result: Result, problem: Problem) -> np.ndarray:
    """The initial parameters then the parameters after each epoch, thinned to :data:`PATH_POINTS`."""
    path = np.vstack([problem.initial[None, :], result.history.parameters])
    if len(path) > PATH_POINTS:
        keep = np.unique(np.linspace(0, len(path) - 1, PATH_POINTS).round().astype(int))
        path = path[keep]
    return path


def _span(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = 0.25 * (hi - lo) if hi > lo else max(1.0, abs(lo)) * 0.5
    return lo - pad, hi + pad


def _losses(problem: Problem, points: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.array([problem.loss(p) for p in points], dtype=float)


def surface_figure(results: Result | Sequence[Result], problem: Problem, *, grid: int = 60) -> Figure:
    """For one parameter the loss curve, for two its contours, with each result's path drawn on it
    (start marked with a circle, end with a cross)."""
    results = [results] if isinstance(results, Result) else list(results)
    names = problem.parameter_names
    paths = [_path(r, problem) for r in results]
    every = np.vstack(paths)
    fig = new_figure()
    ax = fig.add_subplot()
    label = problem.spec.loss if problem.spec.model else "objective"
    if len(names) == 1:
        xs = np.linspace(*_span(every[:, 0]), 4 * grid)
        curve = _losses(problem, xs[:, None])
        ax.plot(xs, curve, color="0.3", label=label)
        for result, path in zip(results, paths):
            ax.plot(path[:, 0], _losses(problem, path), marker=".", label=result.optimizer)
        ax.set_xlabel(names[0])
        ax.set_ylabel(label)
        if spans_decades(curve):
            ax.set_yscale("log")
    else:
        xs, ys = np.linspace(*_span(every[:, 0]), grid), np.linspace(*_span(every[:, 1]), grid)
        gx, gy = np.meshgrid(xs, ys)
        z = _losses(problem, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        finite = z[np.isfinite(z)]
        # levels at quantiles: a valley and the walls around it both get contours
        levels = np.unique(np.quantile(finite, np.linspace(0, 1, 16))) if finite.size else 10
        contours = ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.8)
        fig.colorbar(contours, ax=ax, label=label)
        for result, path in zip(results, paths):
            line, = ax.plot(path[:, 0], path[:, 1], label=result.optimizer)
            ax.plot(path[0, 0], path[0, 1], "o", color=line.get_color())
            ax.plot(path[-1, 0], path[-1, 1], "x", color=line.get_color())
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    paths_of = "each optimizer's path" if len(results) > 1 else "the optimizer's path"
    ax.set_title(f"{problem.name}: {label} and {paths_of}")
    ax.legend()
    return fig


def _observed(result: Result, problem: Problem) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The data's input columns, the observed target and the model's prediction at the result."""
    data = gather(problem.source, [*problem.symbolic.inputs, problem.spec.target])
    inputs = {c: np.asarray(data[c]) for c in problem.symbolic.inputs}
    observed = np.asarray(data[problem.spec.target], dtype=float)
    predicted = np.broadcast_to(problem.predict(result.x, inputs), observed.shape)
    return inputs, observed, predicted


def fit_figure(result: Result, problem: Problem) -> Figure:
    """With one input column, the data and the fitted model over it; otherwise predicted against observed."""
    inputs, observed, predicted = _observed(result, problem)
    target = problem.spec.target
    fig = new_figure()
    ax = fig.add_subplot()
    if len(inputs) == 1 and next(iter(inputs.values())).ndim == 1:  # one scalar input: the curve over it
        (name, x), = inputs.items()
        ax.plot(x, observed, "o", markersize=4, label="data")
        xs = np.linspace(float(np.min(x)), float(np.max(x)), 300)
        ax.plot(xs, np.broadcast_to(problem.predict(result.x, {name: xs}), xs.shape), label=f"model: {problem.spec.model}")
        band = _band(result, {name: xs})
        if band is not None:
            ax.fill_between(xs, *band.confidence, alpha=0.25, label=f"{100 * band.level:g}% confidence band")
        ax.set_xlabel(name)
        ax.set_ylabel(target)
    else:
        ax.plot(observed, predicted, "o", markersize=4, label="rows")
        lo, hi = float(min(observed.min(), predicted.min())), float(max(observed.max(), predicted.max()))
        ax.plot([lo, hi], [lo, hi], color="0.5", linestyle="--", label="predicted = observed")
        ax.set_xlabel(f"observed {target}")
        ax.set_ylabel(f"predicted {target}")
    ax.set_title(f"{problem.name}: fit ({result.optimizer})")
    ax.legend()
    return fig


def _band(result: Result, inputs: dict[str, np.ndarray]) -> Any:
    """The model's confidence band from the fit report, when the result has one and it is defined."""
    report = getattr(result, "report", None)
    if report is None or getattr(result, "reporter", None) is None:
        return None
    try:
        band = report().predict_uncertainty(inputs)
    except (OptikitError, ValueError, np.linalg.LinAlgError):
        return None
    return band if np.all(np.isfinite(band.stderr)) else None


def residuals_figure(result: Result, problem: Problem) -> Figure:
    """Observed minus predicted, against the input column when there is one, else against the prediction."""
    inputs, observed, predicted = _observed(result, problem)
    target = problem.spec.target
    fig = new_figure()
    ax = fig.add_subplot()
    x: Any
    if len(inputs) == 1 and next(iter(inputs.values())).ndim == 1:  # one scalar input: the curve over it
        (name, x), = inputs.items()
        ax.set_xlabel(name)
    else:
        x = predicted
        ax.set_xlabel(f"predicted {target}")
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.plot(x, observed - predicted, "o", markersize=4)
    ax.set_ylabel(f"residual ({target} - model)")
    ax.set_title(f"{problem.name}: residuals ({result.optimizer})")
    return fig
