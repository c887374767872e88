"""A record of a run in a folder of plain files, enough to reproduce it and to compare runs.

``spec.yaml`` (the spec's text as written, with its data file next to it), ``run.json`` (settings as run, seed, data fingerprint,
package and plugin versions, the final state), ``expressions.json`` (the canonical SymPy
expressions: loss, model, gradient), ``history.csv`` and the plots as PNG. JSON, CSV and PNG only:
nothing in a record is ever unpickled or executed.
"""

from __future__ import annotations

import csv
import importlib.metadata
import platform
import shutil
from pathlib import Path
from typing import Any

from ..errors import Location, SpecError

__all__ = ["check_record_dir", "write_record", "RECORD_FORMAT"]

RECORD_FORMAT = "optikit-record/1"
#: Data files up to this size are copied into a record.
MAX_COPY_BYTES = 16 * 2**20
_PACKAGES = ("optikit", "numpy", "sympy", "pluggy", "pyyaml", "matplotlib", "tqdm")


def check_record_dir(path: str | Path, option: str = "--record") -> None:
    """Refuse a record folder that cannot be made: its parent missing, or a file in its place."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise SpecError("exists and is not a folder", field=option, location=Location(str(target)))
    if not target.exists() and not target.parent.is_dir():
        raise SpecError("the folder that would hold it does not exist", field=option, location=Location(str(target)))


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _plugins(prepared: Any) -> list[dict[str, Any]]:
    pm = prepared.pm
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        out.append({"plugin": name, "source": pm.describe(plugin),
                    "version": dist.version if dist is not None else None})
    return out


def _expressions(problem: Any) -> dict[str, Any]:
    import sympy

    symbolic = problem.symbolic
    out: dict[str, Any] = {"loss": sympy.srepr(symbolic.loss_expr), "loss_text": sympy.sstr(symbolic.loss_expr),
                           "gradient": {n: sympy.srepr(g) for n, g in zip(symbolic.parameter_names, symbolic.grad_exprs)}}
    if problem.spec.model_expr is not None:
        out["model"] = sympy.srepr(problem.spec.model_expr)
        out["model_text"] = sympy.sstr(problem.spec.model_expr)
    return out


def _copy_data(spec: Any, folder: Path) -> None:
    """A data file the spec names, copied to the same place relative to the record's ``spec.yaml``,
    so that ``optikit run DIR/spec.yaml`` repeats the run (files above :data:`MAX_COPY_BYTES` are
    left out; ``run.json`` still names them and their fingerprint)."""
    ref = spec.data
    if ref is None or ref.path is None or not isinstance(ref.options.get("file"), str):
        return
    source = Path(ref.path)
    target = (folder / ref.options["file"]).resolve()
    # the loader keeps a spec's data in its folder or below it, so the copy stays in the record
    if folder.resolve() not in target.parents or source.stat().st_size > MAX_COPY_BYTES:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def write_record(folder: str | Path, prepared: Any, result: Any) -> Path:
    """Write the record of ``result`` (run from ``prepared``) into ``folder``; return the folder."""
    from .fitplots import check_plot_kind, figure
    from .plots import save
    from .report import to_json

    folder = Path(folder)
    check_record_dir(folder)
    spec, problem = prepared.spec, prepared.problem
    try:
        folder.mkdir(exist_ok=True)
        if spec.path is not None and Path(spec.path).is_file():
            (folder / "spec.yaml").write_text(Path(spec.path).read_text(encoding="utf-8"), encoding="utf-8")
            _copy_data(spec, folder)
        settings = {k: v for k, v in prepared.settings.values().items() if k != "schedule"}
        settings["schedule"] = spec.optimizer.schedule
        source = problem.source
        run = {
            "format": RECORD_FORMAT, "name": spec.name, "spec": str(spec.path) if spec.path else None,
            "optimizer": {"name": spec.optimizer.name, "hyperparameters": dict(spec.optimizer.hyperparameters)},
            "settings": settings, "seed": result.seed,
            "data": None if source is None else {"kind": spec.data.kind if spec.data else "arrays",
                                                 "path": str(spec.data.path) if spec.data and spec.data.path else None,
                                                 "rows": source.n_rows, "fingerprint": source.fingerprint()},
            "initial": dict(zip(problem.parameter_names, problem.initial.tolist())),
            "final": {k: v for k, v in result.to_dict().items() if k != "history"},
            "versions": {"python": platform.python_version(), **{p: _version(p) for p in _PACKAGES}},
            "plugins": _plugins(prepared),
        }
        (folder / "run.json").write_text(to_json(run) + "\n", encoding="utf-8")
        (folder / "expressions.json").write_text(to_json(_expressions(problem)) + "\n", encoding="utf-8")
        with open(folder / "history.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "step", "loss", *problem.parameter_names])
            for r in result.history:
                writer.writerow([r.epoch, r.step, repr(r.loss), *(repr(r.parameters[n]) for n in problem.parameter_names)])
        for kind in ("loss", "surface", "fit", "residuals"):
            try:
                check_plot_kind(problem, kind)
            except SpecError:  # e.g. no surface for three parameters: the record has the plots that exist
                continue
            save(figure(result, kind, problem), folder / f"{kind}.png")
    except OSError as exc:
        raise SpecError(f"cannot write the record: {exc.strerror or exc}", field="--record",
                        location=Location(str(folder))) from None
    return folder
