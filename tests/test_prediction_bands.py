"""Uncertainty of predictions: the delta method with the model's exact gradient, from Python, the
command line and the fit plot, held to closed forms and finite differences."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import optikit
from optikit.cli import main

from .conftest import SPECS

X = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0])
Y = np.array([1.1, 1.8, 3.2, 3.9, 5.1, 7.2, 8.8, 11.3])
LINE = "model: a*x + b\nparameters: {a: 1.0, b: 0.0}\noptimizer: {name: levenberg-marquardt}\n"


def test_a_linear_fit_gives_the_closed_form_bands():
    result = optikit.run(optikit.loads_spec(LINE), data={"x": X, "y": Y})
    new = np.array([-1.0, 2.5, 7.0])
    got = result.predict({"x": new}, uncertainty=True, level=0.9)
    design = np.column_stack([X, np.ones_like(X)])
    coef, rss = np.linalg.lstsq(design, Y, rcond=None)[:2]
    s2 = float(rss[0]) / (len(X) - 2)
    rows = np.column_stack([new, np.ones_like(new)])
    se = np.sqrt(s2 * np.einsum("ij,jk,ik->i", rows, np.linalg.inv(design.T @ design), rows))
    scipy_stats = pytest.importorskip("scipy.stats")
    q = scipy_stats.t.ppf(0.95, len(X) - 2)
    np.testing.assert_allclose(got.value, rows @ coef, rtol=1e-9)
    np.testing.assert_allclose(got.stderr, se, rtol=1e-7)
    np.testing.assert_allclose(got.confidence[1] - got.value, q * se, rtol=1e-7)
    np.testing.assert_allclose(got.prediction[1] - got.value, q * np.sqrt(se**2 + s2), rtol=1e-7)


def test_a_nonlinear_fit_agrees_with_a_finite_difference_delta_method():
    result = optikit.run(SPECS / "exp_decay_lm.yaml")
    report = result.report()
    p = np.array(list(result.parameters.values()))
    new = {"x": np.array([0.3, 2.0, 6.0])}
    prepared = optikit.prepare(SPECS / "exp_decay_lm.yaml")

    def model(q):
        return prepared.problem.predict(q, new)

    jac = np.empty((len(p), 3))
    for i in range(len(p)):
        h = 1e-6 * max(1.0, abs(p[i]))
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        jac[i] = (model(up) - model(down)) / (2 * h)
    se = np.sqrt(np.einsum("ik,ij,jk->k", jac, report.covariance, jac))
    np.testing.assert_allclose(result.predict(new, uncertainty=True).stderr, se, rtol=1e-5)


def test_predict_on_the_command_line_writes_the_same_bands(tmp_path, capsys):
    spec = tmp_path / "line.yaml"
    spec.write_text(LINE + "data:\n  x: " + json.dumps(X.tolist()) + "\n  y: " + json.dumps(Y.tolist()) + "\n")
    (tmp_path / "new.csv").write_text("x\n-1\n2.5\n7\n")
    assert main(["run", str(spec), "--save", str(tmp_path / "p.json"), "--no-plot", "-q"]) == 0
    out = tmp_path / "out.csv"
    assert main(["predict", str(spec), "--parameters", str(tmp_path / "p.json"), "--data", str(tmp_path / "new.csv"),
                 "--uncertainty", "--level", "0.9", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["x", "prediction", "stderr", "ci90_low", "ci90_high", "pi90_low", "pi90_high"]
    want = optikit.run(spec).predict({"x": [-1.0, 2.5, 7.0]}, uncertainty=True, level=0.9)
    np.testing.assert_allclose([float(r["stderr"]) for r in rows], want.stderr, rtol=1e-12)
    np.testing.assert_allclose([float(r["pi90_high"]) for r in rows], want.prediction[1], rtol=1e-12)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({**json.loads((tmp_path / "p.json").read_text()), "uncertainty": None}))
    capsys.readouterr()
    assert main(["predict", str(spec), "--parameters", str(bare), "--data", str(tmp_path / "new.csv"),
                 "--uncertainty"]) == 2
    assert "holds no covariance" in capsys.readouterr().err


def test_the_fit_plot_shows_the_confidence_band():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    result = optikit.run(optikit.loads_spec(LINE), data={"x": X, "y": Y})
    fig = result.plot("fit")
    ax = fig.axes[0]
    bands = [c for c in ax.collections if c.get_label().startswith("95% confidence band")]
    assert len(bands) == 1
    ys = bands[0].get_paths()[0].vertices[:, 1]
    fitted = np.polyval(np.polyfit(X, Y, 1), X)
    assert ys.min() < fitted.min() and ys.max() > fitted.max()  # the band encloses the line


def test_predict_refuses_parameters_of_another_model_and_needs_no_sigma_column(tmp_path, capsys):
    spec = tmp_path / "w.yaml"
    dy = [0.1] * len(X)
    spec.write_text(LINE + "sigma: dy\ndata:\n  x: " + json.dumps(X.tolist()) + "\n  y: " + json.dumps(Y.tolist())
                    + "\n  dy: " + json.dumps(dy) + "\n")
    assert main(["run", str(spec), "--save", str(tmp_path / "p.json"), "--no-plot", "-q"]) == 0
    (tmp_path / "new.csv").write_text("x\n1\n2\n")
    capsys.readouterr()
    assert main(["predict", str(spec), "--parameters", str(tmp_path / "p.json"), "--data", str(tmp_path / "new.csv"),
                 "--uncertainty"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "x,prediction,stderr,ci95_low,ci95_high"  # no new sigma: no prediction band
    (tmp_path / "new_dy.csv").write_text("x,dy\n1,0.1\n2,0.1\n")
    assert main(["predict", str(spec), "--parameters", str(tmp_path / "p.json"), "--data",
                 str(tmp_path / "new_dy.csv"), "--uncertainty"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("pi95_low,pi95_high")
    other = tmp_path / "other.yaml"
    other.write_text(spec.read_text().replace("a*x + b", "a*x - b"))
    assert main(["predict", str(other), "--parameters", str(tmp_path / "p.json"), "--data",
                 str(tmp_path / "new.csv")]) == 2
    assert "were fitted to the model 'a*x + b'" in capsys.readouterr().err
