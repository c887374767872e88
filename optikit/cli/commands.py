"""The bodies of the ``optikit`` commands: each takes the parsed command line and returns the exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import DivergenceError, OptikitError, SpecError
from ..settings import run_settings
from ..data import steps_per_epoch
from ..spec import Spec

__all__ = ["cmd_run", "cmd_check", "cmd_grad", "cmd_validate", "cmd_compare", "cmd_plugins", "cmd_schema"]


def _plugins(args: argparse.Namespace) -> list[str]:
    return [*args.plugins, *getattr(args, "plugins_after", [])]


def _overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The overrides of the spec on the command line, and the option each one came from."""
    flags = {"optimizer": "--optimizer", "lr": "--lr", **{s.name: s.flag for s in run_settings() if s.flag}}
    values = {k: getattr(args, k) for k in flags if getattr(args, k, None) is not None}
    origins = {k: f"{flags[k]} {v}" for k, v in values.items()}
    for item in args.sets:
        values[item[0]] = item[1]
        origins[item[0]] = getattr(item, "option", f"--set {item[0]}")
    return values, origins


def _spec(args: argparse.Namespace) -> Any:
    from ..spec import load_spec
    from ..spec.overrides import apply_overrides

    values, origins = _overrides(args)
    spec = load_spec(args.spec)
    return apply_overrides(spec, values, origins) if values else spec


def cmd_run(args: argparse.Namespace) -> int:
    from ..api import prepare

    if args.symbolic_timeout is not None:
        from ..symbolic.bounded import set_timeout

        set_timeout(args.symbolic_timeout)
    backend = {"backend": args.backend} if args.backend is not None else {}
    prepared = prepare(_spec(args), **_loaded(args), plugin_options=_options(args), trust_gradient=args.trust_gradient,
                       dask=args.dask, **backend)
    try:
        return _run_prepared(args, prepared)
    finally:
        prepared.close()


def _run_prepared(args: argparse.Namespace, prepared: Any) -> int:
    from ..output.report import REPORTERS

    from ..engine.runio import run_controlled
    from .outputs import check_outputs, write_outputs

    check_outputs(args, prepared.problem)
    every = args.every or _every(prepared)
    bar = progress_bar(prepared, quiet=args.quiet)
    out = bar.stream(sys.stdout) if bar is not None else sys.stdout
    reporter = REPORTERS[args.format](prepared.problem, out, every, report=args.report)
    callbacks = [reporter.epoch] if bar is None else [bar.epoch, reporter.epoch]
    try:
        result = run_controlled(prepared, callbacks, on_start=reporter.start, history=args.history,
                                checkpoint=args.checkpoint,
                                checkpoint_every=args.checkpoint_every, resume=args.resume,
                                on_nonfinite=args.on_nonfinite, max_skips=args.max_skips,
                                on_step=bar.step if bar is not None else None)
    except DivergenceError as exc:
        reporter.failed(exc, exc.result)  # what was computed is printed before the error
        raise
    finally:
        if bar is not None:  # erased before the summary, the plots' notes or an error are printed
            bar.close()
    reporter.end(result)
    write_outputs(args, prepared, result)
    return 130 if result.stop_reason == "interrupted" else 0


def progress_bar(prepared: Any, *, quiet: bool = False) -> Any:
    """A progress bar on standard error for this run, or None when it is not a terminal or ``quiet``."""
    from ..output.progress import Progress, total_steps, wanted

    if not wanted(sys.stderr, quiet):
        return None
    settings = prepared.settings
    return Progress(total_steps(settings.epochs, settings.steps, prepared.problem.n_rows, settings.batch_size))


def _every(prepared: Any) -> int:
    """Table rows to skip so a long run prints about 50 (epochs implied by ``steps`` count too)."""
    settings, n = prepared.settings, prepared.problem.n_rows
    epochs = settings.epochs
    if settings.steps is not None:
        implied = -(-settings.steps // steps_per_epoch(n, settings.batch_size))
        epochs = implied if epochs is None else min(epochs, implied)
    return 1 if not epochs or epochs <= 200 else -(-epochs // 50)


def cmd_check(args: argparse.Namespace) -> int:
    """``optikit check``: print the report (text or JSON); 0 if every comparison agrees, else 1."""
    from ..gradcheck import DEFAULT_ATOL, DEFAULT_EPS, DEFAULT_RTOL, check
    from ..output.report import to_json

    for name in ("atol", "rtol", "eps"):
        value = getattr(args, name)
        if value is not None and not (value >= 0 if name != "eps" else value > 0):
            raise SpecError(f"--{name} must be {'positive' if name == 'eps' else 'non-negative'}, got {value}")
    report = check(args.spec, **_loaded(args), hessian=args.hessian,
                   atol=DEFAULT_ATOL if args.atol is None else args.atol,
                   rtol=DEFAULT_RTOL if args.rtol is None else args.rtol,
                   eps=DEFAULT_EPS if args.eps is None else args.eps)
    print(to_json(report.to_dict()) if args.format == "json" else report)
    return report.exit_code


def cmd_grad(args: argparse.Namespace) -> int:
    from ..api import as_spec
    from ..output.report import symbolic_report
    from ..plugins import Registry, plugin_manager
    from ..symbolic import symbolic_problem

    # only the loss's derivatives: the spec's optimizer need not be able to use them, nor its rows be read
    pm = _loaded(args).get("pm") or plugin_manager(_plugins(args))
    problem = symbolic_problem(as_spec(args.spec), Registry.build(pm).loss_texts())
    print(symbolic_report(problem, hessian=args.hessian, fmt=args.format))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ..api import validate
    from ..output.report import describe_spec
    from ..plugins import plugin_manager

    pm = _loaded(args).get("pm") or plugin_manager(_plugins(args))
    failed = 0
    for path in args.specs:
        try:
            checked = validate(path, pm=pm)
        except OptikitError as exc:
            print(f"optikit: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if isinstance(checked, Spec):
            print(f"ok {path}: {describe_spec(checked)}; its data is given at run time")
        else:
            print(f"ok {path}: {describe_spec(checked.spec, checked.problem.n_rows)}")
        for warning in _domain_warnings(checked):
            print(f"optikit: {warning}", file=sys.stderr)
    return 2 if failed else 0


def _domain_warnings(checked: Any) -> list[Any]:
    """Likely domain problems of a validated spec, with the data's lowest values when it was read."""
    import numpy as np

    from ..data import gather
    from ..symbolic.domain import domain_warnings

    if isinstance(checked, Spec):
        return domain_warnings(checked)
    source = checked.problem.source
    lows = {c: float(np.min(v)) for c, v in gather(source).items()} if source is not None else {}
    return domain_warnings(checked.spec, lows)


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_command

    shared_flags = {"lr": "--lr", **{s.name: s.flag for s in run_settings() if s.flag and s.shared}}
    shared = {k: getattr(args, k) for k in shared_flags if getattr(args, k) is not None}
    # a bad value is blamed on the option that gave it
    shared_origins = {k: f"{shared_flags[k]} {v}" for k, v in shared.items()}
    return compare_command(args.spec, args.optimizers, args.sets, shared, **_loaded(args), fmt=args.format,
                           plot=args.plot, origins=shared_origins, plot_surface=args.plot_surface)


def cmd_schema(args: argparse.Namespace) -> int:
    """``optikit schema``: the spec format as JSON Schema, with the installed optimizers' hyperparameters."""
    import json

    from ..optimizers.base import hyperparameters
    from ..plugins import Registry, plugin_manager
    from ..spec.schema import spec_schema

    optimizers = None
    if not args.any_optimizer:
        registry = Registry.build(_loaded(args).get("pm") or plugin_manager(_plugins(args)))
        optimizers = {name: [(h.name, h.default, h.required) for h in hyperparameters(entry.obj)]
                      for name, entry in registry.optimizers.items()}
    print(json.dumps(spec_schema(optimizers), indent=2))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import cmd_plugins as list_plugins, load_plugins

    if getattr(args, "pm", None) is None:
        args.pm = load_plugins(_plugins(args))
    return list_plugins(args)


def _loaded(args: argparse.Namespace) -> dict[str, Any]:
    """The plugin manager ``main`` loaded (``pm=``), or the ``-p`` list to load one from."""
    pm = getattr(args, "pm", None)
    return {"pm": pm} if pm is not None else {"plugins": _plugins(args)}


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed command line, as plugins' ``optikit_run_start`` receives it."""
    return {k: v for k, v in vars(args).items() if k not in ("func", "pm")}
