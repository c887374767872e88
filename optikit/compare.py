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
from .engine import Result
from .errors import DivergenceError, Location, RunError, SpecError, did_you_mean
from .optimizers.base import hyperparameters
from .output.report import STOP_REASONS
from .plugins.manager import plugin_manager
from .spec import ENGINE_KEYS, Spec

__all__ = ["Entry", "compare", "prepare_all", "format_table", "to_dict", "exit_code"]


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
            return STOP_REASONS.get(self.result.stop_reason, self.result.stop_reason) if self.result else "?"
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
    from .plugins.manager import Registry

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


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def format_table(entries: Sequence[Entry]) -> str:
    """Aligned rows: optimizer, final loss, steps, epochs, time, stop reason."""
    head = ("optimizer", "final loss", "steps", "epochs", "time (s)", "stop reason")
    rows = [head]
    for e in entries:
        r = e.result
        ok = r is not None and e.error is None
        rows.append((e.optimizer, _num(r.loss) if ok else "-", str(r.steps) if r else "-",
                     str(r.epochs) if r else "-", f"{r.elapsed:.3g}" if r else "-", e.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def to_dict(entries: Sequence[Entry]) -> dict[str, Any]:
    """JSON-ready comparison: one object per optimizer with its result (or error)."""
    runs = []
    for e in entries:
        item: dict[str, Any] = {"optimizer": e.optimizer, "hyperparameters": dict(e.hyperparameters),
                                "status": e.status}
        if e.result is not None:
            item.update({k: v for k, v in e.result.to_dict().items() if k not in ("optimizer", "name")})
        if e.error is not None:
            item["loss"] = None
            item["error"] = {"type": type(e.error).__name__, "message": str(e.error)}
        runs.append(item)
    name = next((e.result.name for e in entries if e.result is not None), None)
    return {"name": name, "runs": runs}


def compare_command(spec: Path, optimizers: str, sets: Sequence[tuple[str, Any]], shared: dict[str, Any], *,
                    plugins: Iterable[str] = (), fmt: str = "table", plot: str | None = None,
                    origins: Mapping[str, str] | None = None) -> int:
    """``optikit compare``: run, print the table or JSON, save the overlaid plot; return the exit code.

    ``sets`` are ``(key, value)`` pairs where ``opt.key`` targets one optimizer and a bare
    ``key`` all of them; a pair's ``option`` attribute, if any, is the option as typed, and
    ``origins`` those of ``shared`` (``{"lr": "--lr 0.1"}``): errors name them.
    """
    import sys

    if plot:
        from .output.plots import check_plot_path

        check_plot_path(plot)
    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    shared = dict(shared)
    per: dict[str, dict[str, Any]] = {}
    located: dict[tuple[str | None, str], str] = {(None, k): v for k, v in (origins or {}).items()}
    for item in sets:
        key, value = item
        opt, dot, name = key.rpartition(".")
        if dot:
            per.setdefault(opt, {})[name] = value
        else:
            shared[name] = value
        located[(opt if dot else None, name)] = getattr(item, "option", f"--set {key}")
    entries = compare(spec, names, per_optimizer=per, plugins=plugins, origins=located, **shared)
    if fmt == "json":
        from .output.report import to_json

        print(to_json(to_dict(entries)))
    else:
        print(format_table(entries))
    results = [e.result for e in entries if e.result is not None and len(e.result.history)]
    if plot and results:
        from .output.plots import plot_loss

        saved = plot_loss(results, plot, logy=True, title=results[0].name)
        print(f"plot saved to {saved}", file=sys.stderr)
    return exit_code(entries)
