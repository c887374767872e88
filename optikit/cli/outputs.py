"""What ``optikit run`` writes besides its report: plots, the fitted parameters, a run record.

Every path is checked before the run starts, so a typo costs no training time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import Location, SpecError

__all__ = ["add_output_args", "check_outputs", "write_outputs", "FIGURE_OPTIONS"]

#: The figures of a fitted model and the option that asks for each.
FIGURE_OPTIONS = {"surface": "--plot-surface", "fit": "--plot-fit", "residuals": "--plot-residuals"}


def add_output_args(run: argparse.ArgumentParser) -> None:
    run.add_argument("--plot", nargs="?", const="-", default=None, metavar="PATH",
                     help="save the loss curve to PATH (PNG, SVG, PDF; log scale when it spans decades); "
                          "without PATH, show it in a window")
    run.add_argument("--no-plot", action="store_true", help="do not plot (overrides every --plot option)")
    run.add_argument("--plot-surface", metavar="PATH",
                     help="save the loss over one or two parameters with the optimizer's path on it")
    run.add_argument("--plot-fit", metavar="PATH",
                     help="save the data with the fitted model (one input column), else predicted against observed")
    run.add_argument("--plot-residuals", metavar="PATH", help="save the residuals (target - model)")
    run.add_argument("--save", metavar="PATH", help="write the fitted parameters as JSON (for optikit predict)")
    run.add_argument("--record", metavar="DIR",
                     help="write a record of the run to DIR: spec, expressions, seed, versions, history, "
                          "final state and plots as JSON, CSV and PNG")


def _figures(args: argparse.Namespace) -> dict[str, str]:
    if args.no_plot:
        return {}
    return {kind: getattr(args, option[2:].replace("-", "_")) for kind, option in FIGURE_OPTIONS.items()
            if getattr(args, option[2:].replace("-", "_"))}


def _writable(path: str, option: str) -> None:
    target = Path(path)
    if not target.parent.is_dir():
        raise SpecError("the folder does not exist", field=option, location=Location(str(target)))
    if target.is_dir():
        raise SpecError("is a folder; give a file name", field=option, location=Location(str(target)))


def check_outputs(args: argparse.Namespace, problem: Any) -> None:
    """Refuse bad output paths, and plots this problem cannot have, before the run."""
    from ..output.fitplots import check_plot_kind
    from ..output.plots import check_can_show, check_plot_path

    if args.plot and not args.no_plot:
        check_can_show() if args.plot == "-" else check_plot_path(args.plot)
    for kind, path in _figures(args).items():
        check_plot_path(path, FIGURE_OPTIONS[kind])
        check_plot_kind(problem, kind, FIGURE_OPTIONS[kind])
    if args.save:
        _writable(args.save, "--save")
    if args.record:
        from ..output.record import check_record_dir

        check_record_dir(args.record)


def write_outputs(args: argparse.Namespace, prepared: Any, result: Any) -> None:
    """The plots, the saved parameters and the record of a finished run; each one noted on stderr."""
    from ..output.fitplots import figure
    from ..output.plots import plot_loss, save

    if args.plot and not args.no_plot:
        spec = prepared.spec
        saved = plot_loss(result, None if args.plot == "-" else args.plot, ylabel=spec.loss if spec.model else "objective")
        if saved is not None:
            print(f"plot saved to {saved}", file=sys.stderr)
    for kind, path in _figures(args).items():
        print(f"{kind} plot saved to {save(figure(result, kind, prepared.problem), path)}", file=sys.stderr)
    if args.save:
        print(f"parameters saved to {result.save(args.save)}", file=sys.stderr)
    if args.record:
        from ..output.record import write_record

        print(f"run recorded in {write_record(args.record, prepared, result)}", file=sys.stderr)
