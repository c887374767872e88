"""Reading and streaming data files, against NumPy's own reader measured in the same run.

Run on demand: ``python benchmarks/bench_data.py [--quick] [--gb 2] [--no-stream]``. Prints

* the median time to read a 1e6-row CSV with optikit against ``np.loadtxt`` on the same file,
  and their ratio (target: at most 1.5);
* the peak resident memory (RSS) of one SGD epoch on a CSV of ``--gb`` gigabytes, streamed
  because it is past the default memory budget (target: under 300 MB for 2 GB), next to the
  file's size and the RSS of the same process before it reads any data.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from timing import median

ROOT = Path(__file__).resolve().parent.parent


def _write_csv(path: Path, rows: int, seed: int = 0, block: int = 200_000) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("x1,x2,x3,y\n")
        for start in range(0, rows, block):
            k = min(block, rows - start)
            x = rng.uniform(-1, 1, (k, 3))
            y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(0, 0.1, k)
            np.savetxt(handle, np.column_stack([x, y]), delimiter=",", fmt="%.17g")


SPEC = """\
model: a*x1 + b*x2 + c*x3 + d
target: y
parameters: {{a: 0.0, b: 0.0, c: 0.0, d: 0.0}}
data: {{csv: {file}{extra}}}
optimizer: {{name: sgd, lr: 0.01, epochs: 1, batch_size: {batch}, seed: 0}}
"""

CHILD = """\
import resource, sys, time
import optikit
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
result = optikit.run(sys.argv[1])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, peak, time.perf_counter() - start, result.steps, result.loss)
"""


def read_case(folder: Path, rows: int, repeat: int) -> None:
    import optikit

    file = folder / "rows.csv"
    _write_csv(file, rows)
    spec = folder / "read.yaml"
    spec.write_text(SPEC.format(file=file.name, extra=", stream: false", batch=32))
    ours = median(lambda: optikit.load_data(spec)["x1"], repeat)  # a fresh source reads the file each time
    base = median(lambda: np.loadtxt(file, delimiter=",", skiprows=1), repeat)
    same = np.array_equal(np.column_stack([optikit.load_data(spec)[c] for c in ("x1", "x2", "x3", "y")]),
                          np.loadtxt(file, delimiter=",", skiprows=1))
    print(f"{'read a ' + format(rows, ',') + '-row CSV (s, median)':44} {ours:9.3f} {base:9.3f} {ours / base:7.2f}"
          f"   identical values: {same}")


def stream_case(folder: Path, gigabytes: float, batch: int, budget: str = "") -> None:
    file = folder / "big.csv"
    rows = int(gigabytes * 1e9 / 76)  # about 76 bytes a row at %.17g
    start = time.perf_counter()
    _write_csv(file, rows)
    size = file.stat().st_size
    print(f"wrote {size / 1e9:.2f} GB ({rows:,} rows) in {time.perf_counter() - start:.0f} s")
    spec = folder / "stream.yaml"
    spec.write_text(SPEC.format(file=file.name, extra=budget, batch=batch))  # streamed: past the memory budget
    out = subprocess.run([sys.executable, "-c", CHILD, str(spec)], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True).stdout.split()
    before, peak, elapsed, steps, loss = int(out[0]), int(out[1]), float(out[2]), int(out[3]), float(out[4])
    print(f"{'SGD epoch, streamed: peak RSS (MB)':44} {peak / 1024:9.0f}   file {size / 2**20:,.0f} MB, "
          f"RSS after import {before / 1024:.0f} MB; ratio peak/file {peak * 1024 / size:.3f}")
    print(f"{'   time (s), steps, final loss':44} {elapsed:9.1f}   {steps:,} steps, loss {loss:.5g}")
    file.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--gb", type=float, default=2.0, help="size of the streamed CSV file (default 2)")
    parser.add_argument("--no-stream", action="store_true", help="skip the streamed-SGD memory case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'case':44} {'optikit':>9} {'baseline':>9} {'ratio':>7}")
        read_case(folder, 100_000 if args.quick else 1_000_000, 3 if args.quick else 5)
        if not args.no_stream:
            stream_case(folder, 0.05 if args.quick else args.gb, 4096, ", memory_budget_mb: 16" if args.quick else "")


if __name__ == "__main__":
    main()
