"""Moré, Garbow and Hillstrom's least-squares test problems: levenberg-marquardt beside scipy, same run.

Run on demand: ``python benchmarks/bench_mgh.py``. Sixteen problems of Moré, Garbow and
Hillstrom, "Testing unconstrained optimization software" (ACM TOMS 7, 1981), each from its
standard start ``x0`` and from ``10*x0`` and ``100*x0`` as the paper suggests (``x0 + 9`` and
``x0 + 99`` where ``x0`` is 0): 48 fits. The residuals and their exact Jacobian come from SymPy;
optikit's ``levenberg-marquardt`` (its update called in a loop until it reports convergence,
capped as in a run) and scipy's ``least_squares(method="lm")`` get the same functions. A fit is
solved when its sum of squares is within 1e-5 (relative) of the paper's minimum, or at most 1e-10
where that is 0; Biggs EXP6 also has the minimum 0, which counts. Printed: solved fits and the
median time per fit, and the fits each method misses. A check that the NIST-chosen defaults do
not buy the NIST suite at the price of others.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from optikit.optimizers.levenberg import LevenbergMarquardt  # noqa: E402

Y_BARD = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]
Y_GAUSS = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521, 0.2420, 0.1295, 0.0540,
           0.0175, 0.0044, 0.0009]
Y_KO = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
U_KO = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]
Y_OS1 = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751, 0.718, 0.685, 0.658,
         0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431,
         0.424, 0.420, 0.414, 0.411, 0.406]


def problems(sp) -> list[tuple[str, int, object, list[float], list[float]]]:
    """(name, n, residuals of the SymPy symbols, x0, known minima of the sum of squares)."""
    exp, sqrt, sin, cos, atan, pi = sp.exp, sp.sqrt, sp.sin, sp.cos, sp.atan, sp.pi
    return [
        ("Rosenbrock", 2, lambda x: [10 * (x[1] - x[0] ** 2), 1 - x[0]], [-1.2, 1], [0.0]),
        ("Freudenstein-Roth", 2, lambda x: [-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
                                            -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]],
         [0.5, -2], [48.9842536792400]),
        ("Powell badly scaled", 2, lambda x: [1e4 * x[0] * x[1] - 1, exp(-x[0]) + exp(-x[1]) - 1.0001], [0, 1], [0.0]),
        ("Brown badly scaled", 2, lambda x: [x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2], [1, 1], [0.0]),
        ("Beale", 2, lambda x: [1.5 - x[0] * (1 - x[1]), 2.25 - x[0] * (1 - x[1] ** 2), 2.625 - x[0] * (1 - x[1] ** 3)],
         [1, 1], [0.0]),
        ("Jennrich-Sampson", 2, lambda x: [2 + 2 * i - (exp(i * x[0]) + exp(i * x[1])) for i in range(1, 11)],
         [0.3, 0.4], [124.362182355]),
        ("Helical valley", 3, lambda x: [10 * (x[2] - 10 * atan(x[1] / x[0]) / (2 * pi)),
                                         10 * (sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]], [-1, 0, 0], [0.0]),
        ("Bard", 3, lambda x: [Y_BARD[i - 1] - (x[0] + i / (x[1] * (16 - i) + x[2] * min(i, 16 - i)))
                               for i in range(1, 16)], [1, 1, 1], [8.21487e-3]),
        ("Gaussian", 3, lambda x: [x[0] * exp(-x[1] * ((8 - i) / 2 - x[2]) ** 2 / 2) - Y_GAUSS[i - 1]
                                   for i in range(1, 16)], [0.4, 1, 0], [1.12793e-8]),
        ("Box 3D", 3, lambda x: [exp(-0.1 * i * x[0]) - exp(-0.1 * i * x[1]) - x[2] * (exp(-0.1 * i) - exp(-i))
                                 for i in range(1, 11)], [0, 10, 20], [0.0]),
        ("Powell singular", 4, lambda x: [x[0] + 10 * x[1], sqrt(5) * (x[2] - x[3]), (x[1] - 2 * x[2]) ** 2,
                                          sqrt(10) * (x[0] - x[3]) ** 2], [3, -1, 0, 1], [0.0]),
        ("Wood", 4, lambda x: [10 * (x[1] - x[0] ** 2), 1 - x[0], sqrt(90) * (x[3] - x[2] ** 2), 1 - x[2],
                               sqrt(10) * (x[1] + x[3] - 2), (x[1] - x[3]) / sqrt(10)], [-3, -1, -3, -1], [0.0]),
        ("Kowalik-Osborne", 4, lambda x: [Y_KO[i] - x[0] * (U_KO[i] ** 2 + U_KO[i] * x[1]) /
                                          (U_KO[i] ** 2 + U_KO[i] * x[2] + x[3]) for i in range(11)],
         [0.25, 0.39, 0.415, 0.39], [3.07505e-4]),
        ("Brown-Dennis", 4, lambda x: [(x[0] + x[1] * i / 5 - exp(i / 5)) ** 2
                                       + (x[2] + x[3] * sin(i / 5) - cos(i / 5)) ** 2 for i in range(1, 21)],
         [25, 5, -5, -1], [85822.2016263563]),
        ("Osborne 1", 5, lambda x: [Y_OS1[i] - (x[0] + x[1] * exp(-10 * i * x[3]) + x[2] * exp(-10 * i * x[4]))
                                    for i in range(33)], [0.5, 1.5, -1, 0.01, 0.02], [5.46489e-5]),
        ("Biggs EXP6", 6, lambda x: [x[2] * exp(-0.1 * i * x[0]) - x[3] * exp(-0.1 * i * x[1])
                                     + x[5] * exp(-0.1 * i * x[4])
                                     - (exp(-0.1 * i) - 5 * exp(-i) + 3 * exp(-0.4 * i)) for i in range(1, 14)],
         [1, 2, 1, 1, 1, 1], [5.65565e-3, 0.0]),
    ]


class Oracle:
    """Residuals and Jacobian compiled by SymPy, in the shape the optimizer asks for."""

    def __init__(self, sp, n: int, residuals) -> None:
        x = sp.symbols(f"x0:{n}")
        r = sp.Matrix(residuals(x))
        self.m, self.n = len(r), n
        self._r = sp.lambdify([x], list(r), "numpy")
        self._j = sp.lambdify([x], r.jacobian(x).tolist(), "numpy")

    def residuals(self, p: np.ndarray) -> np.ndarray:
        return np.array(self._r(p), dtype=float).reshape(self.m)

    def jacobian(self, p: np.ndarray) -> np.ndarray:
        return np.array(self._j(p), dtype=float).reshape(self.m, self.n)

    def grad(self, p: np.ndarray) -> np.ndarray:
        return 2.0 / self.m * self.jacobian(p).T @ self.residuals(p)


def optikit_fit(oracle: Oracle, x0: np.ndarray, **kwargs) -> np.ndarray:
    opt = LevenbergMarquardt(**kwargs)
    x, state = x0.copy(), opt.init(x0)
    for _ in range(LevenbergMarquardt.default_epochs):
        step, state = opt.update(oracle.grad(x), state, x, oracle)
        x = x + step
        if opt.converged(state):
            break
    return x


def scipy_fit(oracle: Oracle, x0: np.ndarray, **tol) -> np.ndarray:
    from scipy.optimize import least_squares

    try:
        return least_squares(oracle.residuals, x0, jac=oracle.jacobian, method="lm", **tol).x
    except (ValueError, FloatingPointError):
        return np.full_like(x0, np.nan)


def solved(oracle: Oracle, x: np.ndarray, minima: list[float]) -> bool:
    r = oracle.residuals(x)
    f = float(r @ r)
    return bool(np.isfinite(f)) and any(f <= 1e-10 if m == 0 else abs(f - m) <= 1e-5 * m for m in minima)


def main() -> int:
    import sympy as sp

    methods = {
        "optikit LM (defaults)": lambda o, x0: optikit_fit(o, x0),
        "optikit LM acceleration=false": lambda o, x0: optikit_fit(o, x0, acceleration=False),
        "scipy lm (defaults)": lambda o, x0: scipy_fit(o, x0),
        "scipy lm (tol 1e-15)": lambda o, x0: scipy_fit(o, x0, ftol=1e-15, xtol=1e-15, gtol=1e-15),
    }
    wins = {k: 0 for k in methods}
    times: dict[str, list[float]] = {k: [] for k in methods}
    missed: dict[str, list[str]] = {k: [] for k in methods}
    fits = 0
    for name, n, residuals, x0, minima in problems(sp):
        oracle = Oracle(sp, n, residuals)
        x0 = np.array(x0, dtype=float)
        for factor in (1, 10, 100):
            start = x0 * factor if np.any(x0) else x0 + factor - 1
            fits += 1
            for label, fit in methods.items():
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    x = fit(oracle, start)
                    times[label].append(time.perf_counter() - t0)
                    ok = solved(oracle, x, minima)
                wins[label] += ok
                if not ok:
                    missed[label].append(f"{name} x{factor}")
    print("Moré-Garbow-Hillstrom least squares: 16 problems x 3 starts; solved = the known minimum to 1e-5")
    print("| method | solved | median time per fit |")
    print("|---|---|---|")
    for label in methods:
        print(f"| {label} | {wins[label]}/{fits} | {1e3 * np.median(times[label]):.1f} ms |")
    for label, items in missed.items():
        print(f"not solved by {label}: {', '.join(items)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
