"""The ``optikit`` command: ``run``, ``grad``, ``check``, ``validate``, ``schema``, ``init``, ``predict``,
``plugins`` and ``compare``.

Errors a user can cause print one message (file:line:column, field, what to do) and exit with
2 (bad spec, plugin or usage) or 1 (a run that failed); ``--traceback`` shows the Python stack.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import OptikitError, SpecError
from ..settings import run_settings
from ..version import __version__
from .init import add_init_args, cmd_init
from .outputs import add_output_args
from .predict import add_predict_args, cmd_predict
from .commands import cmd_check, cmd_compare, cmd_grad, cmd_plugins, cmd_run, cmd_schema, cmd_validate

__all__ = ["main", "build_parser"]


def _plugin_args(parser: argparse.ArgumentParser, dest: str) -> None:
    parser.add_argument("-p", dest=dest, action="append", default=[], metavar="PLUGIN",
                        help="load a plugin: a module name or a path to a .py file; no:NAME blocks one: an entry "
                             "point, a -p module, or a built-in (optimizers, losses, schedules, backends) (repeatable)")
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
    run.add_argument("-q", "--quiet", action="store_true",
                     help="no progress bar (one is shown on a terminal once a run takes more than a second)")
    add_output_args(run)
    run.add_argument("--report", action="store_true",
                     help="print the fit report: standard errors, 95%% intervals, correlations, goodness of fit "
                          "(json: a \"report\" member)")
    run.add_argument("--optimizer", help="use this optimizer instead of the spec's")
    run.add_argument("--lr", type=float, help="learning rate")
    _setting_args(run, every=False)
    run.add_argument("--backend", default=None, metavar="NAME",
                     help="evaluate with this backend (default: numpy; see 'optikit plugins')")
    run.add_argument("--dask", default=None, metavar="ADDRESS",
                     help="train on a Dask cluster (optikit[dask]): 'local' starts one on this machine, "
                          "tcp://host:8786 joins a running scheduler")
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
    shown = grad.add_mutually_exclusive_group()
    shown.add_argument("--format", choices=("text", "json"), default="text")
    shown.add_argument("--latex", dest="format", action="store_const", const="latex", help="print them as LaTeX")
    shown.add_argument("--code", dest="format", action="store_const", const="code",
                       help="print the NumPy code the numpy backend runs (generated by sympy.lambdify)")

    check = command("check", "check gradients: derived vs finite differences vs hand-written", cmd_check)
    check.add_argument("spec", type=Path)
    check.add_argument("--hessian", action="store_true", help="also check the second derivatives")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--atol", type=float, default=None, help="absolute tolerance (default 1e-5)")
    check.add_argument("--rtol", type=float, default=None, help="relative tolerance (default 1e-3)")
    check.add_argument("--eps", type=float, default=None, help="finite-difference step, scaled by max(1, |p|) (default 1e-6)")

    validate = command("validate", "check specs without running them", cmd_validate)
    validate.add_argument("specs", type=Path, nargs="+", metavar="spec")

    schema = command("schema", "print the JSON Schema of the spec format (for editors: see the README)", cmd_schema)
    schema.add_argument("--any-optimizer", action="store_true",
                        help="accept any optimizer name and hyperparameter, not only those of the installed plugins")

    add_init_args(command("init", "write a commented spec that runs as written, to start from", cmd_init))
    add_predict_args(command("predict", "evaluate a spec's model with saved parameters on new data", cmd_predict))

    plugins = command("plugins", "list plugins, their optimizers, losses, schedules and backends", cmd_plugins)
    plugins.add_argument("--format", choices=("text", "json"), default="text")

    cmp = command("compare", "run a spec with several optimizers and compare the runs", cmd_compare)
    cmp.add_argument("spec", type=Path, help="the spec file (YAML)")
    cmp.add_argument("--optimizers", required=True, metavar="A,B,...", help="comma-separated optimizer names")
    cmp.add_argument("--format", choices=("table", "json"), default="table")
    cmp.add_argument("--plot", default=None, metavar="PATH", help="save the overlaid loss curves (log scale) to PATH")
    cmp.add_argument("--plot-surface", default=None, metavar="PATH",
                     help="save the loss over one or two parameters with every optimizer's path on it")
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
