"""A record of a run in a folder of plain files, enough to reproduce it and to compare runs.

``spec.yaml`` (the spec as run: overrides and the seed applied; ``spec.as_written.yaml`` is the
text as written), its data files next to it, ``run.json`` (settings as run, seed, data fingerprint,
package and plugin versions, the final state), ``expressions.json`` (the canonical SymPy
expressions: loss, model, gradient), ``history.csv`` and the plots as PNG. JSON, CSV and PNG only:
nothing in a record is ever unpickled or executed.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
from pathlib import Path
from typing import Any, Mapping

from ..engine.runio import HistoryWriter
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
                           "gradient": {n: sympy.srepr(g) for n, g in zip(symbolic.derivative_names, symbolic.grad_exprs)}}
    if problem.spec.model_expr is not None:
        out["model"] = sympy.srepr(problem.spec.model_expr)
        out["model_text"] = sympy.sstr(problem.spec.model_expr)
    return out


def _copy_data(spec: Any, folder: Path) -> None:
    """The data files the spec names (its source, and a ``validation`` source's), copied to the same
    place relative to the record's ``spec.yaml``, so that ``optikit run DIR/spec.yaml`` repeats the
    run (files above :data:`MAX_COPY_BYTES` are left out; ``run.json`` still names them and the
    data's fingerprint)."""
    refs = [spec.data, spec.data.options.get("validation")] if spec.data is not None else []
    base = Path(spec.path).resolve().parent
    for ref in refs:
        if ref is None or getattr(ref, "path", None) is None or not isinstance(ref.options.get("file"), str):
            continue
        if ref.options.get("files"):  # a folder or glob: each of its files at its place below the spec
            pairs = [(Path(f), folder / Path(f).relative_to(base)) for f in ref.options["files"]]
        else:
            pairs = [(Path(ref.path), folder / ref.options["file"])]
        for source, target in pairs:
            target = target.resolve()
            # the loader keeps a spec's data in its folder or below it, so the copy stays in the record
            if folder.resolve() not in target.parents or source.stat().st_size > MAX_COPY_BYTES:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def _effective_spec(spec: Any, prepared: Any, seed: int | None) -> str:
    """The spec's text with the optimizer section and the initial values the run actually used
    (command-line overrides applied, the drawn seed written in), so the record repeats the run."""
    import yaml

    from ..spec.yamlsafe import load

    raw, _ = load(Path(spec.path).read_text(encoding="utf-8"), str(spec.path))
    opt = spec.optimizer
    section: dict[str, Any] = {"name": opt.name, **_plain(dict(opt.hyperparameters))}
    for key, value in opt.values().items():
        if value is not None and key != "seed":
            section[key] = _plain(value)
    if seed is not None:
        section["seed"] = seed
    if "steps" in section and opt.epochs is None:
        section.pop("epochs", None)
    raw["optimizer"] = section
    raw["parameters"] = {p.name: _parameter(p) for p in spec.parameters}
    head = "# The spec as run (overrides and the seed applied); the text as written is spec.as_written.yaml\n"
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=False)


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


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
            (folder / "spec.as_written.yaml").write_text(Path(spec.path).read_text(encoding="utf-8"), encoding="utf-8")
            (folder / "spec.yaml").write_text(_effective_spec(spec, prepared, result.seed), encoding="utf-8")
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
        history = HistoryWriter(folder / "history.csv", problem.parameter_names)  # what --history writes
        try:
            for record in result.history:
                history(record)
        finally:
            history.close()
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


def _parameter(p: Any) -> Any:
    """A parameter as a spec declares it: its initial value, or a mapping with shape and bounds."""
    init = list(p.init) if p.shape is not None else p.init
    if p.shape is None and p.min is None and p.max is None:
        return init
    fields = (("shape", p.shape), ("init", init), ("min", p.min), ("max", p.max))
    return {k: v for k, v in fields if v is not None}
