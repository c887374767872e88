"""``optikit schema`` in step with the loader: every bundled spec valid, every accepted key known,
misspellings invalid in both."""

from __future__ import annotations

import json

import pytest
import yaml

import optikit
from optikit.cli import main
from optikit.data.ref import KINDS
from optikit.errors import SpecError
from optikit.settings import run_settings
from optikit.spec.model import TOP_KEYS
from optikit.spec.schema import FILE_OPTIONS, spec_schema

from .conftest import ROOT, SPECS

jsonschema = pytest.importorskip("jsonschema")

SPEC_FILES = sorted(SPECS.glob("*.yaml")) + sorted((ROOT / "plugins").rglob("*.yaml"))


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    loaded = json.loads(out.getvalue())
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def _valid(schema, document) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(document)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_every_bundled_spec_is_valid(schema, path):
    optikit.load_spec(path)  # the loader accepts it...
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []  # ...and so does the schema


def test_the_schema_knows_the_loaders_keys(schema):
    assert set(schema["properties"]) == set(TOP_KEYS)
    branches = [b for b in schema["properties"]["optimizer"]["oneOf"] if b.get("type") == "object"]
    assert {b["properties"]["name"]["const"] for b in branches} >= {"gd", "sgd", "adam", "newton", "lbfgs"}
    for branch in branches:
        assert {s.name for s in run_settings()} <= set(branch["properties"])
    data_branches = schema["properties"]["data"]["oneOf"]
    for kind in KINDS:
        if kind != "inline":
            assert any(kind in b.get("required", []) for b in data_branches)


BASE = {"model": "a*x", "parameters": {"a": 1.0}, "data": {"x": [1.0, 2.0], "y": [2.0, 4.0]},
        "optimizer": {"name": "gd", "epochs": 2}}


def _spec(**changes):
    doc = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        section, _, sub = key.partition("__")
        if sub:
            doc[section][sub] = value
        elif value is None:
            doc.pop(section)
        else:
            doc[section] = value
    return doc


SETTING_VALUES = {"count": 3, "seed": 0, "flag": False, "positive": 0.5, "schedule": "cosine"}


@pytest.mark.parametrize("setting", run_settings(), ids=lambda s: s.name)
def test_every_run_setting_accepted_by_both(schema, setting):
    doc = _spec(optimizer__batch_size=1) if setting.name == "shuffle" else _spec()
    doc["optimizer"][setting.name] = SETTING_VALUES[setting.kind]
    optikit.loads_spec(yaml.safe_dump(doc))
    assert _valid(schema, doc)


@pytest.mark.parametrize("doc", [
    _spec(paramters={"a": 1.0}),                          # a misspelled top-level key
    _spec(optimizer__epoch=3),                            # a misspelled run setting
    _spec(optimizer__momentun=0.9),                       # a misspelled hyperparameter
    _spec(parameters={"a": {"init": 1.0, "mx": 2.0}}),    # a misspelled bound
    _spec(data={"csv": "line_bias.csv", "colums": ["x", "y"]}),
], ids=["top", "setting", "hyperparameter", "bound", "csv-option"])
def test_misspelled_keys_are_invalid_in_both(schema, doc, tmp_path):
    assert not _valid(schema, doc)
    (tmp_path / "line_bias.csv").write_text((SPECS / "line_bias.csv").read_text())
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpecError):
        optikit.run(path, epochs=1)


SAMPLE = {"delimiter": ",", "missing": "drop", "stream": False, "chunk_rows": 10, "shuffle_buffer": 10,
          "memory_budget_mb": 5}


def test_file_options_accepted_by_the_loader(schema, tmp_path):
    from optikit.data.kinds import FILE_KINDS

    (tmp_path / "d.csv").write_text("x,y,z\n1,2,3\n2,4,5\n3,6,7\n4,8,9\n")
    assert set(FILE_OPTIONS) == {o for options in FILE_KINDS.values() for o in options}
    for option in FILE_KINDS["csv"]:
        doc = _spec(data={"csv": "d.csv", "columns": ["x", "y"], option: SAMPLE[option]})
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(doc))
        assert optikit.load_spec(path).data.columns == ("x", "y"), option
        assert _valid(schema, doc), option
    for data in ({"csv": "d.csv", "split": {"validation": 0.25, "seed": 1}},
                 {"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0], "split": {"validation": 0.5}},
                 {"generate": {"rows": 20, "seed": 0, "columns": {"x": "uniform(0, 1)", "y": "2*x"}}},
                 {"csv": "d.csv", "validation": {"csv": "d.csv", "columns": ["x", "y"]}}):
        doc = _spec(data=data)
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(doc))
        optikit.load_spec(path)
        assert _valid(schema, doc), data
    assert not _valid(schema, _spec(data={"csv": "d.csv", "delimitter": ";"}))
    assert not _valid(schema, _spec(data={"csv": "d.csv", "split": {"validation": 1.5}}))
    assert not _valid(schema, _spec(data={"csv": "d.csv", "validation": {"x": [5.0], "y": [10.0]}}))


def test_objective_and_model_are_exclusive(schema):
    assert not _valid(schema, _spec(objective="a**2"))
    assert not _valid(schema, _spec(model=None))
    assert _valid(schema, {"objective": "(a - 1)**2", "parameters": {"a": 0}, "optimizer": "gd"})


def test_any_optimizer_schema_accepts_a_plugins_optimizer():
    loose = spec_schema(None)
    doc = _spec(optimizer={"name": "signgd", "lr": 0.1})
    assert _valid(loose, doc)
    assert not _valid(loose, _spec(optimizer__epochs=0))
