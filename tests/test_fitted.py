"""Using a fitted model: result.predict, --save, optikit predict, notebooks' HTML, --record."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import optikit
from optikit.cli import main
from optikit.errors import SpecError
from optikit.output.fitted import FitResult, load_parameters

from .conftest import SPECS


@pytest.fixture(scope="module")
def decay():
    x = np.linspace(0.0, 4.0, 40)
    return optikit.run(SPECS / "exp_decay_lm.yaml", data={"x": x, "y": 2.5 * np.exp(-0.8 * x) + 0.3})


def test_result_predict_matches_the_closed_form(decay):
    a, b, c = (decay.parameters[k] for k in "abc")
    x = np.array([0.0, 1.5, 10.0])
    np.testing.assert_allclose(decay.predict({"x": x}), a * np.exp(-b * x) + c, rtol=1e-14)
    np.testing.assert_allclose(decay.predict({"x": x}), 2.5 * np.exp(-0.8 * x) + 0.3, atol=1e-6)
    source = optikit.load_data(SPECS / "line_bias.yaml")
    line = optikit.run(SPECS / "line_bias.yaml", epochs=5)
    assert line.predict(source).shape == (source.n_rows,)  # a data source works as well as a mapping


def test_predict_names_a_missing_column(decay):
    with pytest.raises(SpecError, match="no column 'x'.*reads x") as info:
        decay.predict({"t": [1.0]})
    assert info.value.field == "data="


def test_save_and_load_round_trip_exactly(decay, tmp_path):
    path = decay.save(tmp_path / "p.json")
    payload = json.loads(path.read_text())
    assert payload["format"] == "optikit-parameters/1" and payload["model"] == "a*exp(-b*x) + c"
    np.testing.assert_array_equal(load_parameters(path, ("a", "b", "c")), decay.x)  # bit for bit
    with pytest.raises(SpecError, match="missing d"):
        load_parameters(path, ("a", "b", "c", "d"))
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(SpecError, match="not a parameters file"):
        load_parameters(tmp_path / "bad.json", ("a",))


def test_run_save_then_predict_on_new_data(tmp_path, capsys):
    params = tmp_path / "line.json"
    assert main(["run", str(SPECS / "line_bias.yaml"), "--save", str(params)]) == 0
    capsys.readouterr()
    (tmp_path / "new.csv").write_text("x\n0\n2\n10\n")
    assert main(["predict", str(SPECS / "line_bias.yaml"), "--parameters", str(params),
                 "--data", str(tmp_path / "new.csv")]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    saved = json.loads(params.read_text())["parameters"]
    assert rows[0] == ["x", "prediction"]
    for row in rows[1:]:
        assert float(row[1]) == saved["a"] * float(row[0]) + saved["b"]
    out = tmp_path / "p.npy"
    assert main(["predict", str(SPECS / "line_bias.yaml"), "--parameters", str(params),
                 "--data", str(tmp_path / "new.csv"), "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out, allow_pickle=False), [float(r[1]) for r in rows[1:]])
    csv_out = tmp_path / "p.csv"
    assert main(["predict", str(SPECS / "line_bias.yaml"), "--parameters", str(params),
                 "--data", str(tmp_path / "new.csv"), "--out", str(csv_out)]) == 0
    assert csv_out.read_text().splitlines()[0] == "x,prediction"


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.csv"], "--data"),
    (["--data", "new.csv", "--out", "p.parquet"], "--out"),
    (["--data", "wrongcol.csv"], "no column 'x'"),
])
def test_predict_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "new.csv").write_text("x\n1\n")
    (tmp_path / "wrongcol.csv").write_text("t\n1\n")
    optikit.run(SPECS / "line_bias.yaml", epochs=2).save(tmp_path / "p.json")
    assert main(["predict", str(SPECS / "line_bias.yaml"), "--parameters", "p.json", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_save_refuses_a_missing_folder_before_running(tmp_path, capsys):
    assert main(["run", str(SPECS / "seed_gd.yaml"), "--save", str(tmp_path / "no" / "p.json")]) == 2
    captured = capsys.readouterr()
    assert "--save" in captured.err and captured.out == ""


def test_html_and_text(decay):
    html = decay._repr_html_()
    assert html.count("<tr>") == 4 + 1 + 3  # four facts, the header, three parameters
    assert "<td>a</td>" in html and repr(decay.parameters["a"]) in html
    text = str(decay)
    assert "<" not in text and "stopped" in text and repr(decay.parameters["b"]) in text
    assert isinstance(decay, FitResult) and isinstance(decay, optikit.Result)


def test_a_diverged_runs_result_renders_too(write_spec):
    spec = write_spec("""
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0, 2.0], y: [2.0, 4.0]}
        optimizer: {name: gd, lr: 100.0, epochs: 2000}
    """)
    with pytest.raises(optikit.DivergenceError) as info:
        optikit.run(spec)
    partial = info.value.result
    assert not isinstance(partial, FitResult)  # the engine's own Result
    assert "diverged" in str(partial) and "<td>w</td>" in partial._repr_html_()


def test_html_escapes_names(write_spec):
    spec = write_spec("""
        name: "<b>x & y</b>"
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0], y: [2.0]}
        optimizer: {name: gd, epochs: 1}
    """)
    html = optikit.run(spec)._repr_html_()
    assert "<b>x" not in html and "&lt;b&gt;x &amp; y" in html


def test_record_folder(tmp_path, capsys):
    folder = tmp_path / "rec"
    assert main(["run", str(SPECS / "seed_sgd.yaml"), "--record", str(folder), "--epochs", "20"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["expressions.json", "fit.png", "history.csv", "loss.png", "residuals.png", "run.json",
                     "spec.as_written.yaml", "spec.yaml", "surface.png"]
    run = json.loads((folder / "run.json").read_text())
    assert run["seed"] == 0 and run["settings"]["epochs"] == 20 and run["versions"]["numpy"] == np.__version__
    assert run["final"]["parameters"]["w"] == optikit.run(SPECS / "seed_sgd.yaml", epochs=20).parameters["w"]
    assert (folder / "spec.as_written.yaml").read_text() == (SPECS / "seed_sgd.yaml").read_text()
    assert optikit.load_spec(folder / "spec.yaml").optimizer.epochs == 20  # the spec as run
    rows = list(csv.reader((folder / "history.csv").open()))
    assert rows[0] == ["epoch", "step", "loss", "w"] and len(rows) == 21
    import sympy

    expressions = json.loads((folder / "expressions.json").read_text())
    w, x, y = sympy.symbols("w x y")
    # srepr text parsed back with SymPy's own parser, in the test only: equal to the blog's gradient
    grad = sympy.parse_expr(expressions["gradient"]["w"], {"Symbol": sympy.Symbol, "Integer": sympy.Integer,
                                                            "Mul": sympy.Mul, "Add": sympy.Add, "Pow": sympy.Pow})
    assert sympy.simplify(grad.subs({s: sympy.Symbol(s.name) for s in grad.free_symbols}) - 2 * x * (w * x - y)) == 0
    assert not any(p.suffix in (".pkl", ".pickle", ".npy") for p in folder.iterdir())


def test_record_refuses_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["run", str(SPECS / "seed_gd.yaml"), "--record", str(tmp_path / "f")]) == 2
    assert "--record" in capsys.readouterr().err


def test_a_record_repeats_its_run(tmp_path, capsys):
    folder = tmp_path / "rec"
    assert main(["run", str(SPECS / "line_bias.yaml"), "--record", str(folder), "--quiet"]) == 0
    assert (folder / "line_bias.csv").read_bytes() == (SPECS / "line_bias.csv").read_bytes()
    run = json.loads((folder / "run.json").read_text())
    again = optikit.run(folder / "spec.yaml")
    assert again.parameters == run["final"]["parameters"]  # bit for bit
    assert optikit.load_data(folder / "spec.yaml").fingerprint() == run["data"]["fingerprint"]


def test_a_record_repeats_a_run_with_overrides_a_drawn_seed_and_a_validation_file(tmp_path, capsys):
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    (spec_dir / "line_bias.csv").write_bytes((SPECS / "line_bias.csv").read_bytes())
    (spec_dir / "va.csv").write_text("x,y\n0.1,2.3\n0.9,4.6\n")
    (spec_dir / "v.yaml").write_text((SPECS / "line_bias.yaml").read_text().replace(
        "csv: line_bias.csv", "{csv: line_bias.csv, validation: {csv: va.csv}}"))
    folder = tmp_path / "rec"
    assert main(["run", str(spec_dir / "v.yaml"), "--optimizer", "sgd", "--lr", "0.01", "--batch-size", "4",
                 "--epochs", "12", "--record", str(folder), "--quiet"]) == 0
    run = json.loads((folder / "run.json").read_text())
    again = optikit.run(folder / "spec.yaml")  # no options: the record holds them, and the seed drawn
    assert again.parameters == run["final"]["parameters"] and again.seed == run["seed"]
    rows = list(csv.reader((folder / "history.csv").open()))
    assert rows[0][:4] == ["epoch", "step", "loss", "validation_loss"] and len(rows) == 13
