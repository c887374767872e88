"""Every bundled spec runs and reaches an answer known independently of optikit."""

from __future__ import annotations

import numpy as np
import pytest

import optikit

from .conftest import ROOT, SPECS


def _lstsq_line(spec):
    data = optikit.load_data(spec)
    x, y = data["x"], data["y"]
    slope, intercept = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)[0]
    return {"a": slope, "b": intercept}


def _logistic_mle(spec):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    data = optikit.load_data(spec)
    x, y = data["x"], data["y"]

    def nll(p):
        z = p[0] * x + p[1]
        return np.mean(np.logaddexp(0, z) - y * z)

    w, b = scipy_optimize.minimize(nll, [0.0, 0.0], method="BFGS", options={"gtol": 1e-12}).x
    return {"w": w, "b": b}


def _lstsq_training_rows(spec):
    data = optikit.load_data(spec)  # every generated row; the spec's split holds some out
    fraction, seed = spec.data.options["split"]
    train = ~(np.random.default_rng(seed).random(data.n_rows) < fraction)
    x, y = data["x"][train], data["y"][train]
    slope, intercept = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)[0]
    return {"a": slope, "b": intercept}


# spec file -> (expected parameters: dict or function of the spec, relative tolerance)
EXPECTED = {
    "seed_gd.yaml": ({"w": 2.0}, 1e-7),               # y = 2x exactly; 100 epochs of lr 0.01
    "seed_sgd.yaml": ({"w": 2.0}, 1e-12),             # noise-free data; single-sample steps
    "line_bias.yaml": (_lstsq_line, 1e-9),            # least-squares line of the CSV data
    "exp_decay.yaml": ({"a": 2.5, "b": 1.3, "c": 0.5}, 1e-9),  # the generating parameters
    "logistic.yaml": (_logistic_mle, 1e-6),           # maximum likelihood by scipy's BFGS
    "line_bias_parquet.yaml": (_lstsq_line, 1e-9),    # the CSV's numbers, stored as parquet
    "generated_line.yaml": (_lstsq_training_rows, 1e-9),  # least squares on the rows not held out
}
NEEDS = {"line_bias_parquet.yaml": "pyarrow"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_reaches_known_answer(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    spec = optikit.load_spec(SPECS / name)
    expected, rtol = EXPECTED[name]
    if callable(expected):
        expected = expected(spec)
    result = optikit.run(spec)
    for key, value in expected.items():
        assert result.parameters[key] == pytest.approx(value, rel=rtol, abs=rtol), key
    assert result.loss <= result.initial_loss


def test_every_bundled_spec_is_checked_by_some_test():
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    unchecked = [p.name for p in SPECS.glob("*.yaml") if p.name not in tests]
    assert not unchecked, f"specs without a test of their answer: {unchecked}"


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_spec_validates(path):
    from optikit.cli import main

    if path.name in NEEDS:
        pytest.importorskip(NEEDS[path.name])
    assert main(["validate", str(path)]) == 0


def test_the_parquet_spec_runs_bit_for_bit_as_the_csv_one():
    pytest.importorskip("pyarrow")
    parquet, csv = optikit.run(SPECS / "line_bias_parquet.yaml"), optikit.run(SPECS / "line_bias.yaml")
    assert parquet.history.to_list() == csv.history.to_list() and parquet.parameters == csv.parameters


def test_the_generated_spec_records_a_validation_loss_each_epoch():
    result = optikit.run(SPECS / "generated_line.yaml")
    assert len(result.history.validation_loss) == result.epochs
    assert result.history.validation_loss[-1] < 0.2 * result.history.validation_loss[0]
