"""The run settings, declared once: how long a run goes, on which batches, and when it stops.

:class:`RunSettings` is the one declaration. The spec's ``optimizer`` section
(:class:`~optikit.spec.OptimizerSpec`) and the engine's
:class:`~optikit.engine.Settings` both extend it; spec validation, overrides, the command-line
flags of ``optikit run`` and ``optikit compare`` are all read from its fields' metadata.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field, fields
from typing import Any, Mapping

__all__ = ["RunSettings", "Setting", "run_settings", "ENGINE_KEYS", "DEFAULT_EPOCHS", "KINDS"]

DEFAULT_EPOCHS = 100
#: How a setting's value is checked: a count (whole number >= 1), a seed (whole number >= 0), a
#: flag (true/false), a positive number, or a schedule (a name, or a mapping with ``name``).
KINDS = ("count", "seed", "flag", "positive", "schedule")


def _setting(default: Any, kind: str, doc: str, *, flag: str | None = None, shared: bool = False) -> Any:
    assert kind in KINDS
    return field(default=default, metadata={"kind": kind, "doc": doc, "flag": flag, "shared": shared})


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How long and on which batches a run goes, and when it stops early."""

    epochs: int | None = _setting(DEFAULT_EPOCHS, "count", "passes over the data", flag="--epochs", shared=True)
    steps: int | None = _setting(None, "count", "optimizer steps in all", flag="--steps", shared=True)
    batch_size: int | None = _setting(None, "count", "rows per step (default: the optimizer's)", flag="--batch-size")
    seed: int | None = _setting(None, "seed", "seed of the batch draws", flag="--seed", shared=True)
    shuffle: bool = _setting(True, "flag", "draw each epoch's batches from a new permutation")
    tol: float | None = _setting(None, "positive", "stop when the epoch loss changes by at most this", flag="--tol")
    gtol: float | None = _setting(None, "positive", "stop when every gradient component is at most this",
                                  flag="--gtol")
    max_time: float | None = _setting(None, "positive", "stop after this many seconds", flag="--max-time")
    schedule: Any = _setting(None, "schedule", "learning-rate schedule: a name, or a mapping with 'name'")
    sync_every: int | None = _setting(None, "count", "on a Dask cluster, local steps each partition takes between "
                                      "averagings of the parameters (local SGD); one process averages with itself",
                                      flag="--sync-every")

    def stops(self) -> bool:
        """Whether anything ends the run."""
        return any(getattr(self, k) is not None for k in ("epochs", "steps", "tol", "gtol", "max_time"))

    def values(self) -> Mapping[str, Any]:
        """The settings by name."""
        return {s.name: getattr(self, s.name) for s in run_settings()}


@dataclass(frozen=True)
class Setting:
    """One run setting as spec validation and the command line see it."""

    name: str
    kind: str
    doc: str
    default: Any
    flag: str | None
    shared: bool

    @classmethod
    def of(cls, f: Field) -> Setting:
        return cls(f.name, f.metadata["kind"], f.metadata["doc"], f.default, f.metadata["flag"], f.metadata["shared"])


def run_settings() -> tuple[Setting, ...]:
    """Every run setting, in declaration order."""
    return tuple(Setting.of(f) for f in fields(RunSettings))


#: Keys of a spec's ``optimizer`` section that drive the engine; every other key is a hyperparameter.
ENGINE_KEYS = ("name", *(f.name for f in fields(RunSettings)))
