"""Run one spec with several optimizers and put the runs side by side.

The spec's ``optimizer`` section keeps its engine keys (epochs, steps, tol, schedule, ...) for
every optimizer, but its hyperparameters belong to its own optimizer only: the others start from
their defaults. Overrides are per optimizer (``{"adam": {"lr": 0.05}}``) or shared
(``lr=``, ``epochs=``, ``steps=``). Every combination is prepared before anything runs, so a bad
name or hyperparameter is a :class:`SpecError` with nothing half done; a run that diverges is a
row of the comparison, not the end of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import pluggy

from .api import Prepared, as_spec, prepare
from .engine import STOP_LABELS, Result
from .errors import DivergenceError, Location, RunError, SpecError, did_you_mean
from .optimizers.base import hyperparameters
from .plugins import Registry, plugin_manager
from .spec import ENGINE_KEYS, Spec

__all__ = ["Entry", "compare", "prepare_all", "exit_code"]


@dataclass
class Entry:
    """One optimizer's run: its result, or the error that ended it (then ``result`` is partial)."""

    optimizer: str
    hyperparameters: dict[str, Any]
    result: Result | None
    error: RunError | None = None

    @property
    def diverged(self) -> bool:
        return isinstance(self.error, DivergenceError)

    @property
    def status(self) -> str:
        """The stop reason, or what ended the run early."""
        if self.error is None:
            return STOP_LABELS.get(self.result.stop_reason, self.result.stop_reason) if self.result else "?"
        if isinstance(self.error, DivergenceError):
            return f"diverged at epoch {self.error.epoch}"
        return f"failed: {self.error}"


def _spec_for(spec: Spec, name: str, own: Mapping[str, Any], shared: Mapping[str, Any], accepts_lr: bool,
              origins: Mapping[tuple[str | None, str], str] | None = None) -> Spec:
    opt = spec.optimizer
    hyper = dict(opt.hyperparameters) if name == opt.name else {}
    fields: dict[str, Any] = {}
    located: dict[tuple[str, ...], str] = {}
    for key, value in {**shared, **own}.items():
        if value is None:
            continue
        origin = _origin(origins, name if key in own else None, key)
        if key in ("epochs", "steps", "batch_size", "seed") and (
                isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "seed" else 1)):
            raise SpecError(f"expected a positive whole number, got {value!r}", field=f"optimizer.{key}",
                            location=Location(origin))
        if key == "lr" and key not in own and not accepts_lr:
            continue  # a shared --lr means nothing to an optimizer without a learning rate
        if key in ENGINE_KEYS and key != "name":
            fields[key] = value
        else:
            hyper[key] = value
        located[("optimizer", key)] = origin
    if "epochs" in fields and "steps" not in fields:
        fields["steps"] = None  # --epochs replaces the spec's length of run, steps included
    if "steps" in fields and "epochs" not in fields:
        fields["epochs"] = None
    return replace(spec, optimizer=replace(opt, name=name, hyperparameters=MappingProxyType(hyper), **fields),
                   source=spec.source.overlaid(located))


def _origin(origins: Mapping[tuple[str | None, str], str] | None, optimizer: str | None, key: str) -> str:
    """Where a per-optimizer (``optimizer`` given) or shared setting came from, for its errors."""
    given = (origins or {}).get((optimizer, key))
    if given:
        return given
    return f"per_optimizer[{optimizer!r}][{key!r}]" if optimizer else f"keyword {key}="


def prepare_all(spec_or_path: Spec | str | Path, optimizers: Sequence[str], *,
                per_optimizer: Mapping[str, Mapping[str, Any]] | None = None, plugins: Iterable[str] = (),
                pm: pluggy.PluginManager | None = None,
                origins: Mapping[tuple[str | None, str], str] | None = None, **shared: Any) -> list[Prepared]:
    """Validate and compile the spec once per optimizer; raises :class:`SpecError` before any run.

    ``origins`` names where settings came from, for their errors: ``{("adam", "lr"): "--set
    adam.lr=0.1", (None, "steps"): "--steps 0"}`` (default: the keyword or ``per_optimizer`` entry).
    """
    spec = as_spec(spec_or_path)
    per_optimizer = dict(per_optimizer or {})
    names = list(dict.fromkeys(optimizers))
    if not names:
        raise SpecError("name at least one optimizer to compare", field="--optimizers")
    stray = [n for n in per_optimizer if n not in names]
    if stray:
        raise SpecError(f"settings for {', '.join(map(repr, stray))}, which is not compared "
                        f"(optimizers: {', '.join(names)})", field="--set")
    pm = pm or plugin_manager(plugins)
    registry = Registry.build(pm)
    unknown = [n for n in names if n not in registry.optimizers]
    if unknown:  # named on the command line, so not a fault of any line of the spec
        raise SpecError(f"unknown optimizer {unknown[0]!r}; registered: {', '.join(sorted(registry.optimizers))}",
                        field="--optimizers", hint=did_you_mean(unknown[0], registry.optimizers))
    out = []
    for name in names:
        entry = registry.optimizers.get(name)
        accepts_lr = entry is not None and any(h.name == "lr" for h in hyperparameters(entry.obj))
        one = _spec_for(spec, name, per_optimizer.get(name, {}), shared, accepts_lr, origins)
        try:
            out.append(prepare(one, pm=pm))
        except SpecError as exc:
            err = exc.at(exc.location)
            err.message = f"with optimizer {name!r}: {exc.message}"
            err.args = (err._render(),)
            raise err from None
    return out


def compare(spec_or_path: Spec | str | Path, optimizers: Sequence[str], *,
            per_optimizer: Mapping[str, Mapping[str, Any]] | None = None, plugins: Iterable[str] = (),
            origins: Mapping[tuple[str | None, str], str] | None = None, **shared: Any) -> list[Entry]:
    """Run the spec with each optimizer; ``shared`` overrides (``lr``, ``epochs``, ...) apply to all.

    ``compare("specs/rosenbrock.yaml", ["gd", "adam"], per_optimizer={"adam": {"lr": 0.05}}, steps=500)``
    """
    entries = []
    for prepared in prepare_all(spec_or_path, optimizers, per_optimizer=per_optimizer, plugins=plugins,
                                origins=origins, **shared):
        hyper = dict(prepared.spec.optimizer.hyperparameters)
        try:
            entries.append(Entry(prepared.spec.optimizer.name, hyper, prepared.run()))
        except DivergenceError as exc:
            entries.append(Entry(prepared.spec.optimizer.name, hyper, exc.result, exc))
        except RunError as exc:
            entries.append(Entry(prepared.spec.optimizer.name, hyper, None, exc))
    return entries


def exit_code(entries: Sequence[Entry]) -> int:
    """0 if every run finished, 1 if any diverged or failed."""
    return 1 if any(e.error is not None for e in entries) else 0
