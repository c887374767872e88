"""A linear model over 1,000 input columns: spec to first epoch, import included.

Run on demand: ``python benchmarks/bench_wide.py [--columns 1000] [--rows 5000] [--repeat 5]``.
Each measurement is a fresh ``python`` process, so import, spec loading, SymPy's derivation,
reading the file and one epoch of gradient descent are all counted. Prints the medians of

* optikit: ``optikit.run(spec, epochs=1)`` on a spec ``model: dot(w, x) + b`` with
  ``w: {shape: N}`` and ``vectors: {x: "f*"}`` over an ``.npz`` file of N + 1 named columns;
* hand-written NumPy: the same file loaded with ``np.load``, stacked, and one epoch
  (``X @ w``, ``X.T @ r``) written out;
* a bare ``python -c "import numpy"``, the floor of any process,

and the ratios of optikit's time to the target (3 s) and to the hand-written epoch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 3.0

OPTIKIT = """
import optikit
result = optikit.run({spec!r}, epochs=1)
assert len(result.parameters) == {k}
"""

HAND = """
import numpy as np
f = np.load({data!r})
names = sorted((c for c in f.files if c.startswith("f")), key=lambda c: int(c[1:]))
x = np.column_stack([f[c] for c in names]); y = f["y"]
w = np.zeros(x.shape[1]); b = 0.0
r = x @ w + b - y
loss = float(r @ r) / len(y)
w -= 0.01 * 2 * (x.T @ r) / len(y); b -= 0.01 * 2 * r.mean()
"""


def _seconds(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(args.rows, args.columns))
        y = x @ rng.normal(size=args.columns) + 0.5 + rng.normal(scale=0.1, size=args.rows)
        data = Path(tmp) / "wide.npz"
        np.savez(data, **{f"f{j}": x[:, j] for j in range(args.columns)}, y=y)
        spec = Path(tmp) / "wide.yaml"
        spec.write_text(f"model: dot(w, x) + b\nparameters:\n  w: {{shape: {args.columns}, init: 0.0}}\n  b: 0.0\n"
                        f"data:\n  npz: wide.npz\n  vectors: {{x: \"f*\"}}\noptimizer: {{name: gd, lr: 0.01}}\n")
        ours = _seconds(OPTIKIT.format(spec=str(spec), k=args.columns + 1), args.repeat)
        hand = _seconds(HAND.format(data=str(data)), args.repeat)
        floor = _seconds("import numpy", args.repeat)
    print(f"linear model over {args.columns} input columns, {args.rows} rows; spec to first epoch, import "
          f"included (median of {args.repeat} fresh processes)")
    print(f"  optikit                 {ours:7.3f} s   {ours / TARGET_SECONDS:5.2f}x the {TARGET_SECONDS:g} s target")
    print(f"  hand-written NumPy      {hand:7.3f} s   optikit / hand = {ours / hand:5.2f}x")
    print(f"  python -c import numpy  {floor:7.3f} s")


if __name__ == "__main__":
    main()
