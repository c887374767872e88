"""Data as a source: specs name their data, runs open it, Python hands arrays over at run time."""

from __future__ import annotations

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.backends import NumpyBackend, Sums
from optikit.data import ArraySource, DataSource, kinds
from optikit.engine.checkpoint import spec_identity

LINE = """\
model: w*x + b
parameters: {{w: 0.5, b: 0.0}}
{data}
optimizer: {{name: {opt}, lr: 0.01, epochs: 15{extra}}}
"""


def _rows(n: int = 37, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    return {"x": x, "y": 1.7 * x - 0.4 + rng.normal(0, 0.1, n)}


def _write_csv(path, columns: dict[str, np.ndarray]) -> None:
    names = list(columns)
    lines = [",".join(names)] + [",".join(repr(float(columns[c][i])) for c in names)
                                 for i in range(len(columns[names[0]]))]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def reads(monkeypatch):
    """Counts how often a CSV file's rows are parsed."""
    calls = []
    real = kinds.csv_chunks

    def counting(file, *args, **kwargs):
        calls.append(file)
        return real(file, *args, **kwargs)

    monkeypatch.setattr(kinds, "csv_chunks", counting)
    return calls


def test_loading_a_spec_reads_the_header_of_a_large_file_not_its_rows(tmp_path, reads):
    block = "".join(f"{i * 0.001!r},{i * 0.002!r},{i % 7}\n" for i in range(10_000))
    with open(tmp_path / "big.csv", "w") as handle:
        handle.write("x,y,z\n")
        while handle.tell() < 200 * 10**6:
            handle.write(block)
    assert (tmp_path / "big.csv").stat().st_size >= 200 * 10**6
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(LINE.format(data="data: {csv: big.csv, columns: [x, y]}", opt="gd", extra=""))
    spec = optikit.load_spec(spec_path)
    assert reads == []
    assert spec.data.kind == "csv" and spec.data.columns == ("x", "y") and spec.data.n_rows is None
    source = optikit.load_data(spec)  # opening is not reading either
    assert reads == [] and source.columns == ("x", "y")


def test_the_rows_are_read_once_when_a_run_opens_the_source(tmp_path, reads):
    _write_csv(tmp_path / "d.csv", _rows())
    path = tmp_path / "spec.yaml"
    path.write_text(LINE.format(data="data: {csv: d.csv}", opt="gd", extra=""))
    spec = optikit.load_spec(path)
    assert reads == []
    optikit.run(spec)
    assert len(reads) == 1


def test_bad_cells_are_found_when_the_rows_are_read_and_blamed_on_the_data_field(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,2\n2,oops\n")
    path = tmp_path / "spec.yaml"
    path.write_text(LINE.format(data="data: {csv: d.csv}", opt="gd", extra=""))
    spec = optikit.load_spec(path)  # the header is fine
    with pytest.raises(optikit.SpecError) as info:
        optikit.run(spec)
    err = info.value
    assert err.field == "data.csv" and err.line == 3 and "row 3, column 'y'" in err.message


@pytest.mark.parametrize("opt, extra", [("gd", ""), ("sgd", ", batch_size: 4, seed: 7"), ("adam", "")])
def test_arrays_from_python_give_the_trajectory_of_the_same_data_in_a_csv_file(tmp_path, opt, extra):
    rows = _rows()
    _write_csv(tmp_path / "d.csv", rows)
    path = tmp_path / "file.yaml"
    path.write_text(LINE.format(data="data: {csv: d.csv}", opt=opt, extra=extra))
    from_file = optikit.run(path)
    no_data = tmp_path / "bare.yaml"
    no_data.write_text(LINE.format(data="", opt=opt, extra=extra))
    from_arrays = optikit.run(no_data, data=rows)
    assert from_arrays.history.to_list() == from_file.history.to_list()  # bit for bit
    assert from_arrays.parameters == from_file.parameters and from_arrays.loss == from_file.loss
    replaced = optikit.run(path, data={k: v[:10] for k, v in rows.items()})  # data= replaces the file's
    assert replaced.loss != from_file.loss


def test_a_spec_without_data_lists_the_columns_it_needs(tmp_path):
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    assert spec.data is None and spec.columns == ("x", "y") and spec.used_columns == ("x", "y")
    with pytest.raises(optikit.SpecError, match="no 'data' section and no data was given") as info:
        optikit.run(spec)
    assert "data=" in info.value.hint


@pytest.mark.parametrize("data, field, words", [
    ({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0]}, "data=['y']", "has 2 values but 'x' has 3"),
    ({"x": [1.0, 2.0]}, "data=", "no column 'y'"),
    ({"x": [1.0, 2.0], "y": [1.0, np.inf]}, "data=['y']", "row 1 is inf, not a finite number"),
    ({"x": [1.0, 2.0], "y": [[1.0], [2.0]]}, "data=['y']", "reads it as one number per row"),
    ({"x": [1.0, 2.0], "y": [[[1.0]], [[2.0]]]}, "data=['y']", "1-D column, or a 2-D array"),
    ({"x": [1.0, 2.0], "y": ["a", "b"]}, "data=['y']", "expected numbers"),
    ({"x": [], "y": []}, "data=['x']", "column is empty"),
    ([1.0, 2.0], "data=", "expected a mapping of column names to arrays"),
])
def test_bad_arrays_get_the_errors_file_data_gets_and_name_the_keyword(data, field, words):
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    with pytest.raises(optikit.SpecError) as info:
        optikit.run(spec, data=data)
    assert info.value.field == field and words in str(info.value) and info.value.exit_code == 2
    assert info.value.location is None  # not a line of any file


def test_data_takes_mapping_like_tables_and_only_the_columns_the_spec_knows():
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    rows = _rows()

    class Table:  # what a pandas DataFrame offers: keys() and [name]
        def keys(self):
            return ["label", "x", "for", "y"]

        def __getitem__(self, name):
            return {"label": ["a"] * len(rows["x"]), "for": rows["x"], **rows}[name]

    assert optikit.run(spec, data=Table()).history.to_list() == optikit.run(spec, data=rows).history.to_list()
    assert optikit.load_data(spec, Table()).columns == ("x", "y")  # the others are neither copied nor checked
    with pytest.raises(optikit.SpecError, match="uses no data column") as info:
        optikit.run(optikit.loads_spec("objective: (1 - a)**2\nparameters: {a: 0.0}\noptimizer: gd\n"), data=rows)
    assert info.value.field == "data="


def test_a_column_only_the_hand_written_gradient_uses_is_required(tmp_path):
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra="") + "gradient:\n  w: 2*x*(w*x + b - y)*z\n"
                              "  b: 2*(w*x + b - y)\n")
    assert spec.used_columns == ("x", "y", "z")
    with pytest.raises(optikit.SpecError, match="no column 'z'") as info:
        optikit.run(spec, data=_rows())
    assert info.value.field == "data="
    ones = {**_rows(), "z": np.ones(37)}
    assert optikit.check(spec, data=ones).ok


def test_sources_are_read_only_copies():
    x = np.array([1.0, 2.0, 3.0])
    source = optikit.data.from_arrays({"x": x, "y": 2 * x})
    assert isinstance(source, DataSource)
    with pytest.raises(ValueError):
        source["x"][0] = 99.0
    x[0] = 99.0  # the caller's array is theirs
    assert source["x"][0] == 1.0
    taken = source.take(np.array([2, 0]))
    assert taken["x"].tolist() == [3.0, 1.0] and not taken["x"].flags.writeable
    assert [c["x"].tolist() for c in source.chunks(2)] == [[1.0, 2.0], [3.0]]


def test_a_csv_file_and_the_same_arrays_have_one_fingerprint(tmp_path):
    rows = _rows(9)
    _write_csv(tmp_path / "d.csv", rows)
    path = tmp_path / "spec.yaml"
    path.write_text(LINE.format(data="data: {csv: d.csv}", opt="gd", extra=""))
    from_file = optikit.load_data(path)
    assert from_file.fingerprint() == ArraySource(rows).fingerprint()
    assert from_file.fingerprint() != ArraySource({**rows, "y": rows["y"] + 1e-12}).fingerprint()
    spec = optikit.load_spec(path)
    assert spec_identity(spec, data=from_file) != spec_identity(spec, data=ArraySource({"x": rows["x"], "y": -rows["y"]}))


def test_a_checkpoint_names_the_data_it_belongs_to(tmp_path):
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    rows = _rows()
    ck = tmp_path / "ck.json"
    optikit.run(spec, data=rows, checkpoint=ck, callbacks=[lambda r: r.epoch == 4])
    same = optikit.run(spec, data={"y": rows["y"], "x": rows["x"], "unused": rows["x"]}, resume=ck)
    assert same.history.to_list() == optikit.run(spec, data=rows).history.to_list()  # order and extras do not matter
    with pytest.raises(optikit.SpecError, match="the data differs from the checkpointed run's") as info:
        optikit.run(spec, data={**rows, "y": rows["y"] + 1.0}, resume=ck)
    assert info.value.field == "--resume"


def test_partial_sums_over_parts_of_the_rows_add_up_to_the_whole(tmp_path):
    problem = compile_spec(optikit.loads_spec(LINE.format(data="", opt="gd", extra="")), data=_rows(50))
    ev, p = problem.evaluator, np.array([0.3, -0.2])
    whole = ev.sums(p, hessian=True, gauss_newton=True)
    order = np.random.default_rng(0).permutation(50)
    parts = [ev.sums(p, order[i:i + 13], hessian=True, gauss_newton=True) for i in range(0, 50, 13)]
    total = sum(parts[1:], parts[0])
    assert isinstance(total, Sums) and total.n == whole.n == 50
    for name in ("loss", "grad", "hessian", "jtj", "jtr"):
        np.testing.assert_allclose(getattr(total, name), getattr(whole, name), rtol=1e-12, err_msg=name)
    jac, r = problem.jacobian(p), problem.residuals(p)
    np.testing.assert_allclose(whole.jtj, jac.T @ jac, rtol=1e-12)
    np.testing.assert_allclose(whole.jtr, jac.T @ r, rtol=1e-12)
    np.testing.assert_allclose(whole.loss / whole.n, np.mean(r**2), rtol=1e-12)  # mse: loss = r**2


def test_gradient_checks_take_data_from_python_too():
    rows = _rows()
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    report = optikit.check(spec, data=rows)
    assert report.ok and report.rows == len(rows["x"])


class _CountingBackend(NumpyBackend):
    """The numpy backend under another name, counting what it compiles."""

    name = "counting"
    compiled: list = []

    def compile(self, problem, source):
        type(self).compiled.append(problem.name)
        return super().compile(problem, source)


def test_a_backend_registered_by_a_plugin_is_used_when_named(tmp_path):
    plugin = tmp_path / "counting_backend.py"
    plugin.write_text("import optikit\nfrom tests.test_data import _CountingBackend\n\n"
                      "@optikit.hookimpl\ndef optikit_register_backends(register):\n    register(_CountingBackend)\n")
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    _CountingBackend.compiled.clear()
    rows = _rows()
    ours = optikit.run(spec, data=rows, backend="counting", plugins=[str(plugin)])
    assert _CountingBackend.compiled == [spec.name]
    assert ours.history.to_list() == optikit.run(spec, data=rows).history.to_list()
    with pytest.raises(optikit.SpecError, match="unknown backend 'nope'; registered: numba, numpy"):
        optikit.run(spec, data=rows, backend="nope")


def test_validate_accepts_a_spec_whose_data_comes_at_run_time_and_run_says_what_is_missing(tmp_path, capsys):
    from optikit.cli import main

    path = tmp_path / "bare.yaml"
    path.write_text(LINE.format(data="", opt="gd", extra=""))
    assert main(["validate", str(path)]) == 0
    assert "its data is given at run time" in capsys.readouterr().out
    assert main(["run", str(path), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:1: data: the spec has no 'data' section" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(LINE.format(data="", opt="newton", extra="").replace("w*x + b", "abs(w*x + b)") + "loss: mae\n")
    assert main(["validate", str(bad)]) == 0  # newton needs no residuals
    lm = tmp_path / "lm.yaml"
    lm.write_text(LINE.format(data="", opt="levenberg-marquardt", extra="").replace("lr: 0.01, ", "") + "loss: mae\n")
    assert main(["validate", str(lm)]) == 2
    assert "needs a least-squares loss" in capsys.readouterr().err


class _SkewedBackend(NumpyBackend):
    """The numpy backend with gradient sums 1% off: what a broken plugin backend would do."""

    name = "skewed"

    def compile(self, problem, source):
        evaluator = super().compile(problem, source)
        exact = evaluator.sums

        def sums(params, rows=None, **parts):
            s = exact(params, rows, **parts)
            return Sums(s.n, s.loss, None if s.grad is None else s.grad * 1.01, s.hessian, s.jtj, s.jtr)

        evaluator.sums = sums
        return evaluator


def test_a_gradient_check_judges_the_backend_s_own_sums(tmp_path):
    plugin = tmp_path / "skewed_backend.py"
    plugin.write_text("import optikit\nfrom tests.test_data import _SkewedBackend\n\n"
                      "@optikit.hookimpl\ndef optikit_register_backends(register):\n    register(_SkewedBackend)\n")
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    rows = _rows()
    assert optikit.check(spec, data=rows).ok
    report = optikit.check(spec, data=rows, backend="skewed", plugins=[str(plugin)])
    assert not report.ok and report["w"].verdict == "derived gradient disagrees with finite differences"


def test_validation_rows_from_python_are_recorded_and_checked():
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    rows = _rows(40)
    train = {k: v[:30] for k, v in rows.items()}
    held = {k: v[30:] for k, v in rows.items()}
    result = optikit.run(spec, data=train, validation=held)
    # at the initial parameters (w=0.5, b=0), as the first record's training loss is
    assert result.history.records[0].validation_loss == pytest.approx(np.mean((0.5 * held["x"] - held["y"]) ** 2),
                                                                      rel=1e-12)
    assert all(r.validation_loss is not None for r in result.history.records)
    with pytest.raises(optikit.SpecError) as info:
        optikit.run(spec, data=train, validation={"x": held["x"]})
    assert info.value.field == "validation=" and "no column 'y'" in str(info.value) and info.value.exit_code == 2


def test_validation_rows_from_python_stay_off_a_cluster():
    spec = optikit.loads_spec(LINE.format(data="", opt="gd", extra=""))
    rows = _rows(40)
    with pytest.raises(optikit.SpecError) as info:  # refused before any cluster is asked
        optikit.run(spec, data=rows, validation=rows, dask="tcp://127.0.0.1:9")
    assert info.value.field == "validation= with dask=" and info.value.exit_code == 2
