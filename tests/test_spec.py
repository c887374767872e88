"""Spec loading: the format's fields, and errors that name the file, line and field."""

from __future__ import annotations

import numpy as np
import pytest

import optikit
from optikit import SpecError, load_spec, loads_spec

GOOD = """\
name: t
model: w*x + b
parameters:
  w: 1.0
  b: 0.0
data:
  x: [1, 2, 3]
  y: [2, 4, 6]
optimizer:
  name: gd
  lr: 0.1
  epochs: 5
"""


def test_good_spec_fields():
    spec = loads_spec(GOOD, path="t.yaml")
    assert spec.name == "t"
    assert spec.parameter_names == ("w", "b")
    np.testing.assert_array_equal(spec.initial, [1.0, 0.0])
    assert spec.target == "y" and spec.loss == "mse"
    assert spec.optimizer.name == "gd" and dict(spec.optimizer.hyperparameters) == {"lr": 0.1}
    assert spec.optimizer.epochs == 5
    assert spec.data.kind == "inline" and spec.data.columns == ("x", "y") and spec.data.n_rows == 3
    data = optikit.load_data(spec)
    assert data["x"].dtype == float and data.n_rows == 3 and not data["x"].flags.writeable
    assert spec.where("optimizer", "lr").line == 11


def test_yaml_12_numbers_and_strings():
    spec = loads_spec(GOOD.replace("lr: 0.1", "lr: 1e-3\n  nesterov: no"))
    assert spec.optimizer.hyperparameters["lr"] == 0.001
    assert spec.optimizer.hyperparameters["nesterov"] == "no"  # YAML 1.2: not a boolean


def test_csv_data_relative_to_spec(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,2\n2,4.5\n")
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("  x: [1, 2, 3]\n  y: [2, 4, 6]", "  csv: d.csv"))
    spec = load_spec(path)
    assert spec.data.kind == "csv" and spec.data.path == tmp_path / "d.csv"
    np.testing.assert_array_equal(optikit.load_data(spec)["y"], [2.0, 4.5])


def test_objective_spec_and_bounds():
    spec = loads_spec("objective: (1 - a)**2 + 100*(b - a**2)**2\nparameters: {a: -1.5, b: {init: 2.0, min: 0}}\n"
                      "optimizer: {name: gd, lr: 0.001, steps: 10}\n")
    assert spec.objective and spec.data is None and optikit.load_data(spec) is None
    assert spec.parameters[1].min == 0.0
    assert spec.optimizer.steps == 10 and spec.optimizer.epochs is None


def test_overrides():
    spec = loads_spec(GOOD).with_overrides(optimizer="sgd", lr=0.5, epochs=3, seed=1, parameters={"w": 2.0})
    assert spec.optimizer.name == "sgd" and spec.optimizer.hyperparameters["lr"] == 0.5
    assert spec.optimizer.seed == 1 and spec.initial[0] == 2.0
    with pytest.raises(SpecError, match="unknown parameter 'ww'"):
        loads_spec(GOOD).with_overrides(parameters={"ww": 1})


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


BAD = [
    # (spec text, field named in the error, line, words in the message)
    (_edit("name: t", "name: t\nmodle: w*x"), "modle", 2, "unknown key 'modle'"),
    (_edit("  lr: 0.1", "  lr: 0.1\n  epoch: 3"), "optimizer.epoch", 12, "did you mean 'epochs'?"),
    (_edit("model: w*x + b", "model: w*z + b"), "model", 2, "unknown symbol 'z'"),
    (_edit("model: w*x + b", "model: w*x + b + __import__('os')"), "model", 2, None),
    (_edit("  y: [2, 4, 6]", "  y: [2, 4, 6]\n  w: [1, 1, 1]"), "data.w", 9, "both a parameter and a data column"),
    (_edit("  y: [2, 4, 6]", "  y: [2, 4]"), "data.y", 8, "2 values"),
    (_edit("  y: [2, 4, 6]", "  y: [2, four, 6]"), "data.y[1]", 8, "expected a number"),
    (_edit("  w: 1.0", "  w: abc"), "parameters.w", 4, "expected a number"),
    (_edit("  lr: 0.1", "  lr: 0.1\n  epochs: 0"), "optimizer.epochs", None, None),
    (_edit("  epochs: 5", "  epochs: -5"), "optimizer.epochs", 12, "at least 1"),
    (_edit("  epochs: 5", "  epochs: 2.5"), "optimizer.epochs", 12, "whole number"),
    (_edit("name: t", "name: t\ntarget: z"), "target", 2, "not in the data"),
    (_edit("  w: 1.0", "  w: {init: 1.0, min: 2.0}"), "parameters.w.init", 4, "outside"),
    (_edit("  b: 0.0", "  b: 0.0\n  c: 1.0"), "parameters.c", 6, "does not appear"),
    (_edit("  w: 1.0", "  lambda: 1.0"), "parameters.lambda", 4, None),
    (_edit("  x: [1, 2, 3]", "  x: 3"), "data.x", 7, "expected a list"),
    (_edit("  name: gd", "  lr2: 1"), "optimizer", 9, "missing 'name'"),
    (GOOD + "predict:\n  z: 4\n", "predict.z", 14, "not an input"),
    (GOOD + "loss: (model - y)**2 +\n", "loss", 13, None),
    (GOOD.replace("model: w*x + b\n", ""), None, None, "exactly one of 'model'"),
    (_edit("  w: 1.0", "  w: 1.0\n  w: 2.0"), "parameters.w", 5, "duplicate key 'w'"),
    ("- a\n- b\n", None, 1, "mapping"),
    ("name: [unclosed\n", None, 2, None),
    (_edit("  w: 1.0", "  w: .nan"), "parameters.w", 4, "finite"),
]


@pytest.mark.parametrize("text,field,line,words", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_spec_errors_name_field_and_line(text, field, line, words):
    with pytest.raises(SpecError) as info:
        optikit.prepare(loads_spec(text, path="bad.yaml"))
    err = info.value
    message = str(err)
    assert err.file == "bad.yaml" and message.startswith("bad.yaml:")
    if field is not None:
        assert err.field == field, message
    if line is not None:
        assert err.line == line, message
    if words is not None:
        assert words in message
    assert "Traceback" not in message


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(SpecError) as info:
        loads_spec(_edit("name: t", "name: t\nparamters: {}"))
    assert "did you mean 'parameters'?" in str(info.value)


def test_model_using_the_target_says_so_and_names_target():
    with pytest.raises(SpecError) as info:
        loads_spec(_edit("model: w*x + b", "model: w*y + b"), path="t.yaml")
    err = info.value
    assert (err.field, err.line, err.column) == ("model", 2, 10)
    assert "the model may not use the target column 'y'" in err.message and "unknown symbol" not in str(err)
    assert "target:" in err.hint
    # a column chosen as the target with target: is refused the same way
    with pytest.raises(SpecError, match="may not use the target column 'x'"):
        loads_spec(_edit("name: t", "name: t\ntarget: x"))


@pytest.mark.parametrize("field, old, new", [
    ("model", "model: w*x + b", "model: w*X + b"),
    ("loss", "name: t", "name: t\nloss: (model - Y)**2"),
    ("gradient.w", "name: t", "name: t\ngradient: {w: 2*X*(w*x + b - y), b: 2*(w*x + b - y)}"),
    ("objective", "model: w*x + b", "objective: (W - 1)**2 + b**2"),
])
def test_unknown_symbol_differing_only_in_case_gets_a_suggestion(field, old, new):
    text = _edit(old, new)
    if field == "objective":
        text = text[:text.index("data:")] + text[text.index("optimizer:"):]
    with pytest.raises(SpecError) as info:
        loads_spec(text)
    wrong = next(c for c in "XYW" if c in new)
    assert info.value.field == field and f"did you mean '{wrong.lower()}'?" in str(info.value)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")


def test_run_validates_hyperparameters_against_the_optimizer():
    spec = loads_spec(_edit("  lr: 0.1", "  lr: 0.1\n  momentun: 0.9"), path="h.yaml")
    with pytest.raises(SpecError) as info:
        optikit.run(spec)
    err = info.value
    assert err.field == "optimizer.momentun" and err.line == 12
    assert "did you mean 'momentum'?" in str(err) and "accepted:" in str(err)


def test_run_reports_an_unknown_optimizer_with_its_line():
    with pytest.raises(SpecError) as info:
        optikit.run(loads_spec(_edit("  name: gd", "  name: gdd"), path="o.yaml"))
    assert info.value.line == 10 and "unknown optimizer 'gdd'" in str(info.value)
    assert "did you mean 'gd'?" in str(info.value)


def test_invalid_hyperparameter_value_is_a_spec_error():
    with pytest.raises(SpecError, match="Invalid learning rate"):
        optikit.run(loads_spec(_edit("  lr: 0.1", "  lr: -0.1")))


@pytest.mark.parametrize("line,column", [("model: w*x + b + zz", 18), ('model: "w*x + b + zz"', 19)])
def test_expression_errors_point_at_the_offending_piece(line, column):
    with pytest.raises(SpecError) as info:
        loads_spec(GOOD.replace("model: w*x + b", line), path="p.yaml")
    assert (info.value.line, info.value.column) == (2, column) and "'zz'" in str(info.value)


@pytest.mark.parametrize("overrides, origin", [
    ({"momentun": 0.9}, "keyword momentun=: optimizer.momentun: "),
    ({"lr": "x"}, "keyword lr=: optimizer.lr: "),
    ({"epochs": 0}, "keyword epochs=: optimizer.epochs: "),
    ({"optimizer": "adma"}, "keyword optimizer=: optimizer.name: "),
    ({"parameters": {"q": 1.0}}, "keyword parameters=: parameters.q: "),
])
def test_override_errors_name_the_keyword(overrides, origin):
    from .conftest import SPECS

    with pytest.raises(SpecError) as info:
        optikit.run(SPECS / "seed_gd.yaml", **overrides)
    assert str(info.value).startswith(origin) and "seed_gd.yaml" not in str(info.value)
