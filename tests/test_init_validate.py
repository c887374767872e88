"""Getting started: ``optikit init`` writes a spec that runs as written; ``validate`` warns about
likely domain problems at the line of the field."""

from __future__ import annotations

import shutil

import pytest

import optikit
from optikit.cli import main
from optikit.symbolic.domain import domain_warnings

from .conftest import SPECS


@pytest.mark.parametrize("model, truth", [(None, {"a": 1.5, "b": 1.5}), ("w*x", {"w": 1.5}),
                                          ("a*exp(-b*x) + c", None), ("k*sqrt(t)", {"k": 1.5})])
def test_init_writes_a_spec_that_runs(tmp_path, monkeypatch, capsys, model, truth):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "first", *(["--model", model] if model else [])]) == 0
    text = (tmp_path / "first.yaml").read_text()
    assert text.startswith("# first: fit") and "optimizer:" in text
    result = optikit.run(tmp_path / "first.yaml")
    assert result.loss < 1e-2 * result.initial_loss
    if truth:  # the example rows are the model at 1.5: the fit finds it
        for name, value in truth.items():
            assert result.parameters[name] == pytest.approx(value, abs=1e-3)


def test_init_on_a_csv_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(SPECS / "line_bias.csv", tmp_path / "points.csv")
    assert main(["init", "line", "--data", "points.csv"]) == 0
    spec = optikit.load_spec(tmp_path / "line.yaml")
    assert spec.data.kind == "csv" and spec.target == "y" and spec.parameter_names == ("a", "b")
    result = optikit.run(spec, epochs=2000)
    assert result.parameters["a"] == pytest.approx(2.9647, abs=2e-3)  # the least-squares line (gd run in the README)


def test_init_picks_a_target_that_is_not_y(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text("t,v\n0,1\n1,3\n2,5\n")
    assert main(["init", "speed", "--model", "a*t + b", "--data", "d.csv"]) == 0
    assert optikit.load_spec(tmp_path / "speed.yaml").target == "v"


@pytest.mark.parametrize("args, message", [
    (["--model", "a*x +"], "--model: syntax error"),
    (["--model", "log(a - x)"], "not finite on the example rows"),
    (["--model", "x"], "no parameter to fit"),
    (["--data", "../outside.csv"], "in the spec's folder or below"),
])
def test_init_errors(tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "outside.csv").write_text("x,y\n1,2\n")
    (tmp_path / "inner").mkdir()
    monkeypatch.chdir(tmp_path / "inner")
    assert main(["init", "s", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "inner" / "s.yaml").exists()


def test_init_refuses_to_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("keep me")
    assert main(["init", "s"]) == 2
    assert (tmp_path / "s.yaml").read_text() == "keep me"
    assert main(["init", "s", "--force"]) == 0


def test_validate_warns_at_the_line_of_the_field(write_spec, capsys):
    path = write_spec("""
        name: domains
        model: a*log(x) + sqrt(b*x) + 1/(x - c)
        parameters:
          a: 1.0
          b: {init: 1.0, min: 0}
          c: 5.0
        data:
          x: [1.0, 2.0, 3.0]
          y: [1.0, 2.0, 3.0]
        loss: (model - y)**2 + log(c)
        optimizer: {name: gd, epochs: 3}
    """)
    assert main(["validate", str(path)]) == 0  # warnings, not errors
    err = capsys.readouterr().err.splitlines()
    assert err == [f"optikit: {path}:2:8: model: warning: division by -c + x, which can be zero",
                   f"optikit: {path}:10:7: loss: warning: log(c): its argument can be zero or negative"]


def test_what_is_known_silences_the_warning(write_spec):
    bounded = optikit.load_spec(write_spec("""
        model: log(a*x)
        parameters: {a: {init: 1.0, min: 0.1}}
        data: {x: [1.0, 2.0], y: [0.0, 0.7]}
        optimizer: {name: gd, epochs: 1}
    """))
    assert [w.message for w in domain_warnings(bounded)] == ["log(a*x): its argument can be zero or negative"]
    assert domain_warnings(bounded, {"x": 1.0, "y": 0.0}) == []  # x >= 1 in the data, a >= 0.1 by its bound
    assert [w.field for w in domain_warnings(bounded, {"x": -1.0})] == ["model"]


def test_bundled_specs_have_no_warnings(capsys):
    assert main(["validate", *map(str, sorted(SPECS.glob("*.yaml")))]) == 0
    assert "warning" not in capsys.readouterr().err  # logistic's log(sigmoid) is computed without a log


def test_objective_warnings(write_spec):
    spec = optikit.load_spec(write_spec("""
        objective: 1/x + sqrt(y)
        parameters: {x: 1.0, y: {init: 1.0, min: 0}}
        optimizer: {name: gd, epochs: 1}
    """))
    assert [(w.field, w.message) for w in domain_warnings(spec)] == [("objective", "division by x, which can be zero")]


def test_init_warns_when_a_model_name_looks_like_a_column_and_quotes_odd_file_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my data: #1.csv").write_text("x,y\n1,2\n2,4\n3,6\n")
    assert main(["init", "fit", "--model", "a*X + b", "--data", "my data: #1.csv"]) == 0
    err = capsys.readouterr().err
    assert "parameters a, X, b; data columns x, y" in err
    assert "'X' is not a column of my data: #1.csv, so it is fitted as a parameter; did you mean 'x'?" in err
    assert optikit.load_spec(tmp_path / "fit.yaml").data.path == tmp_path / "my data: #1.csv"
