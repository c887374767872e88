"""Console output of a run: the seed program's exact lines, a readable table, or JSON.

Each format is a :class:`Reporter` whose ``epoch`` is called as the run goes, so everything
computed up to a failure has already been printed when the failure is reported.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Mapping, TextIO

import numpy as np

from ..engine import STOPPED, EpochRecord, Result
from ..errors import counted
from ..spec import Spec
from ..backends import Problem
from ..symbolic import SymbolicProblem

__all__ = ["Reporter", "SeedReporter", "TableReporter", "JsonReporter", "REPORTERS", "predictions", "to_json"]

def predictions(problem: Problem, params: np.ndarray) -> list[tuple[tuple[Any, ...], float]]:
    """``[(inputs as written in the spec, prediction), ...]`` for the spec's ``predict`` section."""
    spec = problem.spec
    if not spec.predict:
        return []
    names = list(spec.predict)
    n = max(len(v) for v in spec.predict.values())
    rows = [tuple(spec.predict[c][i if len(spec.predict[c]) > 1 else 0] for c in names) for i in range(n)]
    values = problem.predict(params, {c: [float(r[j]) for r in rows] for j, c in enumerate(names)})
    values = np.broadcast_to(values, (n,))
    return [(row, float(v)) for row, v in zip(rows, values)]


class Reporter:
    """Prints a run. ``start`` before the first epoch, ``epoch`` after each, ``end`` with the result."""

    def __init__(self, problem: Problem, out: TextIO, every: int = 1, *, report: bool = False) -> None:
        self.problem, self.spec, self.out, self.every = problem, problem.spec, out, max(1, every)
        #: also print the fit report (``optikit run --report``)
        self.report = report

    def print(self, *parts: Any) -> None:
        print(*parts, file=self.out, flush=True)

    def start(self) -> None: ...

    def epoch(self, record: EpochRecord) -> None: ...

    def end(self, result: Result) -> None: ...

    def failed(self, error: BaseException, partial: Result | None) -> None: ...


class SeedReporter(Reporter):
    """The seed blog program's lines, digit for digit: Python's ``repr`` of every float."""

    def _predict(self, label: str, params: np.ndarray) -> None:
        for inputs, value in predictions(self.problem, params):
            self.print(label, *inputs, value)

    def start(self) -> None:
        self._predict("Predict (befortraining)", self.spec.initial)

    def epoch(self, record: EpochRecord) -> None:
        parts: list[Any] = ["Epoch:", record.epoch]
        for name, value in record.parameters.items():
            parts += [f"{name}=", value]
        self.print(*parts, "cost=", record.loss)

    def end(self, result: Result) -> None:
        self._predict("Predict(after training)", result.x)
        if self.report:
            self.print(result.report())


#: The most parameters the epoch table has a column for; with more, it shows the losses only.
TABLE_PARAMETERS = 8
#: The most elements of a vector parameter the final values list one by one.
SHOWN_ELEMENTS = 40


def _num(v: float) -> str:
    return f"{v:.10g}"


class TableReporter(Reporter):
    """One aligned row per epoch (every ``every``-th and the last), then a summary."""

    def start(self) -> None:
        names = self.problem.parameter_names
        # a row per epoch stays readable up to a few columns; the final values are printed at the end
        names = names if len(names) <= TABLE_PARAMETERS else ()
        self.widths = [max(12, len(n)) for n in names]
        self.validation = getattr(self.problem, "validation", None) is not None
        held = f"{'validation':>17} " if self.validation else ""
        header = f"{'epoch':>7} {'step':>8} {'loss':>17} {held}" + " ".join(f"{n:>{w + 5}}" for n, w in zip(names, self.widths))
        self.print(f"{self.spec.name}: {self._what()}")
        self.print(header)
        self._last: EpochRecord | None = None
        self._printed = -1

    def _what(self) -> str:
        opt = self.spec.optimizer
        hp = ", ".join(f"{k}={v}" for k, v in opt.hyperparameters.items())
        body = f"model {self.spec.model}" if self.spec.model else f"objective {self.spec.objective}"
        return f"{body}; loss {self.spec.loss}; optimizer {opt.name}" + (f" ({hp})" if hp else "")

    def _row(self, r: EpochRecord) -> None:
        vals = " ".join(f"{_num(v):>{w + 5}}" for v, w in zip(r.parameters.values(), self.widths))
        held = f"{_num(r.validation_loss):>17} " if self.validation and r.validation_loss is not None else ""
        self.print(f"{r.epoch:>7} {r.step:>8} {_num(r.loss):>17} {held}{vals}")
        self._printed = r.epoch

    def epoch(self, record: EpochRecord) -> None:
        self._last = record
        if record.epoch % self.every == 0:
            self._row(record)

    def _flush_last(self) -> None:
        if self._last is not None and self._printed != self._last.epoch:
            self._row(self._last)

    def end(self, result: Result) -> None:
        self._flush_last()
        seed = f" with seed {result.seed}" if result.seed is not None else ""
        why = STOPPED.get(result.stop_reason, f"by {result.stop_reason}")
        self.print(f"ran {counted(result.epochs, 'epoch')} ({counted(result.steps, 'step')}) in {result.elapsed:.3g} s"
                   f"{seed}; stopped {why}")
        self.print(f"loss: {_num(result.initial_loss)} -> {_num(result.loss)}")
        values = list(result.parameters.items())
        at = 0
        for p in self.spec.parameters:  # a long vector shows its ends; --save and --format json hold it whole
            part = values[at:at + p.size]
            at += p.size
            shown = part if p.size <= SHOWN_ELEMENTS else [*part[:3], None, *part[-2:]]
            for item in shown:
                self.print(f"  ... ({p.size - 5} more of {p.name}; --save PATH writes them all)" if item is None
                           else f"  {item[0]} = {item[1]!r}")
        for inputs, value in predictions(self.problem, result.x):
            args = ", ".join(f"{c}={v}" for c, v in zip(self.spec.predict, inputs))
            self.print(f"  predict({args}) = {value!r}")
        if self.report:
            self.print(result.report())

    def failed(self, error: BaseException, partial: Result | None) -> None:
        self._flush_last()


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, Mapping):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def to_json(obj: Any) -> str:
    """Strict JSON (no NaN tokens: non-finite floats become null or "inf")."""
    return json.dumps(_finite(obj), allow_nan=False, indent=2)


class JsonReporter(Reporter):
    """One JSON object at the end: the result, its history and the predictions (or the error)."""

    def _payload(self, result: Result) -> dict[str, Any]:
        data = result.to_dict()
        data["spec"] = str(self.spec.path) if self.spec.path else None
        data["predictions"] = [{"inputs": dict(zip(self.spec.predict, i)), "value": v}
                               for i, v in predictions(self.problem, result.x)]
        if self.report and result.reporter is not None:
            data["report"] = result.report().to_dict()
        return data

    def end(self, result: Result) -> None:
        self.print(to_json(self._payload(result)))

    def failed(self, error: BaseException, partial: Result | None) -> None:
        data = self._payload(partial) if partial is not None else {"name": self.spec.name}
        data["error"] = {"type": type(error).__name__, "message": str(error)}
        self.print(to_json(data))


REPORTERS: dict[str, Callable[..., Reporter]] = {"table": TableReporter, "seed": SeedReporter, "json": JsonReporter}


def _latex(problem: SymbolicProblem, hessian: bool) -> str:
    """One display-math line per expression: the loss, each partial derivative, the Hessian."""
    import sympy

    names = problem.derivative_names
    sym = {n: sympy.latex(p) + ("_j" if n.endswith("[j]") else "") for n, p in zip(names, problem.params)}
    lines = [f"% {problem.spec.name}: per-sample loss \\ell and its derivatives"
             + ("; in a derivative by w_j a vector stands for its j-th element" if problem.vectors else ""),
             f"\\ell = {sympy.latex(problem.loss_expr)}"]
    lines += [f"\\frac{{\\partial \\ell}}{{\\partial {sym[n]}}} = {sympy.latex(g)}"
              for n, g in zip(names, problem.derived_grad_exprs)]
    if hessian:
        lines += [(f"\\frac{{\\partial^2 \\ell}}{{\\partial {sym[a]}^2}}" if a == b else
                   f"\\frac{{\\partial^2 \\ell}}{{\\partial {sym[a]} \\partial {sym[b]}}}") + f" = {sympy.latex(h)}"
                  for a, row in zip(names, problem.hessian_exprs) for b, h in zip(names, row)]
    return "\n".join(lines)


def symbolic_report(problem: SymbolicProblem, *, hessian: bool = False, fmt: str = "text") -> str:
    """The per-sample loss and its derived gradient (and Hessian) for ``optikit grad``: as text,
    JSON, LaTeX (``fmt="latex"``) or the NumPy code the numpy backend runs (``fmt="code"``)."""
    import sympy

    if fmt == "latex":
        return _latex(problem, hessian)
    if fmt == "code":
        from ..backends.numpy import generated_code

        return generated_code(problem, ("loss", "grad", "hessian") if hessian else ("loss", "grad")).rstrip()
    spec, names = problem.spec, problem.derivative_names
    derived = problem.derived_grad_exprs
    data: dict[str, Any] = {"name": spec.name, "loss": sympy.sstr(problem.loss_expr),
                            "gradient": {n: sympy.sstr(g) for n, g in zip(names, derived)}}
    if hessian:
        data["hessian"] = {a: {b: sympy.sstr(h) for b, h in zip(names, row)}
                           for a, row in zip(names, problem.hessian_exprs)}
    if fmt == "json":
        return to_json(data)
    n = spec.data.n_rows if spec.data is not None else None
    rows = ("no data: the objective itself" if spec.model is None else
            f"the mean over {counted(n, 'row')}" if n is not None else "the mean over the rows")
    lines = [f"{spec.name}: per-sample loss and its derivatives (batch loss: {rows})", f"  loss = {data['loss']}"]
    lines += [f"  d loss / d {n} = {g}" for n, g in data["gradient"].items()]
    if problem.vectors is not None:
        lines.append("  (sum(...) runs over a vector's elements; in d loss / d w[j], a vector stands for its j-th element)")
    lines += [f"  d2 loss / d {a} d {b} = {h}" for a, row in data.get("hessian", {}).items() for b, h in row.items()]
    return "\n".join(lines)


def describe_spec(spec: Spec, n_rows: int | None = None) -> str:
    """One line about a spec (and its ``n_rows`` rows of data), for ``optikit validate``."""
    what = f"model {spec.model}" if spec.model else f"objective {spec.objective}"
    rows = f", {counted(n_rows, 'row')}" if spec.model and n_rows is not None else ""
    return (f"{spec.name}: {what}; {counted(len(spec.parameter_names), 'parameter')} ({', '.join(_declared(p) for p in spec.parameters)}){rows}; "
            f"loss {spec.loss}; optimizer {spec.optimizer.name}")


def _declared(p: Any) -> str:
    """``w[0..29]`` for a vector parameter, its name for a scalar."""
    return p.name if p.shape is None else f"{p.name}[0..{p.shape - 1}]"
