"""The figures, read back through matplotlib's objects: labels, lines, data ranges, scales."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import optikit
from optikit.cli import main
from optikit.errors import SpecError

from .conftest import ROOT, SPECS


@pytest.fixture(scope="module")
def line():
    return optikit.run(SPECS / "line_bias.yaml")


def test_loss_plot_log_scale_when_it_spans_decades(line):
    fig = line.plot("loss")
    ax, = fig.axes
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "mse" and ax.get_yscale() == "log"
    (curve,) = ax.lines
    np.testing.assert_array_equal(curve.get_ydata(), line.history.loss)
    assert len(curve.get_xdata()) == line.epochs


def test_loss_plot_linear_when_it_does_not(write_spec):
    spec = write_spec("""
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0, 2.0], y: [2.0, 4.0]}
        optimizer: {name: gd, lr: 0.001, epochs: 5}
    """)
    assert optikit.run(spec).plot("loss").axes[0].get_yscale() == "linear"


def test_fit_plot_one_input_shows_data_and_model(line):
    ax, = line.plot("fit").axes
    data, model = ax.lines
    source = optikit.load_data(SPECS / "line_bias.yaml")
    np.testing.assert_array_equal(data.get_xdata(), source["x"])
    np.testing.assert_array_equal(data.get_ydata(), source["y"])
    xs, ys = model.get_xdata(), model.get_ydata()
    assert xs.min() == source["x"].min() and xs.max() == source["x"].max()
    a, b = line.parameters["a"], line.parameters["b"]
    np.testing.assert_allclose(ys, a * xs + b)  # the fitted line, computed independently
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "model: a*x + b", "95% confidence band"]


def test_fit_plot_two_inputs_is_predicted_against_observed(write_spec):
    rng = np.random.default_rng(0)
    u, v = rng.uniform(0, 1, 20), rng.uniform(0, 1, 20)
    spec = write_spec("""
        model: a*u + b*v
        parameters: {a: 0.0, b: 0.0}
        loss: mse
        optimizer: {name: gd, lr: 0.5, epochs: 300}
    """)
    result = optikit.run(spec, data={"u": u, "v": v, "y": 2 * u - v})
    ax, = result.plot("fit").axes
    points, diagonal = ax.lines
    np.testing.assert_array_equal(points.get_xdata(), 2 * u - v)
    np.testing.assert_allclose(points.get_ydata(), result.parameters["a"] * u + result.parameters["b"] * v)
    assert ax.get_xlabel() == "observed y" and ax.get_ylabel() == "predicted y"
    assert diagonal.get_xdata()[0] == diagonal.get_ydata()[0]


def test_residuals_plot(line):
    ax, = line.plot("residuals").axes
    zero, points = ax.lines
    source = optikit.load_data(SPECS / "line_bias.yaml")
    expected = source["y"] - (line.parameters["a"] * source["x"] + line.parameters["b"])
    np.testing.assert_allclose(points.get_ydata(), expected)
    assert list(zero.get_ydata()) == [0.0, 0.0]
    assert ax.get_ylabel() == "residual (y - model)"


def test_surface_two_parameters_has_contours_and_the_path(line):
    fig = line.plot("surface")
    ax = fig.axes[0]
    path, start, end = ax.lines
    assert (path.get_xdata()[0], path.get_ydata()[0]) == (0.0, 0.0)  # the initial parameters
    assert path.get_xdata()[-1] == line.parameters["a"] and path.get_ydata()[-1] == line.parameters["b"]
    assert ax.collections  # the contour set
    lo, hi = ax.get_xlim()
    assert lo < 0.0 and hi > line.parameters["a"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a", "b")


def test_surface_one_parameter_is_the_loss_curve():
    result = optikit.run(SPECS / "seed_gd.yaml")
    ax, = result.plot("surface").axes
    curve, path = ax.lines
    w = curve.get_xdata()
    # the loss of w*x against y = 2x over x = 1..4 is 7.5 (w - 2)^2: checked by hand, not through optikit
    np.testing.assert_allclose(curve.get_ydata(), 7.5 * (w - 2) ** 2, rtol=1e-12, atol=1e-12)
    assert path.get_xdata()[0] == 1.0 and ax.get_xlabel() == "w"


def test_surface_refused_for_three_parameters():
    result = optikit.run(SPECS / "exp_decay.yaml", epochs=2)
    with pytest.raises(SpecError, match="one or two parameters; this spec has 3"):
        result.plot("surface")


def test_fit_refused_for_an_objective():
    result = optikit.run(SPECS / "rosenbrock.yaml", steps=3)
    with pytest.raises(SpecError, match="no fit to plot"):
        result.plot("fit")
    with pytest.raises(SpecError, match="unknown plot 'fits'"):
        result.plot("fits")


def test_cli_plots_are_written(tmp_path, capsys):
    paths = {k: tmp_path / f"{k}.png" for k in ("loss", "surface", "fit", "residuals")}
    assert main(["run", str(SPECS / "line_bias.yaml"), "--epochs", "50", "--plot", str(paths["loss"]),
                 "--plot-surface", str(paths["surface"]), "--plot-fit", str(paths["fit"]),
                 "--plot-residuals", str(paths["residuals"])]) == 0
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fit plot saved to" in capsys.readouterr().err


def test_cli_refuses_a_plot_before_running(tmp_path, capsys):
    assert main(["run", str(SPECS / "exp_decay.yaml"), "--plot-surface", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr()
    assert "--plot-surface" in err.err and "this spec has 3" in err.err and "epoch" not in err.out
    assert main(["run", str(SPECS / "line_bias.yaml"), "--plot-fit", str(tmp_path / "no" / "f.png")]) == 2
    assert "--plot-fit" in capsys.readouterr().err


def test_compare_overlays_every_path(tmp_path):
    path = tmp_path / "s.png"
    assert main(["compare", str(SPECS / "rosenbrock.yaml"), "--optimizers", "gd,adam", "--steps", "20",
                 "--plot-surface", str(path)]) == 0
    assert path.stat().st_size > 0
    from optikit.compare import compare
    from optikit.output.fitplots import surface_figure

    entries = compare(SPECS / "rosenbrock.yaml", ["gd", "adam"], steps=20)
    ax = surface_figure([e.result for e in entries], entries[0].result.problem).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["gd", "adam"]


def test_matplotlib_not_imported_by_a_run():
    code = ("import sys, optikit; optikit.run('specs/seed_gd.yaml'); "
            "print('matplotlib' in sys.modules, 'tqdm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.split() == ["False", "False"]


def test_headless_without_display(tmp_path):
    code = ("import optikit; r = optikit.run('specs/line_bias.yaml', epochs=5); "
            f"r.plot('fit', {str(tmp_path / 'f.png')!r}); import matplotlib; print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "", "MPLBACKEND": ""})
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "f.png").stat().st_size > 0
