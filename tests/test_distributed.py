"""Training on a Dask cluster gives the run a local process gives: the same batches, the same
sums up to their order of addition, the same result after a worker is lost."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.cli import main
from optikit.errors import SpecError

from .conftest import SPECS

pytestmark = pytest.mark.slow

SPEC = """name: decay
model: a*exp(-k*x) + c
parameters: {a: 1.0, k: 0.5, c: 0.0}
data:
  parquet: parts
optimizer: {name: gd, lr: 0.2, epochs: 40}
"""


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def parts(tmp_path):
    """A parquet data set in four files of unequal size, its spec, and the same rows as arrays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    (tmp_path / "parts").mkdir()
    x = rng.uniform(0.0, 4.0, size=3000)
    y = 2.5 * np.exp(-0.8 * x) + 0.3 + 0.01 * rng.normal(size=x.size)
    for i, (a, b) in enumerate([(0, 400), (400, 1500), (1500, 1600), (1600, 3000)]):
        pq.write_table(pa.table({"x": x[a:b], "y": y[a:b]}), tmp_path / "parts" / f"part-{i}.parquet")
    spec = tmp_path / "decay.yaml"
    spec.write_text(SPEC)
    return spec, {"x": x, "y": y}


def _in_memory(spec, rows, **kw):
    return optikit.run(optikit.load_spec(spec), data=rows, **kw)


def _close(a, b, rel=1e-12, history_rel=None):
    """The same run: final parameters and loss to ``rel``; the epochs' losses to ``history_rel``
    (geodesic acceleration's finite difference magnifies the order in which partitions add up)."""
    for name, value in b.parameters.items():
        assert a.parameters[name] == pytest.approx(value, rel=rel, abs=0), name
    assert a.loss == pytest.approx(b.loss, rel=rel)
    assert a.steps == b.steps and a.stop_reason == b.stop_reason
    assert [r.loss for r in a.history] == pytest.approx([r.loss for r in b.history], rel=history_rel or rel)


def test_a_local_run_imports_nothing_of_dask():
    import subprocess

    code = ("import sys, optikit; optikit.run(sys.argv[1]); "
            "print([m for m in ('dask', 'distributed', 'optikit.distributed') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code, str(SPECS / "seed_gd.yaml")], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(SPECS.parent)}).stdout
    assert out.strip() == "[]"


# before the cluster starts: its threads must not see Dask taken away
def test_an_unreachable_scheduler_is_refused_quickly_with_exit_code_2(parts, capsys, monkeypatch):
    spec, _ = parts
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPTIKIT_DASK_TIMEOUT", "1")
    assert main(["run", str(spec), "--dask", f"tcp://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"--dask / dask=: no Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s" in err
    assert "Traceback" not in err
    assert main(["run", str(spec), "--dask", "127.0.0.1"]) == 2
    assert "expected 'local' or a scheduler address" in capsys.readouterr().err


def test_without_the_extra_the_error_says_how_to_install_it(parts, capsys, monkeypatch):
    spec, _ = parts
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    assert main(["run", str(spec), "--dask", "local"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "optikit: error: --dask / dask=: running on a Dask cluster needs dask and " \
                                  "distributed: install optikit[dask]"
    assert "pip install 'optikit[dask]'" in err
    with pytest.raises(SpecError, match=r"install optikit\[dask\]"):
        optikit.run(spec, dask="local")


def test_batch_gd_on_a_partitioned_parquet_set_gives_the_in_memory_result(client, parts):
    spec, rows = parts
    first = optikit.run(spec, dask=client)
    _close(first, _in_memory(spec, rows))
    _close(optikit.run(spec, dask=client), first, rel=0)  # the same partitions, added in the same order

    def built():
        from optikit.distributed import worker

        return sorted(worker._BUILT)

    # the workers derived the problem from the spec's text and kept it under the client's digest
    from optikit.distributed.worker import expression_digest

    digest = expression_digest(compile_spec(spec).symbolic)
    kept = list(client.run(built).values())
    assert all(b in ([], [digest]) for b in kept) and [digest] in kept


def test_a_worker_refuses_a_problem_it_derives_differently(parts):
    from optikit.distributed.worker import ProblemText, partition_sums

    spec, rows = parts
    text = ProblemText(spec.read_text(), str(spec), (("mse", "(model - target)**2"),), True, "0" * 64)
    with pytest.raises(RuntimeError, match="derived other expressions from the spec than the client did"):
        partition_sums(text, rows, np.zeros(3), None, (True, True, False, False))


def test_levenberg_marquardt_sums_the_normal_equations_on_the_workers(client, parts):
    spec, rows = parts
    kw = dict(optimizer="levenberg-marquardt")
    prepared = optikit.prepare(spec, dask=client, **kw)
    try:
        p = np.array([1.0, 0.5, 0.0])
        local = compile_spec(spec).oracle()
        jtj, jtr, cost = prepared.problem.oracle().gauss_newton(p)
        r, jac = local.residuals(p), local.jacobian(p)
        np.testing.assert_allclose(jtj, jac.T @ jac, rtol=1e-13)
        np.testing.assert_allclose(jtr, jac.T @ r, rtol=1e-13)
        assert cost == pytest.approx(r @ r, rel=1e-13)
        batch = np.random.default_rng(0).permutation(3000)[:300]  # rows of every partition, in the batch's order
        np.testing.assert_array_equal(prepared.problem.residuals(p, batch), local.residuals(p)[batch])
        result = prepared.run()
    finally:
        prepared.close()
    assert result.stop_reason == "converged"
    _close(result, _in_memory(spec, rows, **kw))


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
def test_methods_that_ask_the_oracle_get_the_clusters_sums(client, parts, optimizer):
    spec, rows = parts  # newton: the Hessian summed on the workers; both: line searches of full-data losses
    result, local = optikit.run(spec, dask=client, optimizer=optimizer), _in_memory(spec, rows, optimizer=optimizer)
    assert result.stop_reason == local.stop_reason == "converged" and result.steps == local.steps
    for name, value in local.parameters.items():  # the path may differ in late digits, not where it ends
        assert result.parameters[name] == pytest.approx(value, rel=1e-12, abs=0), name


def test_mini_batches_are_the_ones_a_local_run_draws(client, parts):
    spec, rows = parts
    kw = dict(optimizer="sgd", lr=0.05, batch_size=256, epochs=2, seed=11)
    _close(optikit.run(spec, dask=client, **kw), _in_memory(spec, rows, **kw))


def _local_sgd_by_hand(rows, bounds, seed, lr, batch, every, epochs):
    """Local SGD written out in NumPy: each partition steps on its own permutations
    (``default_rng((seed, i))``), the parameters averaged by rows every ``every`` steps."""
    xs = [rows["x"][a:b] for a, b in bounds]
    ys = [rows["y"][a:b] for a, b in bounds]
    n = np.array([len(x) for x in xs])
    rngs = [np.random.default_rng((seed, i)) for i in range(len(xs))]
    orders, at = [r.permutation(m) for r, m in zip(rngs, n)], [0] * len(xs)
    rounds = -(-int(-(-n.max() // batch)) // every)
    p = np.array([1.0, 0.5, 0.0])
    for _ in range(epochs * rounds):
        ends = []
        for i, (x, y) in enumerate(zip(xs, ys)):
            a, k, c = p
            q = p.copy()
            for _ in range(every):
                if at[i] >= n[i]:
                    orders[i], at[i] = rngs[i].permutation(n[i]), 0
                b = orders[i][at[i]:at[i] + batch]
                at[i] += batch
                a, k, c = q
                e = np.exp(-k * x[b])
                r = a * e + c - y[b]
                q = q - lr * np.array([np.sum(2 * r * e), np.sum(-2 * r * a * x[b] * e), np.sum(2 * r)]) / len(b)
            ends.append(q)
        p = np.zeros(3)
        for w, end in zip(n / n.sum(), ends):
            p = p + w * end
    return p


def test_local_sgd_averages_every_k_steps_and_repeats_with_its_seed(client, parts):
    spec, rows = parts
    kw = dict(optimizer="sgd", lr=0.05, batch_size=64, epochs=2, sync_every=5)
    first = optikit.run(spec, dask=client, seed=7, **kw)
    assert first.parameters == optikit.run(spec, dask=client, seed=7, **kw).parameters
    assert first.parameters != optikit.run(spec, dask=client, seed=8, **kw).parameters
    bounds = [(0, 400), (400, 1500), (1500, 1600), (1600, 3000)]
    expected = _local_sgd_by_hand(rows, bounds, 7, 0.05, 64, 5, 2)
    np.testing.assert_allclose([first.parameters[k] for k in "akc"], expected, rtol=1e-12)
    assert len(first.history) == 2 and first.seed == 7
    plain = {k: v for k, v in kw.items() if k != "sync_every"}  # one process averages with itself: plain SGD
    assert optikit.run(spec, seed=7, **kw).parameters == optikit.run(spec, seed=7, **plain).parameters
    with pytest.raises(SpecError, match="sync_every is for optimizers that step on mini-batches"):
        optikit.run(spec, dask=client, optimizer="gd", sync_every=5)


def test_files_past_the_memory_budget_are_streamed_by_the_workers(client, parts):
    spec, rows = parts
    spec.write_text(SPEC.replace("parquet: parts", "parquet: parts\n  memory_budget_mb: 0.02\n  chunk_rows: 500"))
    prepared = optikit.prepare(spec, dask=client)
    try:
        assert prepared.problem.evaluator.streamed and prepared.problem.n_rows == 3000
        result = prepared.run()
    finally:
        prepared.close()
    _close(result, _in_memory(spec, rows))
    with pytest.raises(SpecError, match="mini-batches are drawn from rows held in worker memory"):
        optikit.run(spec, dask=client, optimizer="sgd", batch_size=100, epochs=1)


def test_a_validation_source_is_evaluated_on_the_workers(client, parts):
    spec, rows = parts
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": rows["x"][::7], "y": rows["y"][::7] + 0.01}), spec.parent / "held.parquet")
    spec.write_text(SPEC.replace("parquet: parts", "parquet: parts\n  validation: {parquet: held.parquet}"))
    on_cluster, local = optikit.run(spec, dask=client, epochs=5), optikit.run(spec, epochs=5)
    assert [r.validation_loss for r in on_cluster.history] == \
        pytest.approx([r.validation_loss for r in local.history], rel=1e-12)
    assert on_cluster.history[0].validation_loss is not None


def test_sigma_weights_the_sums_on_the_workers_and_must_be_positive(client, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    x = rng.uniform(0, 4, 200)
    rows = {"x": x, "y": 2.5 * np.exp(-0.8 * x) + 0.3 + 0.02 * rng.normal(size=200), "s": rng.uniform(0.01, 0.05, 200)}
    (tmp_path / "parts").mkdir()
    for i in range(2):
        part = pa.table({k: v[i * 100:(i + 1) * 100] for k, v in rows.items()})
        pq.write_table(part, tmp_path / "parts" / f"{i}.parquet")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("data:", "sigma: s\ndata:").replace("gd, lr: 0.2, epochs: 40", "levenberg-marquardt"))
    _close(optikit.run(spec, dask=client), _in_memory(spec, rows), history_rel=1e-10)
    bad = {**rows, "s": np.where(np.arange(200) == 150, 0.0, rows["s"])}
    with pytest.raises(SpecError, match="sigma column 's' must be positive and finite; row 151 is 0.0"):
        optikit.run(spec, data=bad, dask=client)
    pq.write_table(pa.table({k: v[100:] for k, v in bad.items()}), tmp_path / "parts" / "1.parquet")
    for streamed in ("", "\n  stream: true\n  chunk_rows: 30"):  # held by a worker, or read at every pass
        spec.write_text(spec.read_text().replace("parquet: parts", "parquet: parts" + streamed))
        with pytest.raises(SpecError, match="1.parquet: sigma column 's' must be positive and finite; row 51 is 0.0"):
            optikit.run(spec, dask=client)


def test_what_does_not_run_on_a_cluster_is_refused_at_its_field(client, parts):
    spec, _ = parts
    with pytest.raises(SpecError) as err:
        optikit.run(spec, dask=client, backend="numba")
    assert err.value.field == "--backend / backend= with --dask / dask="
    with pytest.raises(SpecError, match="an objective without data has no rows"):
        optikit.run(SPECS / "rosenbrock.yaml", dask=client)
    with pytest.raises(SpecError, match="vector parameters and sum.*on one machine") as err:
        optikit.run(SPECS / "breast_cancer.yaml", dask=client)
    assert err.value.field == "model"
    spec.write_text(SPEC.replace("parquet: parts", "parquet: parts\n  split: {validation: 0.2}"))
    with pytest.raises(SpecError) as err:
        optikit.run(spec, dask=client)
    assert "a validation split is not drawn on a cluster" in err.value.message and err.value.line == 6


def test_one_parquet_file_is_split_by_row_groups_over_the_workers(client, parts):
    spec, rows = parts
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(rows), spec.parent / "one.parquet", row_group_size=700)  # 5 groups, the last short
    spec.write_text(SPEC.replace("parquet: parts", "parquet: one.parquet"))
    prepared = optikit.prepare(spec, dask=client)
    try:
        assert len(prepared.problem.evaluator.partitions) == 2 and prepared.problem.n_rows == 3000
        result = prepared.run()
    finally:
        prepared.close()
    _close(result, _in_memory(spec, rows))
    kw = dict(optimizer="sgd", lr=0.05, batch_size=256, epochs=1, seed=3)
    _close(optikit.run(spec, dask=client, **kw), _in_memory(spec, rows, **kw))


def test_rows_handed_over_from_python_are_scattered(client, parts):
    spec, rows = parts
    spec.write_text(SPEC.replace("data:\n  parquet: parts\n", ""))
    _close(optikit.run(spec, data=rows, dask=client), _in_memory(spec, rows))


def test_the_command_line_prints_the_table_a_local_run_prints(client, parts, capsys):
    spec, _ = parts

    def table(args):
        assert main(["run", str(spec), "--every", "5", *args]) == 0
        lines = capsys.readouterr().out.splitlines()
        return [line for line in lines if line.strip()[:1].isdigit() or line.startswith("loss:")]

    on_cluster = table(["--dask", client.scheduler.address])
    assert on_cluster == table([]) and len(on_cluster) == 10


def test_a_bad_file_is_named_at_the_specs_line(client, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "parts").mkdir()
    pq.write_table(pa.table({"x": [1.0, 2.0], "y": [1.0, 2.0]}), tmp_path / "parts" / "a.parquet")
    pq.write_table(pa.table({"x": [1.0, None], "y": [1.0, 2.0]}), tmp_path / "parts" / "b.parquet")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    with pytest.raises(SpecError) as err:
        optikit.run(spec, dask=client)
    assert "b.parquet" in err.value.message and "empty cell" in err.value.message and err.value.line == 5


@pytest.mark.parametrize("where", ["files", "scattered"])
def test_a_worker_killed_mid_run_does_not_change_the_result(client, parts, where):
    spec, rows = parts
    data = None
    if where == "scattered":  # rows Dask cannot recompute: the client scatters them again
        spec.write_text(SPEC.replace("data:\n  parquet: parts\n", ""))
        data = rows
    client.wait_for_workers(2)  # the nanny's replacement of a worker killed before
    pids = client.run(os.getpid)
    killed = []

    def kill_one(record):
        if record.epoch == 10 and not killed:
            worker, pid = next(iter(pids.items()))
            os.kill(pid, signal.SIGKILL)
            killed.append(worker)
            while worker in client.scheduler_info()["workers"]:  # the next steps need its partitions
                time.sleep(0.02)

    result = optikit.run(spec, data=data, dask=client, callbacks=[kill_one])
    assert killed
    _close(result, _in_memory(spec, rows))
