"""A run's result that knows the model it fitted: predict with it, plot it, save its parameters.

:meth:`optikit.api.Prepared.run` returns a :class:`FitResult`; the engine's plain
:class:`~optikit.engine.Result` stays free of plotting and of the compiled problem's internals.
Saved parameters are plain JSON (floats written with ``repr``, so they read back exactly).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from ..backends import Problem
from ..engine import Result
from ..errors import Location, OptikitError, SpecError
from ..data import DataSource, gather, group_columns

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FitResult", "PARAMETERS_FORMAT", "fit_reporter", "load_parameters", "predict_with"]

PARAMETERS_FORMAT = "optikit-parameters/1"


def _grouped(problem: Problem, columns: Mapping[str, Any]) -> Mapping[str, Any]:
    """``columns`` with the spec's vector inputs stacked where they hold a vector's member columns
    (a DataFrame of the data file's columns, say)."""
    groups = problem.spec.data.options.get("vectors", {}) if problem.spec.data is not None else {}
    todo = {g: m for g, m in groups.items() if g not in columns and all(c in columns for c in m)}
    return group_columns(columns, todo) if todo else columns


def predict_with(problem: Problem, params: np.ndarray, data: Any, keyword: str = "data=") -> np.ndarray:
    """The model of ``problem`` at ``params`` on ``data`` (a mapping of columns or a data source),
    one value per row; a missing input column is a :class:`SpecError` naming ``keyword``."""
    if problem.spec.model is None:
        raise SpecError("an objective has no model to predict with", field=keyword)
    columns = gather(data) if isinstance(data, DataSource) else data
    if not isinstance(columns, Mapping):
        raise SpecError(f"expected a mapping of column names to values, got {type(data).__name__}", field=keyword)
    inputs = problem.symbolic.inputs
    columns = _grouped(problem, columns)
    missing = [c for c in inputs if c not in columns]
    if missing:
        raise SpecError(f"the data has no column {', '.join(map(repr, missing))}; the model "
                        f"{problem.spec.model} reads {', '.join(inputs) or 'no column'}", field=keyword)
    try:
        arrays = {c: np.asarray(columns[c], dtype=float) for c in inputs}
    except (TypeError, ValueError) as exc:
        raise SpecError(f"the input columns must be numbers: {exc}", field=keyword) from None
    rows = max((len(a) if a.ndim else 1 for a in arrays.values()), default=1)  # a vector input is rows x elements
    return np.array(np.broadcast_to(problem.predict(np.asarray(params, dtype=float), arrays), (rows,)), dtype=float)


def fit_reporter(problem: Problem) -> Callable[[Result], Any]:
    """``Result.reporter`` of a run of ``problem``: its fit report, imported when first asked for
    (a run needs none, and the import is a tenth of that of optikit)."""
    def report(result: Result) -> Any:
        from ..fit import fit_report

        return fit_report(problem, result)
    return report


class FitResult(Result):
    """A :class:`~optikit.engine.Result` with the compiled problem it came from."""

    @classmethod
    def of(cls, result: Result, problem: Problem) -> FitResult:
        fit = cls(**{f.name: getattr(result, f.name) for f in fields(Result) if f.init})
        fit.problem = problem
        return fit

    def predict(self, data: Any, *, uncertainty: bool = False, level: float = 0.95) -> Any:
        """The fitted model on ``data`` (``{"x": array, ...}`` or a data source), one value per row.

        With ``uncertainty`` the :class:`~optikit.fit.predict.Bands` instead: the values, their
        standard errors by the delta method with the model's exact gradient, and the confidence and
        prediction bands at ``level`` (from the fit report's covariance)."""
        values = predict_with(self.problem, self.x, data)
        if not uncertainty:
            return values
        columns = _grouped(self.problem, gather(data) if isinstance(data, DataSource) else data)
        arrays = {c: np.asarray(columns[c], dtype=float) for c in self.problem.symbolic.inputs}
        inputs = {c: a if a.ndim == 2 else np.broadcast_to(a, values.shape) for c, a in arrays.items()}  # 2-D: a vector
        return self.report().predict_uncertainty(inputs, level)

    def plot(self, kind: str = "loss", path: str | Path | None = None) -> Figure:
        """The figure ``kind`` ("loss", "surface", "fit" or "residuals"); also saved to ``path`` if given."""
        from .fitplots import figure
        from .plots import check_plot_path, save

        if path is not None:
            check_plot_path(path, option="path=")
        fig = figure(self, kind, self.problem)
        if path is not None:
            save(fig, path)
        return fig

    def save(self, path: str | Path) -> Path:
        """Write the fitted parameters as JSON (what ``optikit predict --parameters`` reads)."""
        path = Path(path)
        spec = self.problem.spec if self.problem is not None else None
        payload = {"format": PARAMETERS_FORMAT, "name": self.name, "optimizer": self.optimizer,
                   "model": spec.model if spec is not None else None,
                   "spec": str(spec.path) if spec is not None and spec.path else None,
                   "parameters": {k: float(v) for k, v in self.parameters.items()}, "loss": self.loss,
                   "uncertainty": self._uncertainty()}
        try:
            path.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n", encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"cannot write the parameters: {exc.strerror or exc}", location=Location(str(path))) from None
        return path

    def _uncertainty(self) -> Any:
        """What ``optikit predict --uncertainty`` needs of the fit report (None without one)."""
        if self.reporter is None or self.problem is None or self.problem.spec.model is None:
            return None
        try:
            return self.report().uncertainty()
        except (OptikitError, ValueError, np.linalg.LinAlgError):
            return None


def load_uncertainty(path: str | Path, option: str = "--parameters") -> Any:
    """The fit report's uncertainty saved at ``path`` by :meth:`FitResult.save` (read after
    :func:`load_parameters` accepted the file), or a clear error when there is none."""
    state = json.loads(Path(path).read_text(encoding="utf-8")).get("uncertainty")
    if not isinstance(state, dict) or not isinstance(state.get("covariance"), list):
        raise SpecError("the parameters file holds no covariance (it was saved from a fit without a fit report, "
                        "such as one whose loss is not a likelihood); rerun optikit run --save", field=option,
                        location=Location(str(path)))
    return state


def load_parameters(path: str | Path, names: tuple[str, ...], option: str = "--parameters",
                    model: str | None = None) -> np.ndarray:
    """The parameter vector (in ``names`` order) saved at ``path`` by :meth:`FitResult.save`; with
    ``model``, the file must have been saved from that model (as written, spaces aside)."""
    where = Location(str(path))
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read the parameters: {exc.strerror or exc}", field=option, location=where) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"not a parameters file (JSON): {exc}", field=option, location=where) from None
    values = payload.get("parameters") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or payload.get("format") != PARAMETERS_FORMAT or not isinstance(values, dict):
        raise SpecError(f"not a parameters file: expected format {PARAMETERS_FORMAT!r} (optikit run --save)",
                        field=option, location=where)
    missing = [n for n in names if n not in values]
    extra = [n for n in values if n not in names]
    if missing or extra:
        raise SpecError(f"the parameters do not match the spec's ({', '.join(names)}): "
                        + "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                                f"unknown {', '.join(extra)}" if extra else "") if p),
                        field=option, location=where)
    saved = payload.get("model")
    if model is not None and isinstance(saved, str) and "".join(saved.split()) != "".join(model.split()):
        raise SpecError(f"the parameters were fitted to the model {saved!r}, not to this spec's {model!r}",
                        field=option, location=where, hint="predict with the spec they were saved from")
    bad = [n for n in names if isinstance(values[n], bool) or not isinstance(values[n], (int, float))]
    if bad:
        raise SpecError(f"parameter {bad[0]!r} is not a number: {values[bad[0]]!r}", field=option, location=where)
    return np.array([float(values[n]) for n in names], dtype=float)
