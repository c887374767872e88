"""``optikit predict``: a spec's model with saved parameters (``optikit run --save``) on new data."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Location, SpecError

__all__ = ["add_predict_args", "cmd_predict", "OUT_FORMATS"]

#: What ``--out`` writes, by the file's extension.
OUT_FORMATS = (".csv", ".npy")


def add_predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", type=Path, help="the spec whose model to evaluate")
    p.add_argument("--parameters", required=True, type=Path, metavar="PATH",
                   help="the fitted parameters (JSON, from optikit run --save)")
    p.add_argument("--data", required=True, type=Path, metavar="FILE", help="the rows to predict for (CSV)")
    p.add_argument("--uncertainty", action="store_true",
                   help="add the standard error and the confidence and prediction bands (delta method, from the "
                        "covariance --save kept)")
    p.add_argument("--level", type=float, default=0.95, metavar="P", help="the bands' level (default 0.95)")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="write the input columns and the prediction to FILE (.csv) or the predictions alone "
                        "(.npy); default: CSV on standard output")


def _read(path: Path) -> dict[str, np.ndarray]:
    from ..data.csvfile import read_csv

    try:
        names, values = read_csv(path)
    except ValueError as exc:  # read_csv says what is wrong with the file; the option names which file
        raise SpecError(str(exc), field="--data", location=Location(str(path))) from None
    return {name: values[:, i] for i, name in enumerate(names)}


def cmd_predict(args: argparse.Namespace) -> int:
    from ..api import compile_spec
    from ..output.fitted import load_parameters, predict_with
    from ..data import group_columns
    from ..spec import load_spec

    if args.out is not None:
        if args.out.suffix.lower() not in OUT_FORMATS:
            raise SpecError(f"cannot write {args.out.suffix or 'a file without an extension'!r}; use one of "
                            f"{', '.join(OUT_FORMATS)}", field="--out", location=Location(str(args.out)))
        if not args.out.parent.is_dir():
            raise SpecError("the folder does not exist", field="--out", location=Location(str(args.out)))
    spec = load_spec(args.spec)
    if spec.model is None:
        raise SpecError("an objective has no model to predict with", field="spec", location=Location(str(args.spec)))
    params = load_parameters(args.parameters, spec.parameter_names, model=spec.model)
    columns = _read(args.data)
    groups = dict(spec.data.options.get("vectors", {})) if spec.data is not None else {}
    absent = [m for members in groups.values() for m in members if m not in columns]
    if absent:
        raise SpecError(f"the data has no column {absent[0]!r}, which a vector input of the spec is made of",
                        field="--data", location=Location(str(args.data)))
    columns = group_columns(columns, groups)
    n = len(next(iter(columns.values())))
    # compiled over the new rows; neither the target nor sigma is read to predict, but the loss names them
    stand_in = {spec.target: np.zeros(n), **({spec.sigma: np.ones(n)} if spec.sigma else {})}
    data = {**{k: v for k, v in stand_in.items() if k not in columns}, **columns}
    reads = {s.name for s in spec.model_expr.free_symbols}
    missing = [c for c in spec.used_columns if c not in data and c in reads]
    if missing:
        raise SpecError(f"the data has no column {missing[0]!r}, which the model reads (columns: "
                        f"{', '.join(columns)})", field="--data", location=Location(str(args.data)))
    problem = compile_spec(spec, data=data, plugins=[*args.plugins, *args.plugins_after])
    predicted = predict_with(problem, params, columns, keyword="--data")
    inputs = problem.symbolic.inputs
    extra: dict[str, np.ndarray] = {}
    if args.uncertainty:
        sigma = columns.get(spec.sigma) if spec.sigma else None
        extra = _bands(args, problem, params, {c: columns[c] for c in inputs}, sigma)
    if args.out is not None and args.out.suffix.lower() == ".npy":
        np.save(args.out, np.column_stack([predicted, *extra.values()]) if extra else predicted, allow_pickle=False)
    else:
        handle = open(args.out, "w", newline="", encoding="utf-8") if args.out is not None else sys.stdout
        try:
            writer = csv.writer(handle)
            shown = [m for c in inputs for m in groups.get(c, (c,))]  # a vector input as its own columns
            writer.writerow([*shown, "prediction", *extra])
            for i, value in enumerate(predicted):
                writer.writerow([*(repr(float(columns[c][i])) for c in shown), repr(float(value)),
                                 *(repr(float(v[i])) for v in extra.values())])
        finally:
            if args.out is not None:
                handle.close()
    if args.out is not None:
        print(f"{len(predicted)} predictions written to {args.out}", file=sys.stderr)
    return 0


def _bands(args: argparse.Namespace, problem: Any, params: np.ndarray, inputs: dict[str, np.ndarray],
           sigma: np.ndarray | None) -> dict[str, np.ndarray]:
    """The standard error and the bands at ``--level``, as named columns (the prediction band of a
    fit weighted by ``sigma:`` needs the new rows' sigma column)."""
    from ..fit.predict import model_gradient
    from ..fit.report import saved_bands
    from ..output.fitted import load_uncertainty

    if not 0 < args.level < 1:
        raise SpecError(f"expected a level between 0 and 1, got {args.level}", field="--level")
    state = load_uncertainty(args.parameters)
    got = saved_bands(state, model_gradient(problem.symbolic), params, inputs, args.level, sigma)
    pct = f"{100 * args.level:g}"
    out = {"stderr": got.stderr, f"ci{pct}_low": got.confidence[0], f"ci{pct}_high": got.confidence[1]}
    if got.prediction is not None:
        out.update({f"pi{pct}_low": got.prediction[0], f"pi{pct}_high": got.prediction[1]})
    return out
