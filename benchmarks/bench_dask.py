"""Batch gradient descent on a local Dask cluster against the same run in-process.

    python benchmarks/bench_dask.py [--rows N] [--workers W] [--repeat R]

Per epoch at ``N`` rows (parquet files, one per worker, read by the workers) on ``W`` worker
processes against the in-process NumPy run; the per-step overhead on a tiny data set (the time
of a step on the cluster less the time of the same step in-process); the bytes a step sends to
and receives from each partition. Medians of repeats (benchmarks/timing.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import optikit  # noqa: E402
from optikit.api import prepare  # noqa: E402
from optikit.engine.loop import run_problem  # noqa: E402

from timing import median  # noqa: E402

SPEC = ("name: line\nmodel: w*x + b\nparameters: {{w: 0.0, b: 0.0}}\n{data}"
        "optimizer: {{name: gd, lr: 0.001, epochs: 1}}\n")


def _timed(prep: Any) -> Callable[[int], float]:
    run_problem(prep.problem, prep.optimizer, prep.settings)  # compile and warm up (on every worker too)

    def timed(epochs: int) -> float:
        start = time.perf_counter()
        run_problem(prep.problem, prep.optimizer, dataclasses.replace(prep.settings, epochs=epochs))
        return time.perf_counter() - start

    return timed


def per_epoch(timed: Callable[[int], float], epochs: int, repeat: int) -> float:
    """Median of (time of 1 + epochs) - (time of 1): the run's start and final pass cancel."""
    return statistics.median((timed(1 + epochs) - timed(1)) / epochs for _ in range(repeat))


def _files(folder: Path, n: int, parts: int) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, n)
    y = 3.0 * x + 2.0 + rng.normal(0, 0.1, n)
    (folder / "parts").mkdir()
    edges = np.linspace(0, n, parts + 1).astype(int)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        pq.write_table(pa.table({"x": x[a:b], "y": y[a:b]}), folder / "parts" / f"part-{i:03d}.parquet")
    (folder / "spec.yaml").write_text(SPEC.format(data="data: {parquet: parts}\n"))
    return {"x": x, "y": y}


def bench(client: Any, rows: int, workers: int, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": rows, "workers": workers}
    with tempfile.TemporaryDirectory() as tmp:
        for n, key in ((rows, "large"), (100, "tiny")):
            folder = Path(tmp) / key
            folder.mkdir()
            data = _files(folder, n, workers)
            epochs = 5 if n >= 1_000_000 else 50
            on_cluster = prepare(folder / "spec.yaml", dask=client)
            local = prepare(optikit.loads_spec(SPEC.format(data="")), data=data)
            out[f"{key}_cluster_s"] = per_epoch(_timed(on_cluster), epochs, repeat)
            out[f"{key}_local_s"] = per_epoch(_timed(local), epochs, repeat)
            if key == "tiny":
                ev = on_cluster.problem.evaluator
                sent = len(pickle.dumps((ev.text, np.zeros(2), None, (True, True, False, False))))
                back = len(pickle.dumps(_one_partition_sums(ev)))
                out["bytes_to_partition"], out["bytes_from_partition"] = sent, back
            on_cluster.close()
    out["overhead_per_step_s"] = out["tiny_cluster_s"] - out["tiny_local_s"]
    out["noop_round_trip_s"] = noop_round_trip(client, workers, repeat * 10)
    # what each further partition adds to a step: the slope between 2 and 42 no-op tasks
    out["per_task_s"] = (noop_round_trip(client, workers + 40, repeat * 4) - out["noop_round_trip_s"]) / 40
    out["rows_per_s_per_worker"] = rows / out["large_cluster_s"] / workers
    return out


def _noop(columns: Any, params: np.ndarray) -> np.ndarray:
    return params


def noop_round_trip(client: Any, parts: int, repeat: int) -> float:
    """The floor: submitting one task per partition that does nothing, and gathering the results."""
    held = client.scatter([np.zeros(10) for _ in range(parts)], hash=False)
    return median(lambda: client.gather([client.submit(_noop, h, np.zeros(2), pure=False) for h in held]), repeat)


def _one_partition_sums(ev: Any) -> Any:
    from optikit.distributed.worker import partition_sums

    future = ev.session.client.submit(partition_sums, ev.text, ev.partitions[0], np.zeros(2), None,
                                      (True, True, False, False), pure=False)
    return future.result()


def report(r: dict[str, Any]) -> None:
    print(f"batch gd on a local Dask cluster, {r['workers']} worker processes (medians):")
    print(f"  {r['rows']:.0e} rows: {r['large_cluster_s']:.4g} s per epoch on the cluster, {r['large_local_s']:.4g} s "
          f"in-process (the cluster takes {r['large_cluster_s'] / r['large_local_s']:.2f}x the in-process time); "
          f"{r['rows_per_s_per_worker']:.3g} rows/s per worker")
    print(f"  100 rows: {r['tiny_cluster_s'] * 1e3:.3g} ms per step on the cluster, {r['tiny_local_s'] * 1e6:.3g} us "
          f"in-process: {r['overhead_per_step_s'] * 1e3:.3g} ms of overhead per step, "
          f"{r['overhead_per_step_s'] / r['noop_round_trip_s']:.2f}x Dask's round trip of no-op tasks "
          f"({r['noop_round_trip_s'] * 1e3:.3g} ms)")
    print(f"  per partition and step: {r['bytes_to_partition']} bytes sent, {r['bytes_from_partition']} bytes back, "
          f"{r['per_task_s'] * 1e3:.3g} ms of scheduling (slope of no-op round trips, {r['workers']} to "
          f"{r['workers'] + 40} tasks)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        report(bench(client, int(args.rows), args.workers, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
