"""The fit report against scipy's curve_fit, closed forms and finite differences."""

from __future__ import annotations

import json

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.cli import main
from optikit.engine import Settings, run_problem
from optikit.fit.stats import t_quantile
from optikit.optimizers.levenberg import LevenbergMarquardt
from optikit.spec import loads_spec

scipy_optimize = pytest.importorskip("scipy.optimize")
scipy_stats = pytest.importorskip("scipy.stats")

# a*exp(-b*x) + c with noise, and per-row standard deviations that differ by a factor of 8
X = np.linspace(0.0, 4.0, 17)
NOISE = 0.03 * np.sin(11.0 * X) + 0.02 * np.cos(5.0 * X)
Y = 2.5 * np.exp(-1.3 * X) + 0.5 + NOISE
DY = 0.01 + 0.07 * (X / 4.0)


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def spec_text(sigma: str = "", optimizer: str = "levenberg-marquardt", extra: str = "") -> str:
    return (f"name: decay\nmodel: a*exp(-b*x) + c\nparameters: {{a: 1.0, b: 1.0, c: 0.0}}\n"
            f"data:\n  x: {json.dumps(X.tolist())}\n  y: {json.dumps(Y.tolist())}\n  dy: {json.dumps(DY.tolist())}\n"
            f"{sigma}loss: mse\n{extra}optimizer: {{name: {optimizer}}}\n")


def fit(text: str, **overrides) -> optikit.Result:
    return optikit.run(loads_spec(text), **overrides)


@pytest.mark.parametrize("sigma, absolute", [("", False), ("sigma: dy\n", False),
                                             ("sigma: {column: dy, absolute: true}\n", True)])
def test_stderr_and_correlation_equal_curve_fit(sigma, absolute):
    kwargs = {"sigma": DY, "absolute_sigma": absolute} if sigma else {}
    popt, pcov = scipy_optimize.curve_fit(decay, X, Y, p0=[1.0, 1.0, 0.0], xtol=1e-15, ftol=1e-15, gtol=1e-15,
                                          **kwargs)
    result = fit(spec_text(sigma))
    report = result.report()
    assert result.stop_reason == "converged"
    np.testing.assert_allclose(result.x, popt, rtol=1e-7)
    ref_err = np.sqrt(np.diag(pcov))
    np.testing.assert_allclose([report.stderr[k] for k in "abc"], ref_err, rtol=1e-6)
    np.testing.assert_allclose(report.correlation, pcov / np.outer(ref_err, ref_err), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(report.covariance, pcov, rtol=1e-6)
    assert isinstance(report.stderr, dict) and set(report.stderr) == {"a", "b", "c"}
    assert report.n == 17 and report.dof == 14
    model = decay(X, *result.x)
    w = 1.0 / DY**2 if sigma else np.ones_like(X)
    assert report.chisqr == pytest.approx(float(np.sum(w * (model - Y) ** 2)), rel=1e-12)
    assert report.redchi == pytest.approx(report.chisqr / 14, rel=1e-12)
    assert report.rss == pytest.approx(float(np.sum((model - Y) ** 2)), rel=1e-12)
    # lmfit's definitions
    assert report.aic == pytest.approx(17 * np.log(report.chisqr / 17) + 6, rel=1e-12)
    assert report.bic == pytest.approx(17 * np.log(report.chisqr / 17) + 3 * np.log(17), rel=1e-12)


def test_confidence_interval_uses_student_t_with_dof():
    report = fit(spec_text()).report()
    q = scipy_stats.t.ppf(0.975, 14)
    for name, (lo, hi) in report.ci(0.95).items():
        assert lo == pytest.approx(report.values[name] - q * report.stderr[name], rel=1e-12)
        assert hi == pytest.approx(report.values[name] + q * report.stderr[name], rel=1e-12)
    assert report.relerr["a"] == pytest.approx(report.stderr["a"] / abs(report.values["a"]))
    with pytest.raises(ValueError, match="level"):
        report.ci(1.5)


@pytest.mark.parametrize("dof", [1, 2, 3, 7, 30, 400])
@pytest.mark.parametrize("p", [0.55, 0.9, 0.975, 0.9995])
def test_t_quantile_matches_scipy(p, dof):
    assert t_quantile(p, dof) == pytest.approx(scipy_stats.t.ppf(p, dof), rel=1e-10)
    assert t_quantile(1 - p, dof) == pytest.approx(scipy_stats.t.ppf(1 - p, dof), rel=1e-10)


def test_r2_equals_the_squared_correlation_of_a_straight_line_fit():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([0.9, 3.2, 4.8, 7.1, 9.2, 10.7, 13.4])
    text = (f"model: a + b*x\nparameters: {{a: 0.0, b: 0.0}}\ndata:\n  x: {x.tolist()}\n  y: {y.tolist()}\n"
            "optimizer: newton\n")
    report = fit(text).report()
    assert report.r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-12)
    # and the slope's standard error is the textbook one
    b, a = np.polyfit(x, y, 1)
    s2 = np.sum((a + b * x - y) ** 2) / (len(x) - 2)
    assert report.stderr["b"] == pytest.approx(np.sqrt(s2 / np.sum((x - x.mean()) ** 2)), rel=1e-9)


def test_likelihood_loss_uses_the_inverse_hessian_of_the_summed_loss():
    x = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    y = np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 1], dtype=float)
    text = (f"model: sigmoid(w*x + b)\nparameters: {{w: 0.0, b: 0.0}}\ndata:\n  x: {x.tolist()}\n  y: {y.tolist()}\n"
            "loss: logloss\noptimizer: newton\n")
    result = fit(text)
    report = result.report()
    assert "likelihood" in report.method and report.rss is not None and report.chisqr is None

    def nll(p):
        z = p[0] * x + p[1]
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    h = 1e-4
    e = np.eye(2) * h
    hess = np.array([[(nll(result.x + e[i] + e[j]) - nll(result.x + e[i] - e[j]) - nll(result.x - e[i] + e[j])
                       + nll(result.x - e[i] - e[j])) / (4 * h * h) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose([report.stderr["w"], report.stderr["b"]], np.sqrt(np.diag(np.linalg.inv(hess))),
                               rtol=1e-6)
    assert report.aic == pytest.approx(2 * nll(result.x) + 4, rel=1e-10)


def test_product_of_parameters_is_named_as_the_reason_for_a_singular_matrix():
    text = (f"model: a*b*exp(-c*x)\nparameters: {{a: 1.0, b: 2.0, c: 1.0}}\n"
            f"data:\n  x: {X.tolist()}\n  y: {Y.tolist()}\noptimizer: {{name: levenberg-marquardt}}\n")
    report = fit(text).report()
    assert np.isnan(report.stderr["a"]) and np.isnan(report.stderr["b"])
    assert np.isfinite(report.stderr["c"]) and report.stderr["c"] > 0
    note = " ".join(report.notes)
    assert "singular" in note and "a*b" in note
    assert "a*b" in str(report)


def test_sum_and_a_parameter_the_loss_ignores_are_named():
    text = (f"model: (a + b)*x + sin(c)**2 + cos(c)**2\nparameters: {{a: 1.0, b: 2.0, c: 1.0}}\n"
            f"data:\n  x: {X.tolist()}\n  y: {Y.tolist()}\noptimizer: {{name: levenberg-marquardt}}\n")
    note = " ".join(fit(text).report().notes)
    assert "a + b" in note and "does not depend on 'c'" in note


def test_a_parameter_with_no_effect_on_these_data_is_named():
    z = np.zeros_like(X)
    text = (f"model: a*exp(-x) + b*z\nparameters: {{a: 1.0, b: 2.0}}\n"
            f"data:\n  x: {X.tolist()}\n  z: {z.tolist()}\n  y: {Y.tolist()}\noptimizer: {{name: newton}}\n")
    report = fit(text).report()
    assert "at these data" in " ".join(report.notes) and "'b'" in " ".join(report.notes)
    assert np.isnan(report.stderr["b"]) and np.isfinite(report.stderr["a"])


def test_parameter_at_a_bound_is_reported_and_held():
    text = spec_text().replace("b: 1.0", "b: {init: 0.5, max: 1.0}")
    result = fit(text)
    report = result.report()
    assert report.at_bound == {"b": "upper"}
    assert np.isnan(report.stderr["b"]) and "'b' is at its upper bound" in " ".join(report.notes)
    # the others are computed with b fixed: curve_fit of a and c alone
    popt, pcov = scipy_optimize.curve_fit(lambda x, a, c: decay(x, a, 1.0, c), X, Y, p0=[1.0, 0.0])
    np.testing.assert_allclose([report.stderr["a"], report.stderr["c"]], np.sqrt(np.diag(pcov)), rtol=1e-5)
    assert "at upper bound" in str(report)


def test_objective_report_says_there_is_no_data():
    result = optikit.run(loads_spec("objective: (a - 1)**2 + (b + 2)**2\nparameters: {a: 0.0, b: 0.0}\n"
                                    "optimizer: newton\n"))
    report = result.report()
    assert report.values == pytest.approx({"a": 1.0, "b": -2.0}) and "no data" in report.notes[0]
    assert report.to_dict()["parameters"]["a"]["stderr"] is None


def test_a_result_made_by_the_engine_alone_says_it_cannot_report():
    problem = compile_spec(loads_spec(spec_text()))
    result = run_problem(problem, LevenbergMarquardt(), Settings(epochs=3))
    with pytest.raises(optikit.RunError, match="no compiled problem"):
        result.report()


def test_cli_report_table_and_json(write_spec, capsys):
    path = write_spec(spec_text("sigma: dy\n"))
    assert main(["run", str(path), "--no-plot"]) == 0
    assert "fit report" not in capsys.readouterr().out
    assert main(["run", str(path), "--no-plot", "--report"]) == 0
    out = capsys.readouterr().out
    assert "fit report: decay" in out and "stderr" in out and "reduced chi-square" in out and "R^2" in out
    assert main(["run", str(path), "--no-plot", "--report", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = fit(spec_text("sigma: dy\n")).report()
    assert data["report"]["parameters"]["b"]["stderr"] == pytest.approx(report.stderr["b"], rel=1e-9)
    assert data["report"]["dof"] == 14 and data["report"]["stop_reason"] == "converged"
    assert len(data["report"]["correlation"]) == 3


@pytest.mark.parametrize("sigma, message, field", [
    ("sigma: dz\n", "sigma column 'dz' is not in the data", "sigma"),
    ("sigma: y\n", "is the target or a model input", "sigma"),
    ("sigma: {column: dy, absolute: 1}\n", "expected true or false", "sigma.absolute"),
    ("sigma: {absolute: true}\n", "missing 'column'", "sigma"),
])
def test_bad_sigma_is_a_located_spec_error(sigma, message, field):
    with pytest.raises(optikit.SpecError, match=message) as info:
        loads_spec(spec_text(sigma))
    assert info.value.field == field


def test_sigma_needs_a_least_squares_loss():
    with pytest.raises(optikit.SpecError, match="'sigma' weights a least-squares loss") as info:
        optikit.run(loads_spec(spec_text("sigma: dy\n").replace("loss: mse", "loss: mae")), optimizer="adam")
    assert info.value.field == "sigma"


# ---- uncertainty of predictions ---------------------------------------------------------------
X_NEW = np.array([-0.5, 0.0, 1.3, 2.7, 5.0])


@pytest.mark.parametrize("sigma", ["", "sigma: dy\n"])
def test_prediction_stderr_equals_a_finite_difference_delta_method(sigma):
    report = fit(spec_text(sigma)).report()
    p = np.array(list(report.values.values()))
    h = 1e-6 * np.maximum(1.0, np.abs(p))
    jac = np.array([(decay(X_NEW, *(p + h[i] * np.eye(3)[i])) - decay(X_NEW, *(p - h[i] * np.eye(3)[i]))) / (2 * h[i])
                    for i in range(3)])
    expected = np.sqrt(np.einsum("im,ij,jm->m", jac, report.covariance, jac))
    out = report.predict_uncertainty({"x": X_NEW}, sigma=np.full(5, 0.05) if sigma else None)
    np.testing.assert_allclose(out.value, decay(X_NEW, *p), rtol=1e-13)
    np.testing.assert_allclose(out.stderr, expected, rtol=1e-6)
    q = scipy_stats.t.ppf(0.975, 14)
    np.testing.assert_allclose(out.confidence[1] - out.value, q * expected, rtol=1e-6)
    noise = report.redchi * (0.05**2 if sigma else 1.0)
    np.testing.assert_allclose(out.prediction[1] - out.value, q * np.sqrt(expected**2 + noise), rtol=1e-6)


def test_prediction_stderr_of_a_linear_model_is_the_closed_form():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([0.9, 3.2, 4.8, 7.1, 9.2, 10.7, 13.4])
    text = (f"model: a + b*x\nparameters: {{a: 0.0, b: 0.0}}\ndata:\n  x: {x.tolist()}\n  y: {y.tolist()}\n"
            "optimizer: newton\n")
    report = fit(text).report()
    out = report.predict_uncertainty({"x": X_NEW}, level=0.9)
    b, a = np.polyfit(x, y, 1)
    s2 = np.sum((a + b * x - y) ** 2) / (len(x) - 2)
    sxx = np.sum((x - x.mean()) ** 2)
    se = np.sqrt(s2 * (1 / len(x) + (X_NEW - x.mean()) ** 2 / sxx))  # the textbook mean-response error
    np.testing.assert_allclose(out.stderr, se, rtol=1e-9)
    q = scipy_stats.t.ppf(0.95, len(x) - 2)
    np.testing.assert_allclose(out.prediction[0], a + b * X_NEW - q * np.sqrt(se**2 + s2), rtol=1e-9)


def test_prediction_uncertainty_refuses_what_it_cannot_know():
    report = fit(spec_text()).report()
    with pytest.raises(ValueError, match="missing input x"):
        report.predict_uncertainty({"z": X_NEW})
    with pytest.raises(ValueError, match="sigma= is for a fit weighted"):
        report.predict_uncertainty({"x": X_NEW}, sigma=0.1)
    weighted = fit(spec_text("sigma: dy\n")).report().predict_uncertainty({"x": X_NEW})
    assert weighted.prediction is None and np.all(np.isfinite(weighted.stderr))


def test_non_positive_sigma_is_a_spec_error():
    text = spec_text("sigma: dy\n").replace(f"dy: {json.dumps(DY.tolist())}", f"dy: {json.dumps([0.0, *DY[1:].tolist()])}")
    with pytest.raises(optikit.SpecError, match="must be positive and finite; row 1 is 0.0") as info:
        fit(text)
    assert info.value.field == "sigma"
