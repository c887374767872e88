"""Run one spec with several optimizers and put the runs side by side.

The spec's ``optimizer`` section keeps its engine keys (epochs, steps, tol, schedule, ...) for
every optimizer, but its hyperparameters belong to its own optimizer only: the others start from
their defaults. Overrides are per optimizer (``{"adam": {"lr": 0.05}}``) or shared
(``lr=``, ``epochs=``, ``steps=``). Every combination is prepared before anything runs, so a bad
name or hyperparameter is a :class:`SpecError` with nothing half done; a run that diverges is a
row of the comparison, not the end of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


from .api import Prepared, as_spec, prepare
from .engine import STOP_LABELS, Result
from .errors import DivergenceError, RunError, SpecError, did_you_mean
from .optimizers.base import hyperparameters
from .backends import DEFAULT_BACKEND, Data, open_split
from .plugins import OptikitPluginManager, Registry, plugin_manager
from .spec import Spec
from .spec.overrides import apply_overrides

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
    """The spec as optimizer ``name`` runs it: overrides checked like the file's (the one
    declaration of the run settings), each error located at the option or keyword that gave it."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    if name != spec.optimizer.name:  # another optimizer starts from its own defaults
        values["optimizer"], where["optimizer"] = name, "--optimizers"
    for key, value in {**shared, **own}.items():
        if value is None or (key == "lr" and key not in own and not accepts_lr):
            continue  # a shared --lr means nothing to an optimizer without a learning rate
        values[key], where[key] = value, _origin(origins, name if key in own else None, key)
    return apply_overrides(spec, values, where) if values else spec


def _origin(origins: Mapping[tuple[str | None, str], str] | None, optimizer: str | None, key: str) -> str:
    """Where a per-optimizer (``optimizer`` given) or shared setting came from, for its errors."""
    given = (origins or {}).get((optimizer, key))
    if given:
        return given
    return f"per_optimizer[{optimizer!r}][{key!r}]" if optimizer else f"keyword {key}="


def prepare_all(spec_or_path: Spec | str | Path, optimizers: Sequence[str], *,
                per_optimizer: Mapping[str, Mapping[str, Any]] | None = None, plugins: Iterable[str] = (),
                pm: OptikitPluginManager | None = None,
                origins: Mapping[tuple[str | None, str], str] | None = None, data: Data | None = None,
                backend: str = DEFAULT_BACKEND, **shared: Any) -> list[Prepared]:
    """Validate and compile the spec once per optimizer; raises :class:`SpecError` before any run.

    ``origins`` names where settings came from, for their errors: ``{("adam", "lr"): "--set
    adam.lr=0.1", (None, "steps"): "--steps 0"}`` (default: the keyword or ``per_optimizer`` entry).
    The data is opened once and every optimizer trains on the same rows; ``data`` and ``backend``
    as for :func:`optikit.run`.
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
    source, held_out = open_split(spec, data)
    out = []
    for name in names:
        entry = registry.optimizers.get(name)
        accepts_lr = entry is not None and any(h.name == "lr" for h in hyperparameters(entry.obj))
        one = _spec_for(spec, name, per_optimizer.get(name, {}), shared, accepts_lr, origins)
        try:
            out.append(prepare(one, pm=pm, data=source, validation=held_out, backend=backend))
        except SpecError as exc:
            err = exc.at(exc.location)
            err.message = f"with optimizer {name!r}: {exc.message}"
            err.args = (err._render(),)
            raise err from None
    return out


def compare(spec_or_path: Spec | str | Path, optimizers: Sequence[str], *,
            per_optimizer: Mapping[str, Mapping[str, Any]] | None = None, plugins: Iterable[str] = (),
            pm: OptikitPluginManager | None = None, origins: Mapping[tuple[str | None, str], str] | None = None,
            data: Data | None = None, backend: str = DEFAULT_BACKEND, **shared: Any) -> list[Entry]:
    """Run the spec with each optimizer; ``shared`` overrides (``lr``, ``epochs``, ...) apply to all.

    ``compare("specs/rosenbrock.yaml", ["gd", "adam"], per_optimizer={"adam": {"lr": 0.05}}, steps=500)``
    """
    entries = []
    for prepared in prepare_all(spec_or_path, optimizers, per_optimizer=per_optimizer, plugins=plugins, pm=pm,
                                origins=origins, data=data, backend=backend, **shared):
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
