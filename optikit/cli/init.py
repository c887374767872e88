"""``optikit init``: write a commented spec that runs as written, to start from."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import ExpressionError, Location, SpecError

__all__ = ["add_init_args", "cmd_init"]

DEFAULT_MODEL = "a*x + b"


def add_init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the spec to write: NAME.yaml (a path may come with it)")
    p.add_argument("--model", default=None, metavar="EXPR",
                   help=f"the model, an expression of parameters and input columns (default {DEFAULT_MODEL!r})")
    p.add_argument("--data", type=Path, default=None, metavar="FILE",
                   help="a CSV file in the spec's folder or below; its header names the columns "
                        "(the target is 'y' if there is one, else the last column the model does not read)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


def _scalar(text: str) -> str:
    """``text`` as a YAML value: bare when it reads back as itself, else quoted."""
    import json

    import yaml

    try:
        bare = yaml.safe_load(f"k: {text}") == {"k": text}
    except yaml.YAMLError:
        bare = False
    return text if bare else json.dumps(text)


def _target_of(header: list[str], names: list[str]) -> str:
    if "y" in header:
        return "y"
    free = [c for c in header if c not in names]
    if not free:
        raise SpecError(f"every column ({', '.join(header)}) is read by the model; none is left to fit",
                        field="--data")
    return free[-1]


def _inline(model: str, inputs: list[str], params: list[str]) -> tuple[str, str]:
    """Example rows: the inputs on a grid, the target the model at 1.5 for every parameter."""
    import sympy

    from .. import expr

    symbols = {n: sympy.Symbol(n, real=True) for n in [*inputs, *params]}
    tree = expr.parse(model, symbols)
    grid = np.linspace(0.5, 3.0, 6)
    columns = {n: grid + 0.1 * i for i, n in enumerate(inputs)}
    fn = sympy.lambdify([symbols[n] for n in [*params, *inputs]], tree, modules="numpy")
    with np.errstate(all="ignore"):
        y = np.broadcast_to(np.asarray(fn(*([1.5] * len(params)), *columns.values()), dtype=float), grid.shape)
    if not np.all(np.isfinite(y)):
        raise SpecError(f"the model is not finite on the example rows ({', '.join(inputs)} from 0.5 to 3); "
                        "give data: --data FILE", field="--model")
    lines = [f"  {n}: [{', '.join(f'{v:.6g}' for v in col)}]" for n, col in columns.items()]
    lines.append(f"  y: [{', '.join(f'{v:.6g}' for v in y)}]")
    return "data:   # the model's inputs and the target y, one list per column (a CSV file: csv: file.csv)\n" \
           + "\n".join(lines) + "\n", "y"


def spec_text(name: str, model: str, data: Path | None, folder: Path) -> str:
    """The text of a commented spec of ``model`` (on ``data``, relative to ``folder``)."""
    from .. import expr
    from ..data.csvfile import read_header
    from ..expr.special import vsum

    try:
        used = expr.names(model)
        tree = expr.parse(model, {n: expr.make_symbol(n) for n in used})
    except ExpressionError as exc:
        raise SpecError(f"{exc.message}", field="--model") from None
    if tree.has(vsum):  # the shapes and the columns of a vector are the writer's to choose
        raise SpecError("init writes specs of scalar parameters; a model with sum() or dot() needs 'shape:' and "
                        "'vectors:', which are the writer's to choose", field="--model",
                        hint="start from specs/breast_cancer.yaml (docs/spec.md, 'Vector parameters and inputs')")
    if data is not None:
        try:
            header = read_header(data)
        except ValueError as exc:
            raise SpecError(str(exc), field="--data", location=Location(str(data))) from None
        relative = Path(os.path.relpath(data.resolve(), folder.resolve()))
        if relative.parts and relative.parts[0] == "..":
            raise SpecError("the data file must be in the spec's folder or below it (docs/security.md)",
                            field="--data", location=Location(str(data)))
        target = _target_of(header, used)
        inputs = [n for n in used if n in header]
        section = f"data:\n  csv: {_scalar(relative.as_posix())}   # columns from its header: {', '.join(header)}\n"
    else:
        inputs = [n for n in used if n == "x"] or used[-1:]
        target = "y"
        section = ""
    params = [n for n in used if n not in inputs and n != target]
    if not params:
        raise SpecError(f"the model {model!r} has no parameter to fit (its names: {', '.join(used)})", field="--model")
    if data is None:
        section, target = _inline(model, inputs, params)
    target_line = f"target: {target}   # the column the model is fitted to\n" if target != "y" else ""
    return (f"# {name}: fit {model} to data. Run it with: optikit run {name}.yaml\n"
            f"# Every key is documented in docs/spec.md; 'optikit schema' gives editors a schema of them.\n"
            f"name: {_scalar(name)}\n"
            f"model: {_scalar(model)}   # parameters and input columns ({', '.join(inputs) or 'none'}); "
            f"functions: exp, log, sqrt, sin, sigmoid, ...\n"
            f"{target_line}"
            f"parameters:   # initial values; {{init: 1.0, min: 0}} adds bounds\n"
            + "".join(f"  {p}: 1.0\n" for p in params)
            + section
            + "loss: mse   # or mae, huber, or an expression of 'model' and the columns\n"
            "optimizer:   # see 'optikit plugins' for the optimizers and their hyperparameters\n"
            "  name: adam\n"
            "  lr: 0.05\n"
            "  epochs: 500\n"
            "  seed: 0\n")


def cmd_init(args: argparse.Namespace) -> int:
    """``optikit init NAME``: write ``NAME.yaml``, then validate it so that it runs as written."""
    from ..api import validate
    from ..errors import did_you_mean
    from ..spec import load_spec

    path = Path(args.name if args.name.endswith((".yaml", ".yml")) else f"{args.name}.yaml")
    if path.exists() and not args.force:
        raise SpecError("already exists; choose another name or pass --force", field="name", location=Location(str(path)))
    if not path.parent.is_dir():
        raise SpecError("the folder does not exist", field="name", location=Location(str(path)))
    text = spec_text(path.stem, args.model or DEFAULT_MODEL, args.data, path.parent)
    path.write_text(text, encoding="utf-8")
    try:
        validate(path, plugins=[*args.plugins, *args.plugins_after])
    except SpecError:
        path.unlink()  # a spec that does not load is no start; the error says why
        raise
    spec = load_spec(path)
    print(f"wrote {path}: parameters {', '.join(spec.parameter_names)}; data columns {', '.join(spec.columns)}; "
          f"run it with: optikit run {path}", file=sys.stderr)
    if args.data is not None:  # a misspelt column would quietly become a parameter
        for name in spec.parameter_names:
            hint = did_you_mean(name, spec.columns) or did_you_mean(name.lower(), [c.lower() for c in spec.columns])
            if hint:
                print(f"optikit: warning: {name!r} is not a column of {args.data}, so it is fitted as a parameter; "
                      f"{hint}", file=sys.stderr)
    return 0
