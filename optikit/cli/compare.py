"""``optikit compare``: one spec, several optimizers, one table (or JSON) and one plot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..compare import Entry, compare, exit_code
from ..errors import SpecError
from ..output.plots import check_plot_path, plot_loss
from ..output.report import to_json

__all__ = ["format_table", "to_dict", "compare_command"]


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
                    plugins: Iterable[str] = (), pm: Any = None, fmt: str = "table", plot: str | None = None,
                    origins: Mapping[str, str] | None = None, plot_surface: str | None = None) -> int:
    """``optikit compare``: run, print the table or JSON, save the overlaid plot; return the exit code.

    ``sets`` are ``(key, value)`` pairs where ``opt.key`` targets one optimizer and a bare
    ``key`` all of them; a pair's ``option`` attribute, if any, is the option as typed, and
    ``origins`` those of ``shared`` (``{"lr": "--lr 0.1"}``): errors name them.
    """
    if plot:
        check_plot_path(plot)
    if plot_surface:
        check_plot_path(plot_surface, "--plot-surface")
        from ..spec import load_spec

        n = len(load_spec(spec).parameters)
        if n > 2:
            raise SpecError(f"a loss surface is drawn for one or two parameters; this spec has {n}",
                            field="--plot-surface")
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
    entries = compare(spec, names, per_optimizer=per, plugins=plugins, pm=pm, origins=located, **shared)
    if fmt == "json":
        print(to_json(to_dict(entries)))
    else:
        print(format_table(entries))
    results = [e.result for e in entries if e.result is not None and len(e.result.history)]
    if plot and results:
        saved = plot_loss(results, plot, logy=True, title=results[0].name)
        print(f"plot saved to {saved}", file=sys.stderr)
    if plot_surface and results:
        from ..output.fitplots import surface_figure
        from ..output.plots import save

        problem = next((r.problem for r in results if r.problem is not None), None)
        if problem is not None:  # None: every run diverged, and a diverged run's result has no problem
            saved = save(surface_figure(results, problem), plot_surface)
            print(f"surface plot saved to {saved}", file=sys.stderr)
    return exit_code(entries)
