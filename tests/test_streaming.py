"""Files read a chunk at a time: the same sums as in memory, the documented mini-batch sampling,
and the validation split."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.data import StreamSource, buffered_batches, batches

from .conftest import ROOT

SPEC = """\
model: w*x + b + c*x**2
parameters: {{w: 0.5, b: 0.0, c: 0.1}}
data: {data}
optimizer: {{name: {opt}, lr: 0.05, epochs: 20{extra}}}
"""


def _write(tmp_path, n: int = 5003, seed: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    rows = {"x": x, "y": 1.7 * x - 0.4 + 0.3 * x**2 + rng.normal(0, 0.1, n)}
    lines = ["x,y"] + [f"{float(a)!r},{float(b)!r}" for a, b in zip(rows["x"], rows["y"])]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    return rows


def _spec(tmp_path, data: str, opt: str = "gd", extra: str = "", name: str = "spec.yaml"):
    path = tmp_path / name
    path.write_text(SPEC.format(data=data, opt=opt, extra=extra))
    return path


@pytest.mark.parametrize("opt", ["gd", "lbfgs"])
def test_streamed_full_batch_runs_equal_the_in_memory_run_to_1e_12(tmp_path, opt):
    _write(tmp_path)
    memory = optikit.run(_spec(tmp_path, "{csv: d.csv, stream: false}", opt))
    streamed = optikit.run(_spec(tmp_path, "{csv: d.csv, stream: true, chunk_rows: 97}", opt))
    assert isinstance(optikit.load_data(_spec(tmp_path, "{csv: d.csv, stream: true}")), StreamSource)
    np.testing.assert_allclose(streamed.x, memory.x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(streamed.history.loss, memory.history.loss, rtol=1e-12, atol=0)


def test_streamed_parquet_equals_the_same_rows_in_memory(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    rows = _write(tmp_path)
    pq.write_table(pa.table(rows), tmp_path / "d.parquet", row_group_size=500)
    memory = optikit.run(_spec(tmp_path, "{csv: d.csv}"))
    streamed = optikit.run(_spec(tmp_path, "{parquet: d.parquet, stream: true, chunk_rows: 64}"))
    np.testing.assert_allclose(streamed.x, memory.x, rtol=1e-12, atol=0)


def test_a_file_larger_than_the_memory_budget_is_streamed(tmp_path):
    _write(tmp_path, n=200)
    assert isinstance(optikit.load_data(_spec(tmp_path, "{csv: d.csv, memory_budget_mb: 0.001}")), StreamSource)
    assert not isinstance(optikit.load_data(_spec(tmp_path, "{csv: d.csv}")), StreamSource)


def test_a_streamed_source_reads_in_chunks_and_never_whole(tmp_path, monkeypatch):
    from optikit.data import kinds
    _write(tmp_path, n=300)
    asked = []
    real = kinds.csv_chunks

    def watching(file, header, names, rows, **kw):
        asked.append(rows)
        return real(file, header, names, rows, **kw)

    monkeypatch.setattr(kinds, "csv_chunks", watching)
    optikit.run(_spec(tmp_path, "{csv: d.csv, stream: true, chunk_rows: 50}", "sgd", ", batch_size: 16, seed: 1"))
    assert asked and None not in asked and set(asked) <= {1, 50}
    with pytest.raises(optikit.SpecError, match="streamed"):
        optikit.load_data(_spec(tmp_path, "{csv: d.csv, stream: true}")).take(None)


@pytest.mark.parametrize("opt, extra", [("sgd", ", batch_size: 32, seed: 4"), ("adam", ", batch_size: 100, seed: 9")])
def test_with_a_buffer_holding_every_row_streamed_mini_batches_are_the_in_memory_ones(tmp_path, opt, extra):
    _write(tmp_path, n=700)
    memory = optikit.run(_spec(tmp_path, "{csv: d.csv}", opt, extra))
    streamed = optikit.run(_spec(tmp_path, "{csv: d.csv, stream: true, chunk_rows: 33, shuffle_buffer: 700}", opt, extra))
    assert streamed.x.tolist() == memory.x.tolist()  # the same batches, the same rows: bit for bit
    np.testing.assert_allclose(streamed.history.loss, memory.history.loss, rtol=1e-12)


def test_buffered_batches_permute_each_buffer_with_the_runs_generator():
    n, chunk, batch, buffer = 103, 10, 8, 20  # buffers of 24 rows (20 rounded up to whole batches)
    data = np.arange(n, dtype=float)
    chunks = ({"i": data[s:s + chunk]} for s in range(0, n, chunk))
    got = [buf["i"][idx] for buf, idx in buffered_batches(chunks, batch, buffer, np.random.default_rng(3))]
    rng, expected = np.random.default_rng(3), []
    for start in range(0, n, 24):  # the documented rule, written out independently
        rows = data[start:start + 24]
        order = rng.permutation(len(rows))
        expected += [rows[order[k:k + batch]] for k in range(0, len(rows), batch)]
    assert [g.tolist() for g in got] == [e.tolist() for e in expected]
    assert sorted(np.concatenate(got).tolist()) == data.tolist()  # each row once per epoch
    whole = [buf["i"][idx] for buf, idx in buffered_batches([{"i": data}], batch, n, np.random.default_rng(3))]
    assert [w.tolist() for w in whole] == [data[b].tolist() for b in batches(n, batch, np.random.default_rng(3))]


def test_streamed_fingerprint_equals_the_in_memory_one(tmp_path):
    _write(tmp_path, n=300)
    streamed = optikit.load_data(_spec(tmp_path, "{csv: d.csv, stream: true, chunk_rows: 7}"))
    memory = optikit.load_data(_spec(tmp_path, "{csv: d.csv}"))
    assert streamed.fingerprint() == memory.fingerprint() and streamed.n_rows == 300


def test_the_validation_split_holds_out_rows_and_records_their_loss_each_epoch(tmp_path):
    rows = _write(tmp_path, n=1000)
    split = "split: {validation: 0.25, seed: 3}"
    result = optikit.run(_spec(tmp_path, f"{{csv: d.csv, {split}}}"))
    held = np.random.default_rng(3).random(1000) < 0.25  # the documented rule, row by row
    assert 200 < held.sum() < 300
    for record in result.history:  # recomputed independently at the record's (pre-step) parameters
        before = result.history[record.epoch - 1].parameters if record.epoch else {"w": 0.5, "b": 0.0, "c": 0.1}
        x, y = rows["x"][held], rows["y"][held]
        pred = before["w"] * x + before["b"] + before["c"] * x**2
        assert record.validation_loss == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)
        train = rows["x"][~held], rows["y"][~held]
        pred = before["w"] * train[0] + before["b"] + before["c"] * train[0] ** 2
        assert record.loss == pytest.approx(np.mean((pred - train[1]) ** 2), rel=1e-12)
    streamed = optikit.run(_spec(tmp_path, f"{{csv: d.csv, stream: true, chunk_rows: 64, {split}}}"))
    np.testing.assert_allclose(streamed.history.validation_loss, result.history.validation_loss, rtol=1e-12)
    assert optikit.run(_spec(tmp_path, "{csv: d.csv}")).history.validation_loss is None


def test_the_validation_loss_is_in_the_table_and_the_json(tmp_path):
    _write(tmp_path, n=200)
    path = _spec(tmp_path, "{csv: d.csv, split: {validation: 0.2, seed: 0}}")
    run = [sys.executable, "-m", "optikit", "run", str(path), "--no-plot"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    doc = json.loads(subprocess.run(run + ["--format", "json"], capture_output=True, text=True, env=env, check=True).stdout)
    assert all(isinstance(r["validation_loss"], float) for r in doc["history"])
    table = subprocess.run(run, capture_output=True, text=True, env=env, check=True).stdout
    header = next(line for line in table.splitlines() if line.lstrip().startswith("epoch"))
    assert header.split()[:4] == ["epoch", "step", "loss", "validation"]


def test_inline_data_can_be_split_and_a_bad_split_is_named(tmp_path):
    _write(tmp_path, n=20)
    xs = list(range(20))
    spec = _spec(tmp_path, f"{{x: {xs}, y: {[2 * v for v in xs]}, split: {{validation: 0.3, seed: 1}}}}")
    problem = compile_spec(spec)
    assert problem.n_rows + problem.validation.n_rows == 20 and problem.validation.n_rows > 0
    with pytest.raises(optikit.SpecError) as info:
        optikit.load_spec(_spec(tmp_path, "{csv: d.csv, split: {validation: 1.5}}"))
    assert info.value.field == "data.split.validation"


def test_a_second_source_gives_the_validation_rows(tmp_path):
    rows = _write(tmp_path, n=400)
    np.savez(tmp_path / "held.npz", x=rows["x"][:50] + 1, y=rows["y"][:50])
    result = optikit.run(_spec(tmp_path, "{csv: d.csv, validation: {npz: held.npz}}"))
    first = result.history[0]  # at the initial parameters w=0.5, b=0, c=0.1
    x, y = rows["x"][:50] + 1, rows["y"][:50]
    assert first.validation_loss == pytest.approx(np.mean((0.5 * x + 0.1 * x**2 - y) ** 2), rel=1e-12)
    assert result.history[0].loss == pytest.approx(np.mean((0.5 * rows["x"] + 0.1 * rows["x"]**2 - rows["y"]) ** 2),
                                                   rel=1e-12)
    for data, field in [("{csv: d.csv, validation: {npz: nope.npz}}", "data.validation.npz"),
                        ("{csv: d.csv, validation: {npz: held.npz}, split: {validation: 0.1}}", "data.validation"),
                        ("{csv: d.csv, validation: [1, 2]}", "data.validation")]:
        with pytest.raises(optikit.SpecError) as info:
            optikit.load_spec(_spec(tmp_path, data))
        assert info.value.field == field and info.value.line == 3, data


def test_fit_report_plots_and_save_work_on_a_streamed_file(tmp_path):
    from optikit.cli import main

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 4, 1500)
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + rng.normal(0, 0.01, x.size)
    with open(tmp_path / "d.csv", "w") as handle:
        handle.write("x,y,dy\n")
        handle.writelines(f"{a!r},{b!r},0.01\n" for a, b in zip(x.tolist(), y.tolist()))
    body = ("model: a*exp(-b*x) + c\nparameters: {{a: 1.0, b: 1.0, c: 0.0}}\ndata: {{csv: d.csv{extra}}}\n"
            "sigma: dy\noptimizer: {{name: levenberg-marquardt}}\n")
    streamed, held = tmp_path / "streamed.yaml", tmp_path / "held.yaml"
    streamed.write_text(body.format(extra=", stream: true, chunk_rows: 97"))
    held.write_text(body.format(extra=", stream: false"))
    assert main(["run", str(streamed), "--report", "--save", str(tmp_path / "p.json"), "--plot-fit",
                 str(tmp_path / "f.png"), "-q"]) == 0
    ours, reference = optikit.run(streamed).report(), optikit.run(held).report()
    for name in ("a", "b", "c"):
        assert ours.stderr[name] == pytest.approx(reference.stderr[name], rel=1e-9)
    assert ours.r2 == pytest.approx(reference.r2, rel=1e-12)
