"""The ``optikit`` command: ``run``, ``grad``, ``check``, ``validate`` and ``plugins``.

Errors a user can cause print one message (file:line:column, field, what to do) and exit with
2 (bad spec, plugin or usage) or 1 (a run that failed); ``--traceback`` shows the Python stack.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import DivergenceError, OptikitError, SpecError
from ..settings import run_settings
from ..spec import Spec
from ..version import __version__

__all__ = ["main", "build_parser"]


def _plugin_args(parser: argparse.ArgumentParser, dest: str) -> None:
    parser.add_argument("-p", dest=dest, action="append", default=[], metavar="PLUGIN",
                        help="load a plugin: a module name or a path to a .py file; no:NAME blocks one: an entry "
                             "point, a -p module, or a built-in (optimizers, losses, schedules) (repeatable)")
    parser.add_argument("--traceback", dest=f"{dest}_tb", action="store_true", help="show Python tracebacks of errors")


class Assignment(tuple):
    """A parsed ``--set KEY=VALUE``: the pair ``(key, value)`` that remembers the option as typed,
    so an error about the value can name the option rather than a line of the spec."""

    option: str

    def __new__(cls, key: str, value: Any, option: str) -> Assignment:
        pair = super().__new__(cls, (key, value))
        pair.option = option
        return pair


def _override(text: str) -> Assignment:
    from ..spec.yamlsafe import load

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed, _ = load(value, "--set")
    except SpecError as exc:
        raise argparse.ArgumentTypeError(f"{key}: {exc.message}") from None
    if isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"{key}: expected a number, true/false, text or a list")
    return Assignment(key.strip(), tuple(parsed) if isinstance(parsed, list) else parsed, f"--set {text}")


def build_parser(pm: Any = None) -> argparse.ArgumentParser:
    """The argument parser of the ``optikit`` command; ``pm``'s plugins may add ``run`` options."""
    parser = argparse.ArgumentParser(prog="optikit", description="Fit models and minimize objectives written as YAML specs.")
    parser.add_argument("--version", action="version", version=f"optikit {__version__}")
    _plugin_args(parser, "plugins")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _plugin_args(p, "plugins_after")
        p.set_defaults(func=func)
        return p

    run = command("run", "train a spec and report the run", cmd_run)
    run.add_argument("spec", type=Path, help="the spec file (YAML)")
    run.add_argument("--format", choices=("table", "seed", "json"), default="table",
                     help="table: readable per-epoch table (default); seed: the seed program's exact lines; json: one object")
    run.add_argument("--every", type=int, default=None, metavar="N", help="table: print every N-th epoch")
    run.add_argument("--plot", nargs="?", const="-", default=None, metavar="PATH",
                     help="save the loss curve to PATH (PNG, SVG, PDF); without PATH, show it in a window")
    run.add_argument("--no-plot", action="store_true", help="do not plot (overrides --plot)")
    run.add_argument("--optimizer", help="use this optimizer instead of the spec's")
    run.add_argument("--lr", type=float, help="learning rate")
    _setting_args(run, every=False)
    run.add_argument("--backend", default=None, metavar="NAME",
                     help="evaluate with this backend (default: numpy; see 'optikit plugins')")
    run.add_argument("--set", dest="sets", action="append", default=[], type=_override, metavar="KEY=VALUE",
                     help="set any optimizer key or hyperparameter, e.g. --set momentum=0.9 (repeatable)")
    _run_safety_args(run)
    run.add_argument("--trust-gradient", action="store_true",
                     help="train with the spec's hand-written 'gradient' even if it disagrees with the derived one")
    if pm is not None:
        from .plugins import add_plugin_options

        add_plugin_options(pm, run)

    grad = command("grad", "print the symbolic loss, gradient (and Hessian) of a spec", cmd_grad)
    grad.add_argument("spec", type=Path)
    grad.add_argument("--hessian", action="store_true", help="also print the second derivatives")
    grad.add_argument("--format", choices=("text", "json"), default="text")

    check = command("check", "check gradients: derived vs finite differences vs hand-written", cmd_check)
    check.add_argument("spec", type=Path)
    check.add_argument("--hessian", action="store_true", help="also check the second derivatives")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--atol", type=float, default=None, help="absolute tolerance (default 1e-5)")
    check.add_argument("--rtol", type=float, default=None, help="relative tolerance (default 1e-3)")
    check.add_argument("--eps", type=float, default=None, help="finite-difference step, scaled by max(1, |p|) (default 1e-6)")

    validate = command("validate", "check specs without running them", cmd_validate)
    validate.add_argument("specs", type=Path, nargs="+", metavar="spec")

    plugins = command("plugins", "list plugins, their optimizers, losses, schedules and backends", cmd_plugins)
    plugins.add_argument("--format", choices=("text", "json"), default="text")

    cmp = command("compare", "run a spec with several optimizers and compare the runs", cmd_compare)
    cmp.add_argument("spec", type=Path, help="the spec file (YAML)")
    cmp.add_argument("--optimizers", required=True, metavar="A,B,...", help="comma-separated optimizer names")
    cmp.add_argument("--format", choices=("table", "json"), default="table")
    cmp.add_argument("--plot", default=None, metavar="PATH", help="save the overlaid loss curves (log scale) to PATH")
    cmp.add_argument("--lr", type=float, help="learning rate of every optimizer that has one")
    _setting_args(cmp, every=True)
    cmp.add_argument("--set", dest="sets", action="append", default=[], type=_override, metavar="[OPT.]KEY=VALUE",
                     help="a hyperparameter of one optimizer (adam.lr=0.05) or, without OPT., of all (repeatable)")
    return parser


#: How a run setting's kind reads on the command line.
_FLAG_TYPES = {"count": int, "seed": int, "positive": float}


def _setting_args(parser: argparse.ArgumentParser, *, every: bool) -> None:
    """The run settings that have a flag (``compare``: those shared by every run), from their one declaration."""
    for s in run_settings():
        if s.flag is not None and (s.shared or not every):
            parser.add_argument(s.flag, dest=s.name, type=_FLAG_TYPES[s.kind], metavar="N" if s.kind != "positive" else "X",
                                help=s.doc + (" (every run)" if every else ""))


def _run_safety_args(run: argparse.ArgumentParser) -> None:
    run.add_argument("--history", metavar="PATH", help="write the history as the run goes (.csv, else JSON Lines)")
    run.add_argument("--checkpoint", metavar="PATH", help="save the run's state to PATH (JSON, written atomically)")
    run.add_argument("--checkpoint-every", type=int, default=1, metavar="N", help="checkpoint every N epochs (default 1)")
    run.add_argument("--resume", metavar="PATH", help="continue the run saved in the checkpoint PATH")
    run.add_argument("--on-nonfinite", choices=("stop", "skip"), default="stop",
                     help="a non-finite gradient or parameter: stop (default) or skip the step (see --max-skips)")
    run.add_argument("--max-skips", type=int, default=10, metavar="N", help="steps --on-nonfinite skip may skip")
    run.add_argument("--symbolic-timeout", type=float, default=None, metavar="SECONDS",
                     help="limit on deriving and compiling the spec (default: $OPTIKIT_SYMBOLIC_TIMEOUT or 30)")


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
    from ..output.report import REPORTERS

    from ..engine.runio import run_controlled

    if args.symbolic_timeout is not None:
        from ..symbolic.bounded import set_timeout

        set_timeout(args.symbolic_timeout)
    if args.plot and not args.no_plot:
        from ..output.plots import check_can_show, check_plot_path

        check_can_show() if args.plot == "-" else check_plot_path(args.plot)
    backend = {"backend": args.backend} if args.backend is not None else {}
    prepared = prepare(_spec(args), **_loaded(args), plugin_options=_options(args), trust_gradient=args.trust_gradient,
                       **backend)
    every = args.every or _every(prepared)
    reporter = REPORTERS[args.format](prepared.problem, sys.stdout, every)
    try:
        result = run_controlled(prepared, [reporter.epoch], on_start=reporter.start, history=args.history,
                                checkpoint=args.checkpoint,
                                checkpoint_every=args.checkpoint_every, resume=args.resume,
                                on_nonfinite=args.on_nonfinite, max_skips=args.max_skips)
    except DivergenceError as exc:
        reporter.failed(exc, exc.result)  # what was computed is printed before the error
        raise
    reporter.end(result)
    if args.plot and not args.no_plot:
        from ..output.plots import plot_loss

        spec = prepared.spec
        ylabel = spec.loss if spec.model else "objective"
        saved = plot_loss(result, None if args.plot == "-" else args.plot, ylabel=ylabel)
        if saved is not None:
            print(f"plot saved to {saved}", file=sys.stderr)
    return 130 if result.stop_reason == "interrupted" else 0


def _every(prepared: Any) -> int:
    """Table rows to skip so a long run prints about 50 (epochs implied by ``steps`` count too)."""
    settings, n = prepared.settings, prepared.problem.n_rows
    epochs = settings.epochs
    if settings.steps is not None:
        per_epoch = 1 if settings.batch_size is None or settings.batch_size >= n else -(-n // settings.batch_size)
        implied = -(-settings.steps // per_epoch)
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
    report = check(args.spec, plugins=_plugins(args), hessian=args.hessian,
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
    return 2 if failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_command

    shared_flags = {"lr": "--lr", **{s.name: s.flag for s in run_settings() if s.flag and s.shared}}
    shared = {k: getattr(args, k) for k in shared_flags if getattr(args, k) is not None}
    # a bad value is blamed on the option that gave it
    shared_origins = {k: f"{shared_flags[k]} {v}" for k, v in shared.items()}
    return compare_command(args.spec, args.optimizers, args.sets, shared, plugins=_plugins(args), fmt=args.format,
                           plot=args.plot, origins=shared_origins)


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optikit`` command; returns the exit code."""
    from .plugins import load_plugins, preparse
    from ..plugins.manager import raise_failures

    argv = sys.argv[1:] if argv is None else list(argv)
    plugins, show_tb, command = preparse(argv)
    try:
        # plugins load before parsing so their options exist; a broken one stops every command
        # but 'plugins', which lists it
        pm = load_plugins(plugins)
        if command not in (None, "plugins"):
            raise_failures(pm)
        parser = build_parser(pm)
        args = parser.parse_args(argv)
        args.pm = pm
        if args.func is not cmd_plugins:
            raise_failures(pm)
        return args.func(args)
    except OptikitError as exc:
        if show_tb:
            traceback.print_exc()
        print(f"optikit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("optikit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
