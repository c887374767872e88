"""What a run produces: one record per epoch, the history of them, and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import RunError, counted

__all__ = ["EpochRecord", "History", "Result", "STOP_REASONS", "STOPPED", "STOP_LABELS"]

#: Why a run stopped, as the end of "stopped ..." (``Result.stop_reason`` stays the short key).
STOPPED = {"epochs": "at the epoch limit", "steps": "at the step limit",
           "tol": "because the loss changed by at most tol", "gtol": "because the gradient came within gtol of zero",
           "converged": "because the optimizer's convergence tests held",
           "max_time": "at the time limit (max_time)", "callback": "by a callback", "interrupted": "by an interrupt",
           "diverged": "because the run diverged"}
#: The same, short enough for a table's "stop reason" column.
STOP_LABELS = {"epochs": "epoch limit", "steps": "step limit", "tol": "loss change within tol",
               "gtol": "gradient within gtol", "converged": "converged", "max_time": "time limit", "callback": "stopped by a callback",
               "interrupted": "interrupted", "diverged": "diverged"}
#: Every reason a run can stop for (``Result.stop_reason``).
STOP_REASONS = tuple(STOPPED)


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: full-data loss before its steps, parameters after them, steps taken so far, and
    the loss over held-out rows at the same point as ``loss`` (``None`` without a validation split)."""

    epoch: int
    step: int
    loss: float
    parameters: Mapping[str, float]
    validation_loss: float | None = None


@dataclass
class History:
    """Per-epoch records of a run, with array views for plotting and analysis."""

    names: tuple[str, ...]
    records: list[EpochRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, i: int) -> EpochRecord:
        return self.records[i]

    @property
    def epochs(self) -> np.ndarray:
        return np.array([r.epoch for r in self.records], dtype=int)

    @property
    def loss(self) -> np.ndarray:
        return np.array([r.loss for r in self.records], dtype=float)

    @property
    def parameters(self) -> np.ndarray:
        """``(epochs, parameters)`` array of the parameters after each epoch."""
        return np.array([[r.parameters[n] for n in self.names] for r in self.records], dtype=float).reshape(-1, len(self.names))

    @property
    def validation_loss(self) -> np.ndarray | None:
        """Held-out loss per epoch; ``None`` for a run without a validation split."""
        if not self.records or self.records[0].validation_loss is None:
            return None
        return np.array([r.validation_loss for r in self.records], dtype=float)

    def to_list(self) -> list[dict[str, Any]]:
        return [{"epoch": r.epoch, "step": r.step, "loss": r.loss,
                 **({"validation_loss": r.validation_loss} if r.validation_loss is not None else {}),
                 "parameters": dict(r.parameters)} for r in self.records]


@dataclass
class Result:
    """What a run produced. ``loss`` is the full-data loss at the final ``parameters``."""

    name: str
    optimizer: str
    parameters: dict[str, float]
    loss: float
    initial_loss: float
    history: History
    epochs: int
    steps: int
    stop_reason: str
    seed: int | None
    elapsed: float
    #: the compiled problem the run trained (set by :meth:`optikit.api.Prepared.run`; ``None`` from
    #: the bare engine): what predicting with the fitted model and plotting it need
    problem: Any = field(default=None, repr=False, compare=False)
    #: builds the fit report (set by ``optikit.api`` when it runs a compiled spec)
    reporter: Callable[[Result], Any] | None = field(default=None, repr=False, compare=False)
    _report: Any = field(default=None, init=False, repr=False, compare=False)

    def report(self) -> Any:
        """The :class:`~optikit.fit.FitReport`: standard errors, confidence intervals, correlations,
        goodness of fit. Raises :class:`~optikit.errors.RunError` for a result the engine made alone."""
        if self.reporter is None:
            raise RunError("this result has no compiled problem to report on; run it through optikit.run "
                           "or Prepared.run")
        # built once: --report, --save, the fit plot's band and predictions with uncertainty all read it
        if self._report is None:
            self._report = self.reporter(self)
        return self._report

    @property
    def x(self) -> np.ndarray:
        """Final parameters as a vector in spec order."""
        return np.array(list(self.parameters.values()), dtype=float)

    def _facts(self) -> list[tuple[str, str]]:
        return [("optimizer", self.optimizer), ("loss", f"{self.initial_loss:.6g} → {self.loss:.6g}"),
                ("run", f"{counted(self.epochs, 'epoch')}, {counted(self.steps, 'step')}, {self.elapsed:.3g} s"),
                ("stopped", STOP_LABELS.get(self.stop_reason, self.stop_reason))]

    def __str__(self) -> str:
        rows = [*self._facts(), *((f"  {k}", repr(v)) for k, v in self.parameters.items())]
        width = max(len(k) for k, _ in rows)
        return "\n".join([self.name, *(f"{k:<{width}}  {v}" for k, v in rows)])

    def _repr_html_(self) -> str:
        """The run as HTML tables, for Jupyter: what it did, then the parameters."""
        facts = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>{escape(v)}</td></tr>"
                        for k, v in self._facts())
        params = "".join(f"<tr><td>{escape(k)}</td><td>{v!r}</td></tr>" for k, v in self.parameters.items())
        return (f"<div><strong>{escape(self.name)}</strong><table>{facts}</table>"
                f"<table><thead><tr><th>parameter</th><th>value</th></tr></thead><tbody>{params}</tbody></table></div>")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "optimizer": self.optimizer,
            "parameters": dict(self.parameters),
            "loss": self.loss,
            "initial_loss": self.initial_loss,
            "epochs": self.epochs,
            "steps": self.steps,
            "stop_reason": self.stop_reason,
            "seed": self.seed,
            "elapsed": self.elapsed,
            "history": self.history.to_list(),
        }
