"""The NIST StRD nonlinear least-squares suite: optikit's levenberg-marquardt beside scipy, same run.

Run on demand: ``python benchmarks/bench_nist.py [--variants] [--only NAME,...]``. Every problem is
fitted from both of NIST's starting points by optikit's ``levenberg-marquardt`` with its defaults
(a spec naming only the optimizer: it runs until converged), by scipy's
``least_squares(method="lm")`` (MINPACK) with its default tolerances and with tolerances of
1e-15, and by ``curve_fit`` with its defaults. A fit is scored by the log relative error (LRE)
of each parameter against the certified value, ``-log10(|b - c| / |c|)`` capped at 11; it counts
as solved when every parameter has at least 4 correct digits. Printed per method: solved fits,
the median of the smallest LRE over the solved fits, the median and the largest time per fit
(optikit's SymPy compile is timed once per problem and shown apart: it does not depend on the
start).
``--variants`` adds the other choices of levenberg-marquardt: without geodesic acceleration, the
other damping and scaling, scipy's tolerances.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import optikit  # noqa: E402
from optikit.api import prepare  # noqa: E402
from optikit.engine import run_problem  # noqa: E402
from nist_strd import PROBLEMS  # noqa: E402

SOLVED_DIGITS = 4.0
LRE_CAP = 11.0

VARIANTS = {
    "optikit LM (defaults)": {},
    "optikit LM acceleration=false": {"acceleration": False},
    "optikit LM damping=multiply": {"damping": "multiply"},
    "optikit LM scaling=marquardt": {"scaling": "marquardt"},
    "optikit LM tolerances 1e-8 (scipy's)": {"ftol": 1e-8, "xtol": 1e-8, "cosine_tol": 1e-8},
    "optikit LM as first released (marquardt, multiply, 1e-8, no acceleration)": {
        "scaling": "marquardt", "damping": "multiply", "ftol": 1e-8, "xtol": 1e-8, "cosine_tol": 1e-8,
        "acceleration": False},
}


def lre(estimate: np.ndarray, certified: np.ndarray) -> float:
    """The smallest log relative error over the parameters (0 for a non-finite estimate)."""
    if not np.all(np.isfinite(estimate)):
        return 0.0
    with np.errstate(divide="ignore"):
        rel = np.abs(estimate - certified) / np.abs(certified)
        digits = np.where(rel == 0, LRE_CAP, -np.log10(rel))
    return float(np.clip(digits, 0.0, LRE_CAP).min())


def columns(problem: dict) -> tuple[dict[str, np.ndarray], str, list[str]]:
    data = {k: np.asarray(v, dtype=float) for k, v in problem["data"].items()}
    if problem["name"] == "Nelson":  # NIST's model is for log(y)
        data["logy"] = np.log(data.pop("y"))
        return data, "logy", ["x1", "x2"]
    return data, "y", ["x"]


def scipy_model(problem: dict, inputs: list[str]):
    """A NumPy function ``f(x, *params)`` of the model, for scipy: optikit's own parse of the model
    text (no ``eval``), turned into NumPy code by SymPy."""
    import sympy

    spec = optikit.loads_spec(f"model: {problem['model']}\ntarget: t\nparameters: {{{', '.join(f'{p}: 1.0' for p in problem['params'])}}}\n"
                              "optimizer: levenberg-marquardt\n")
    symbols = [spec.symbols[k] for k in [*inputs, *problem["params"]]]
    fn = sympy.lambdify(symbols, spec.model_expr, "numpy")

    def f(x, *b):
        xs = list(x) if len(inputs) > 1 else [x]
        return fn(*xs, *b) * np.ones(np.shape(xs[0]))

    return f


def optikit_fits(problem: dict, kwargs: dict) -> tuple[list[float], list[float], float, list[str]]:
    data, target, _ = columns(problem)
    params = "\n".join(f"  {p}: {s}" for p, s in zip(problem["params"], problem["start1"]))
    opt = ", ".join([f"name: levenberg-marquardt", *(f"{k}: {json.dumps(v)}" for k, v in kwargs.items())])
    text = f"name: {problem['name']}\nmodel: {problem['model']}\ntarget: {target}\nparameters:\n{params}\noptimizer: {{{opt}}}\n"
    start = time.perf_counter()
    prepared = prepare(optikit.loads_spec(text), data=data)
    prepared.problem.oracle().jacobian(prepared.problem.initial)  # compile the Jacobian too
    compile_time = time.perf_counter() - start
    digits, times, stops = [], [], []
    for key in ("start1", "start2"):
        t0 = time.perf_counter()
        try:
            result = run_problem(prepared.problem, type(prepared.optimizer)(**kwargs), prepared.settings,
                                 params=np.array(problem[key], dtype=float))
            x, stop = result.x, result.stop_reason
        except optikit.OptikitError as exc:
            x, stop = np.full(len(problem["params"]), np.nan), type(exc).__name__
        times.append(time.perf_counter() - t0)
        digits.append(lre(x, np.array(problem["certified"])))
        stops.append(stop)
    return digits, times, compile_time, stops


def scipy_fits(problem: dict, method: str) -> tuple[list[float], list[float]]:
    from scipy.optimize import curve_fit, least_squares

    data, target, inputs = columns(problem)
    f = scipy_model(problem, inputs)
    x = np.vstack([data[k] for k in inputs]) if len(inputs) > 1 else data[inputs[0]]
    y = data[target]
    digits, times = [], []
    for key in ("start1", "start2"):
        p0 = np.array(problem[key], dtype=float)
        t0 = time.perf_counter()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                if method == "curve_fit":
                    est = curve_fit(f, x, y, p0=p0)[0]
                else:
                    tol = {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15} if method == "lm-tight" else {}
                    est = least_squares(lambda b: f(x, *b) - y, p0, method="lm", **tol).x
            except (RuntimeError, ValueError, FloatingPointError):
                est = np.full(len(p0), np.nan)
        times.append(time.perf_counter() - t0)
        digits.append(lre(est, np.array(problem["certified"])))
    return digits, times


def summary(label: str, digits: list[float], times: list[float], extra: str = "") -> str:
    solved = [d for d in digits if d >= SOLVED_DIGITS]
    med = f"{np.median(solved):.1f}" if solved else "-"
    return (f"| {label} | {len(solved)}/{len(digits)} | {med} | {1e3 * np.median(times):.1f} ms | "
            f"{1e3 * np.max(times):.0f} ms | {extra} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", action="store_true", help="also the other levenberg-marquardt choices")
    parser.add_argument("--only", default="", help="comma-separated problem names")
    args = parser.parse_args(argv)
    chosen = [p for p in PROBLEMS if not args.only or p["name"] in args.only.split(",")]
    labels = list(VARIANTS) if args.variants else ["optikit LM (defaults)"]
    rows: dict[str, tuple[list, list]] = {k: ([], []) for k in [*labels, "scipy lm (defaults)", "scipy lm (tol 1e-15)",
                                                                 "scipy curve_fit"]}
    compile_times, failures = [], {k: [] for k in rows}
    for problem in chosen:
        for label in labels:
            d, t, c, stops = optikit_fits(problem, VARIANTS[label])
            rows[label][0].extend(d)
            rows[label][1].extend(t)
            if label == labels[0]:
                compile_times.append(c)
            failures[label] += [f"{problem['name']}/{i + 1} ({s}, {x:.1f})" for i, (x, s) in enumerate(zip(d, stops))
                                if x < SOLVED_DIGITS]
        for label, method in (("scipy lm (defaults)", "lm"), ("scipy lm (tol 1e-15)", "lm-tight"),
                              ("scipy curve_fit", "curve_fit")):
            d, t = scipy_fits(problem, method)
            rows[label][0].extend(d)
            rows[label][1].extend(t)
            failures[label] += [f"{problem['name']}/{i + 1}" for i, x in enumerate(d) if x < SOLVED_DIGITS]
    print(f"NIST StRD nonlinear regression: {len(chosen)} problems x 2 starts; solved = every parameter "
          f">= {SOLVED_DIGITS:g} correct digits")
    print("| method | solved | median digits (solved) | median time per fit | slowest fit | |")
    print("|---|---|---|---|---|---|")
    for label, (d, t) in rows.items():
        extra = f"+ {1e3 * np.median(compile_times):.0f} ms SymPy compile per problem" if label.startswith("optikit") else ""
        print(summary(label, d, t, extra))
    for label, items in failures.items():
        if items:
            print(f"not solved by {label}: {', '.join(items)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
