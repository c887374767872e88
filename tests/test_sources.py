"""Every kind of data source, its errors, and that one set of numbers trains the same from each."""

from __future__ import annotations

import builtins
import json
import re

import numpy as np
import pytest

import optikit
from optikit.data import generate as generate_module

SPEC = """\
model: w*x + b
parameters: {{w: 0.5, b: 0.0}}
data: {data}
optimizer: {{name: {opt}, lr: 0.05, epochs: 12{extra}}}
"""


def _rows(n: int = 53, seed: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    return {"x": x, "y": 1.7 * x - 0.4 + rng.normal(0, 0.1, n), "z": rng.normal(size=n)}


def _write(tmp_path, rows: dict[str, np.ndarray]) -> None:
    """The same numbers as csv, npy, npz and parquet files."""
    names = list(rows)
    lines = [",".join(names)] + [",".join(repr(float(rows[c][i])) for c in names) for i in range(len(rows["x"]))]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "semi.csv").write_text("\n".join(line.replace(",", ";") for line in lines) + "\n")
    np.save(tmp_path / "d.npy", np.stack([rows[c] for c in names], axis=1))
    np.savez(tmp_path / "d.npz", **rows)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.table(rows), tmp_path / "d.parquet", row_group_size=16)


def _run(tmp_path, section: str, opt: str = "gd", extra: str = "", **kw):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(data=section, opt=opt, extra=extra))
    return optikit.run(path, **kw)


def _error(tmp_path, data: str) -> optikit.SpecError:
    with pytest.raises(optikit.SpecError) as info:
        _run(tmp_path, data)
    return info.value


@pytest.mark.parametrize("opt, extra", [("gd", ""), ("sgd", ", batch_size: 8, seed: 2")])
def test_parquet_npy_npz_and_csv_of_the_same_numbers_give_bit_identical_runs(tmp_path, opt, extra):
    _write(tmp_path, _rows())
    sources = {"csv": "{csv: d.csv, columns: [x, y]}", "semicolons": "{csv: semi.csv, delimiter: ';', columns: [x, y]}",
               "npy": "{npy: d.npy, columns: [x, y, z]}", "npz": "{npz: d.npz, columns: [x, y]}",
               "parquet": "{parquet: d.parquet, columns: [x, y]}", "csv streamed": "{csv: d.csv, stream: false}"}
    runs = {k: _run(tmp_path, v, opt, extra) for k, v in sources.items()}
    arrays = _run(tmp_path, "{csv: d.csv}", opt, extra, data={k: v for k, v in _rows().items() if k != "z"})
    for name, result in runs.items():
        assert result.history.to_list() == arrays.history.to_list(), name
        assert result.parameters == arrays.parameters and result.loss == arrays.loss, name


def test_a_pandas_dataframe_is_data_like_its_columns(tmp_path):
    pd = pytest.importorskip("pandas")
    _write(tmp_path, rows := _rows())
    frame = _run(tmp_path, "{csv: d.csv}", data=pd.DataFrame(rows))
    assert frame.history.to_list() == _run(tmp_path, "{csv: d.csv}", data=rows).history.to_list()
    with pytest.raises(optikit.SpecError, match=r"data=\['x'\]: expected numbers"):
        _run(tmp_path, "{csv: d.csv}", data=pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]}))


@pytest.mark.parametrize("kind, data, needle, field", [
    ("missing file", "{csv: nope.csv}", "no such file", "data.csv"),
    ("missing npy", "{npy: nope.npy, columns: [x, y]}", "no such file", "data.npy"),
    ("missing parquet", "{parquet: nope.parquet}", "no such file", "data.parquet"),
    ("missing column", "{csv: d.csv, columns: [x, q]}", "no column 'q'", "data.columns[1]"),
    ("missing npz column", "{npz: d.npz, columns: [x, q]}", "no column 'q'", "data.columns[1]"),
    ("missing parquet column", "{parquet: d.parquet, columns: [q]}", "no column 'q'", "data.columns[0]"),
    ("empty file", "{csv: empty.csv}", "empty file", "data.csv"),
    ("unnamed npy", "{npy: d.npy}", "name them with 'columns", "data.npy"),
    ("bad missing", "{csv: d.csv, missing: skip}", "error, drop", "data.missing"),
    ("bad delimiter", "{csv: d.csv, delimiter: ';;'}", "one character", "data.delimiter"),
    ("two sources", "{csv: d.csv, npz: d.npz}", "give one source", "data.npz"),
    ("unknown option", "{npz: d.npz, delimiter: ';'}", "unknown key 'delimiter'", "data.delimiter"),
    ("outside", "{parquet: ../d.parquet}", "spec's folder", "data.parquet"),
])
def test_errors_found_when_the_spec_is_loaded_name_the_field(tmp_path, kind, data, needle, field):
    _write(tmp_path, _rows())
    (tmp_path / "empty.csv").write_text("")
    err = _error(tmp_path, data)
    assert needle in err.message and err.field == field and err.line == 3, (kind, err)


@pytest.mark.parametrize("text, needle", [
    ("x,y\n1,2\n2,oops\n", "row 3, column 'y': 'oops' is not a number"),
    ("x,y\n1,2\n3\n", "row 3 has 1 cells, the header has 2"),
    ("x,y\n1,2\n3,4,5\n", "row 3 has 3 cells, the header has 2"),
    ("x,y\n", "no data rows"),
    ("x,y\n1,2\n4,\n", "row 3, column 'y': '' is not a number (an empty cell; 'missing: drop'"),
    ("x,y\n1,nan\n", "row 2, column 'y': 'nan' is not a finite number"),
])
@pytest.mark.parametrize("stream", ["false", "true"])
def test_bad_rows_are_named_by_row_and_column_in_memory_and_streamed(tmp_path, text, needle, stream):
    (tmp_path / "d.csv").write_text(text)
    err = _error(tmp_path, f"{{csv: d.csv, stream: {stream}, chunk_rows: 1}}")
    assert needle in err.message and err.field == "data.csv" and err.line == 3, err


def test_missing_drop_drops_rows_with_an_empty_cell_in_a_used_column_only(tmp_path):
    (tmp_path / "d.csv").write_text("x,y,note\n1,2,\n2,,\n3,6.5,a\n,1,\n4,8,\n")
    source = optikit.load_data(_spec(tmp_path, "{csv: d.csv, columns: [x, y], missing: drop}"))
    assert source["x"].tolist() == [1, 3, 4] and source["y"].tolist() == [2, 6.5, 8]


def _spec(tmp_path, data: str):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(data=data, opt="gd", extra=""))
    return path


def test_parquet_nulls_are_named_or_dropped(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"x": [1.0, None, 3.0], "y": [2.0, 4.0, 6.0]}), tmp_path / "n.parquet")
    err = _error(tmp_path, "{parquet: n.parquet}")
    assert "row 1, column 'x': an empty cell" in err.message and err.field == "data.parquet"
    source = optikit.load_data(_spec(tmp_path, "{parquet: n.parquet, missing: drop}"))
    assert source["x"].tolist() == [1.0, 3.0] and source["y"].tolist() == [2.0, 6.0]


def test_without_pyarrow_a_parquet_spec_says_in_one_line_how_to_install_it(tmp_path, monkeypatch):
    _write(tmp_path, _rows())
    real = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    err = _error(tmp_path, "{parquet: d.parquet}")
    assert "install optikit[parquet]" in err.message and "\n" not in err.message and err.field == "data.parquet"
    assert _run(tmp_path, "{csv: d.csv, columns: [x, y]}").loss > 0  # the other kinds need no pyarrow


GENERATED = "{{generate: {{rows: {rows}, seed: {seed}, columns: {{x: 'uniform(-1, 1)', y: '2*x + normal(0, 0.1)'}}}}}}"


def test_generated_data_is_reproducible_by_its_seed_and_follows_its_expressions(tmp_path):
    def data(seed: int):
        return optikit.load_data(_spec(tmp_path, GENERATED.format(rows=2000, seed=seed)))

    a, b, c = data(5), data(5), data(6)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    rng = np.random.default_rng(5)  # the documented order of draws: calls in order, column by column
    x = rng.uniform(-1, 1, 2000)
    assert np.array_equal(a["x"], x) and np.array_equal(a["y"], 2 * x + rng.normal(0, 0.1, 2000))
    result = _run(tmp_path, GENERATED.format(rows=2000, seed=5), opt="gd", extra="")
    slope, intercept = np.polyfit(a["x"], a["y"], 1)
    assert result.loss < 0.5 * result.initial_loss and np.sign(result.parameters["w"]) == np.sign(slope)


@pytest.mark.parametrize("columns, needle, field", [
    ("{x: 'uniform(0)'}", "uniform takes 2 arguments", "data.generate.columns.x"),
    ("{x: 'normal(0, y)'}", "argument 'y' of normal", "data.generate.columns.x"),
    ("{x: 'y + 1', y: 'uniform(0, 1)'}", "unknown symbol 'y'", "data.generate.columns.x"),
    ("{x: '__import__(1)'}", "", "data.generate.columns.x"),
    ("{x: 'uniform(0, 1)', y: 'log(uniform(-1, 0))'}", "not a finite number", "data.generate.columns.y"),
])
def test_generated_columns_are_parsed_by_the_safe_parser(tmp_path, columns, needle, field):
    err = _error(tmp_path, f"{{generate: {{rows: 10, seed: 0, columns: {columns}}}}}")
    assert needle in err.message and err.field == field, err


def test_generated_data_needs_a_seed(tmp_path):
    err = _error(tmp_path, "{generate: {rows: 10, columns: {x: 'uniform(0, 1)'}}}")
    assert "seed" in err.message and err.field == "data.generate.seed"


def test_the_random_table_draws_from_numpy_generators(tmp_path):
    draws = {name: fn(np.random.default_rng(0), 4, *([0.5] * len(args)))
             for name, (args, fn) in generate_module.RANDOM.items()}
    assert np.array_equal(draws["normal"], np.random.default_rng(0).normal(0.5, 0.5, 4))
    assert set(np.unique(draws["bernoulli"])) <= {0.0, 1.0}


@pytest.mark.parametrize("columns, words", [
    ({"x": "uniform(1, 0)", "y": "2*x"}, "cannot draw uniform(1, 0)"),
    ({"x": "normal(0, -1)", "y": "2*x"}, "cannot draw normal(0, -1)"),
    ({"random_draw_0_": "1", "x": "uniform(0, 1)", "y": "2*x"}, "are reserved"),
])
def test_generated_columns_refuse_bad_draws_and_reserved_names(tmp_path, columns, words):
    from optikit.cli import main

    spec = tmp_path / "g.yaml"
    spec.write_text("model: a*x\nparameters: {a: 1.0}\ndata:\n  generate: {rows: 10, seed: 0, columns: "
                    + json.dumps(columns) + "}\noptimizer: gd\n")
    with pytest.raises(optikit.SpecError, match=re.escape(words)) as info:
        optikit.run(spec)
    assert info.value.line == 4 and info.value.field.startswith("data.generate.columns")
    assert main(["validate", str(spec)]) == 2
