"""Vector parameters and vector inputs: sums over elements, kept compact, checked against
independent results (scipy's minimize, least squares in closed form, the same model written out
scalar by scalar, finite differences)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import sympy

import optikit
from optikit.api import compile_spec, prepare
from optikit.cli import main

from .conftest import SPECS

LOGISTIC = """
model: sigmoid(dot(w, x) + b)
loss: -(y*log(model) + (1 - y)*log(1 - model)) + {penalty}*sum(w**2)
parameters:
  w: {{shape: {n}, init: 0.0}}
  b: 0.0
optimizer: {{name: {opt}, epochs: {epochs}}}
"""


def _classes(n_rows: int, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, n))
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-(x @ rng.normal(size=n) + 0.3)))).astype(float)
    return {"x": x, "y": y}


def _penalized_logloss(theta: np.ndarray, x: np.ndarray, y: np.ndarray, penalty: float) -> float:
    z = x @ theta[:-1] + theta[-1]
    return float(np.mean(np.logaddexp(0, z) - y * z) + penalty * np.sum(theta[:-1] ** 2))


def test_breast_cancer_spec_reaches_scipy_minimize_optimum():
    from scipy.optimize import minimize

    prepared = prepare(SPECS / "breast_cancer.yaml", tolerance_grad=1e-10, tolerance_change=1e-15, epochs=2000)
    rows = prepared.problem.source.take(None)  # the training rows, the validation split held out
    x, y = np.asarray(rows["x"]), np.asarray(rows["malignant"])
    assert x.shape == (458, 30)  # 569 rows, 111 held out
    result = prepared.run()
    ours = np.array(list(result.parameters.values()))
    ref = minimize(_penalized_logloss, np.zeros(31), args=(x, y, 0.005), method="BFGS",
                   jac=_penalized_grad, options={"gtol": 1e-12, "maxiter": 10_000})
    assert abs(result.loss - ref.fun) <= 1e-6 * abs(ref.fun)
    np.testing.assert_allclose(ours, ref.x, rtol=1e-6, atol=1e-6 * np.abs(ref.x).max())
    assert list(result.parameters)[:2] == ["w[0]", "w[1]"] and list(result.parameters)[-1] == "b"
    assert result.history.records[-1].validation_loss is not None


def _penalized_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    z = x @ theta[:-1] + theta[-1]
    r = 1 / (1 + np.exp(-z)) - y
    return np.concatenate([x.T @ r / len(y) + 2 * penalty * theta[:-1], [r.mean()]])


def test_dot_model_equals_the_same_model_written_scalar_by_scalar():
    data = _classes(60, 3, seed=1)
    vec = optikit.loads_spec(LOGISTIC.format(n=3, penalty=0.01, opt="gd", epochs=30))
    scalar = optikit.loads_spec(
        "model: sigmoid(w0*x0 + w1*x1 + w2*x2 + b)\n"
        "loss: -(y*log(model) + (1 - y)*log(1 - model)) + 0.01*(w0**2 + w1**2 + w2**2)\n"
        "parameters: {w0: 0.0, w1: 0.0, w2: 0.0, b: 0.0}\noptimizer: {name: gd, epochs: 30}\n")
    a = optikit.run(vec, data=data)
    b = optikit.run(scalar, data={"x0": data["x"][:, 0], "x1": data["x"][:, 1], "x2": data["x"][:, 2],
                                  "y": data["y"]})
    np.testing.assert_allclose(a.history.parameters, b.history.parameters, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.history.loss, b.history.loss, rtol=1e-12)


NONLINEAR = """
model: a*exp(-sum(w*x**2)) + sum(sin(w)*x*c) + sum(x)
loss: (model - y)**2 + 0.1*sum((w - c)**2)
parameters:
  w: {shape: 4, init: [0.1, -0.2, 0.3, 0.05]}
  a: 1.5
  c: 0.7
optimizer: {name: gd, lr: 0.01, epochs: 3}
"""


def test_gradient_through_nonlinear_sums_matches_finite_differences():
    rng = np.random.default_rng(3)
    data = {"x": rng.uniform(-1, 1, size=(25, 4)), "y": rng.normal(size=25)}
    problem = compile_spec(optikit.loads_spec(NONLINEAR), data=data)
    ev = problem.evaluator
    p = np.array([0.3, -0.4, 0.2, 0.1, 1.2, 0.5])
    grad = ev.sums(p).grad
    h = 1e-6
    fd = np.array([(ev.sums(p + h * e, grad=False).loss - ev.sums(p - h * e, grad=False).loss) / (2 * h)
                   for e in np.eye(6)])
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)
    per_row = ev.per_row(p, ("grad",))[0]  # (parameters, rows), summing to the batch gradient
    assert per_row.shape == (6, 25)
    np.testing.assert_allclose(per_row.sum(axis=1), grad, rtol=1e-12)
    # the sum of the rows of a subset plus its complement is the whole: partial sums
    rows = np.arange(10)
    rest = np.arange(10, 25)
    both = ev.sums(p, rows) + ev.sums(p, rest)
    np.testing.assert_allclose(both.grad, grad, rtol=1e-12)
    assert both.n == 25


def test_hessian_through_sums_matches_finite_differences_of_the_gradient():
    text = NONLINEAR.replace("model: a*exp(-sum(w*x**2)) + sum(sin(w)*x*c) + sum(x)",
                             "model: a*exp(-sum(w*x**2)) + sum(sin(w)*x*c) + sum(x) + sum(w*v*x)").replace(
        "  a: 1.5", "  v: {shape: 4, init: 0.2}\n  a: 1.5").replace("0.1*sum((w - c)**2)", "0.1*sum((w - c)**2) + 0.01*sum(v**2*w)")
    rng = np.random.default_rng(3)
    ev = compile_spec(optikit.loads_spec(text), data={"x": rng.uniform(-1, 1, size=(25, 4)), "y": rng.normal(size=25)}).evaluator
    p = rng.normal(scale=0.5, size=10)
    hess = ev.sums(p, hessian=True).hessian
    h = 1e-5
    fd = np.array([(ev.sums(p + h * e).grad - ev.sums(p - h * e).grad) / (2 * h) for e in np.eye(10)])
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-8 * np.abs(hess).max())
    np.testing.assert_allclose(hess, hess.T, rtol=1e-12, atol=1e-12)


def test_newton_and_the_likelihood_fit_report_of_a_penalized_logistic_regression():
    data = _classes(300, 4, seed=7)
    spec = optikit.loads_spec(LOGISTIC.format(n=4, penalty=0.01, opt="newton", epochs=30))
    result = optikit.run(spec, data=data)
    lbfgs = optikit.run(spec, data=data, optimizer="lbfgs", epochs=500, tolerance_grad=1e-12,
                         tolerance_change=0.0)
    np.testing.assert_allclose(list(result.parameters.values()), list(lbfgs.parameters.values()), rtol=1e-7, atol=1e-9)
    theta = np.array(list(result.parameters.values()))
    x1 = np.column_stack([data["x"], np.ones(300)])
    prob = 1 / (1 + np.exp(-(x1 @ theta)))
    info = x1.T @ (x1 * (prob * (1 - prob))[:, None]) + 300 * np.diag([0.02] * 4 + [0.0])  # summed Hessian
    stderr = np.sqrt(np.diag(np.linalg.inv(info)))
    report = result.report()
    np.testing.assert_allclose([report.stderr[n] for n in result.parameters], stderr, rtol=1e-8)


def test_symbolic_form_stays_compact_as_the_vector_grows():
    def size(n: int) -> int:
        problem = compile_spec(optikit.loads_spec(LOGISTIC.format(n=n, penalty=0.01, opt="gd", epochs=1)),
                               data=_classes(20, n))
        exprs = [problem.symbolic.loss_expr, *problem.symbolic.grad_exprs]
        return sum(sympy.count_ops(e) for e in exprs)

    assert size(3) == size(1000)


def test_least_squares_with_a_vector_matches_lstsq_and_levenberg_marquardt():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 6))
    y = x @ rng.normal(size=6) + 0.5 + rng.normal(scale=0.1, size=200)
    spec = optikit.loads_spec("model: dot(w, x) + b\nparameters:\n  w: {shape: 6, init: 0.0}\n  b: 0.0\n"
                              "optimizer: {name: levenberg-marquardt, epochs: 50}\n")
    result = optikit.run(spec, data={"x": x, "y": y})
    coef, *_ = np.linalg.lstsq(np.column_stack([x, np.ones(200)]), y, rcond=None)
    np.testing.assert_allclose(list(result.parameters.values()), coef, rtol=1e-9, atol=1e-12)
    report = result.report()  # standard errors from the Jacobian, as for scalar parameters
    assert "w[5]" in str(report)


def test_vector_inputs_from_file_columns_by_pattern_and_list(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=40)
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.column_stack([x, y]), delimiter=",", header="f0,f1,f2,y", comments="")
    base = "model: dot(w, x)\nparameters:\n  w: {{shape: 3, init: 0.0}}\ndata:\n  csv: d.csv\n  vectors: {{x: {v}}}\n" \
           "optimizer: {{name: gd, lr: 0.1, epochs: 40}}\n"
    (tmp_path / "p.yaml").write_text(base.format(v='"f*"'))
    (tmp_path / "l.yaml").write_text(base.format(v="[f0, f1, f2]"))
    by_pattern = optikit.run(tmp_path / "p.yaml")
    by_list = optikit.run(tmp_path / "l.yaml")
    from_python = optikit.run(tmp_path / "p.yaml", data={"x": x, "y": y})
    assert by_pattern.parameters == by_list.parameters == from_python.parameters
    # streamed in chunks of 7 rows: batch gradient descent as in memory
    (tmp_path / "s.yaml").write_text(base.format(v='"f*"').replace("  vectors:", "  stream: true\n  chunk_rows: 7\n  vectors:"))
    streamed = optikit.run(tmp_path / "s.yaml")
    np.testing.assert_allclose(list(streamed.parameters.values()), list(by_pattern.parameters.values()), rtol=1e-12)


def test_results_history_checkpoints_and_saved_parameters_name_elements(tmp_path):
    spec = optikit.loads_spec(LOGISTIC.format(n=3, penalty=0.01, opt="adam", epochs=20))
    data = _classes(50, 3)
    ck = tmp_path / "ck.json"
    hist = tmp_path / "h.csv"
    full = optikit.run(spec, data=data, history=hist)
    assert hist.read_text().splitlines()[0].split(",")[-4:] == ["w[0]", "w[1]", "w[2]", "b"]
    optikit.run(spec, data=data, epochs=10, checkpoint=ck)
    assert "w[2]" in json.loads(ck.read_text())["payload"]["history"][-1]["parameters"]
    resumed = optikit.run(spec, data=data, resume=ck)
    assert resumed.parameters == full.parameters
    full.save(tmp_path / "fit.json")
    saved = json.loads((tmp_path / "fit.json").read_text())["parameters"]
    assert list(saved) == ["w[0]", "w[1]", "w[2]", "b"]
    x_new = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    want = 1 / (1 + np.exp(-(x_new @ np.array(list(full.parameters.values())[:3]) + full.parameters["b"])))
    np.testing.assert_allclose(full.predict({"x": x_new}), want, rtol=1e-12)


def test_initial_values_by_vector_by_element_and_by_list():
    spec = optikit.loads_spec(LOGISTIC.format(n=3, penalty=0.0, opt="gd", epochs=1))
    np.testing.assert_array_equal(spec.initial, [0, 0, 0, 0])
    assert spec.with_overrides(parameters={"w": [1.0, 2.0, 3.0]}).initial.tolist() == [1, 2, 3, 0]
    assert spec.with_overrides(parameters={"w": 0.5, "w[1]": -1.0}).initial.tolist() == [0.5, -1, 0.5, 0]
    listed = optikit.loads_spec(LOGISTIC.format(n=3, penalty=0.0, opt="gd", epochs=1).replace(
        "init: 0.0", "init: [1, 2, 3], min: -5, max: 5"))
    assert listed.initial.tolist() == [1, 2, 3, 0]
    assert [p.name for p in listed.flat_parameters] == ["w[0]", "w[1]", "w[2]", "b"]


@pytest.mark.parametrize("change, field, words", [
    (("shape: 3", "shape: 0"), "parameters.w.shape", "positive whole number"),
    (("shape: 3", "shape: [2, 2]"), "parameters.w.shape", "positive whole number"),
    (("init: 0.0", "init: [1, 2]"), "parameters.w.init", "expected 3 initial values"),
    (("init: 0.0", "init: 9, max: 1"), "parameters.w.init", "outside"),
    (("dot(w, x) + b", "w*x + b"), "model", "outside sum() or dot()"),
])
def test_bad_vector_specs_name_the_field(change, field, words):
    text = LOGISTIC.format(n=3, penalty=0.0, opt="gd", epochs=1).replace(*change)
    with pytest.raises(optikit.SpecError) as info:
        optikit.run(optikit.loads_spec(text), data=_classes(10, 3))
    assert info.value.field == field and words in str(info.value) and info.value.exit_code == 2


def test_lengths_that_differ_and_sums_without_vectors_are_refused():
    spec = optikit.loads_spec(LOGISTIC.format(n=3, penalty=0.0, opt="gd", epochs=1))
    with pytest.raises(optikit.SpecError, match="mixes vectors of different lengths: w has 3, x has 4"):
        optikit.run(spec, data=_classes(10, 4))
    flat = optikit.loads_spec("model: sum(a*x)\nparameters: {a: 1.0}\noptimizer: gd\n")
    with pytest.raises(optikit.SpecError, match="has no vector in it"):
        optikit.run(flat, data={"x": [1.0, 2.0], "y": [1.0, 2.0]})


def test_vectors_section_errors_point_at_the_file(tmp_path):
    (tmp_path / "d.csv").write_text("f0,f1,y\n1,2,3\n4,5,6\n")
    text = "model: dot(w, x)\nparameters:\n  w: {{shape: 2, init: 0.0}}\ndata:\n  csv: d.csv\n  vectors: {v}\noptimizer: gd\n"
    for v, words in [('{x: "g*"}', "no column matches 'g*'"), ("{x: [f0, f9]}", "no column named 'f9'"),
                     ("{y: [f0]}", "already a column"), ('{x: ["f*", f1]}', "twice"), ("[f0]", "expected a mapping")]:
        (tmp_path / "s.yaml").write_text(text.format(v=v))
        with pytest.raises(optikit.SpecError) as info:
            optikit.load_spec(tmp_path / "s.yaml")
        assert words in str(info.value) and "s.yaml:6:" in str(info.value), (v, str(info.value))


def test_cli_check_and_grad_show_elements(capsys):
    assert main(["check", str(SPECS / "breast_cancer.yaml")]) == 0
    out = capsys.readouterr().out
    assert "parameter w[0..29]: ok (30 elements, each checked)" in out and "parameter b: ok" in out
    assert "parameter w[0]:" not in out  # one section for a vector whose elements all agree
    report = optikit.check(SPECS / "breast_cancer.yaml")
    assert [p.name for p in report.parameters][:2] == ["w[0]", "w[1]"] and report["w[29]"].ok  # each element kept
    assert main(["grad", str(SPECS / "breast_cancer.yaml")]) == 0
    out = capsys.readouterr().out
    assert "d loss / d w[j] = 0.01*w + x*(" in out


def test_a_thousand_inputs_compile_quickly():
    # a loose ceiling against a regression to expanded scalar terms (seconds, not the benchmark's figure)
    start = time.perf_counter()
    optikit.run(optikit.loads_spec(LOGISTIC.format(n=1000, penalty=0.01, opt="gd", epochs=1)),
                data=_classes(200, 1000))
    assert time.perf_counter() - start < 30


def test_cli_saves_predicts_with_bands_and_plots_a_vector_fit(tmp_path, monkeypatch, capsys):
    import shutil

    for name in ("breast_cancer.yaml", "breast_cancer.csv"):
        shutil.copy(SPECS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "breast_cancer.yaml", "--no-plot", "--save", "fit.json"]) == 0
    assert main(["run", "breast_cancer.yaml", "--plot-fit", "fit.png"]) == 0
    assert (tmp_path / "fit.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["predict", "breast_cancer.yaml", "--parameters", "fit.json", "--data", "breast_cancer.csv",
                 "--uncertainty", "--out", "p.csv"]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["mean_radius", "mean_texture"] and header[30] == "prediction" and "stderr" in header
    fit = optikit.run("breast_cancer.yaml")
    x = np.loadtxt("breast_cancer.csv", delimiter=",", skiprows=1)[:, :30]
    got = np.array([float(line.split(",")[30]) for line in lines[1:]])
    np.testing.assert_allclose(got, fit.predict({"x": x}), rtol=1e-12)
    bands = fit.predict({"x": x[:5]}, uncertainty=True)
    np.testing.assert_allclose([float(line.split(",")[header.index("stderr")]) for line in lines[1:6]],
                               bands.stderr, rtol=1e-9)


def _wide_csv(tmp_path, rows: int = 30) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(rows, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=rows)
    np.savetxt(tmp_path / "d.csv", np.column_stack([x, y]), delimiter=",", header="f0,f1,f2,y", comments="")
    return {"x": x, "y": y}


FILE_SPEC = "model: dot(w, x) + b\nparameters:\n  w: {{shape: 3, init: 0.0}}\n  b: 0.0\n" \
            "data:\n  csv: d.csv\n  vectors: {{x: {v}}}\n{extra}optimizer: {opt}\n"


def test_kinks_have_a_hessian_as_for_scalars(tmp_path):
    data = _wide_csv(tmp_path)
    (tmp_path / "h.yaml").write_text(FILE_SPEC.format(v='"f*"', extra="loss: huber\n", opt="{name: newton, epochs: 50}"))
    fit = optikit.run(tmp_path / "h.yaml")
    from scipy.optimize import minimize

    def huber(t):
        r = np.abs(data["x"] @ t[:3] + t[3] - data["y"])
        return np.mean(np.where(r < 1, r**2 / 2, r - 0.5))
    ref = minimize(huber, np.zeros(4), method="BFGS", options={"gtol": 1e-12})
    np.testing.assert_allclose(list(fit.parameters.values()), ref.x, rtol=1e-6, atol=1e-8)
    lasso = FILE_SPEC.format(v='"f*"', extra="loss: (model - y)**2 + 0.1*sum(abs(w))\n",
                             opt="{name: lbfgs, epochs: 50}")
    (tmp_path / "l.yaml").write_text(lasso)
    assert optikit.run(tmp_path / "l.yaml").report().stderr  # the likelihood report's Hessian, kinks dropped


def test_vector_inputs_must_keep_their_shape_to_predict():
    data = _classes(40, 3)
    fit = optikit.run(optikit.loads_spec(LOGISTIC.format(n=3, penalty=0.0, opt="gd", epochs=2)), data=data)
    for bad, words in [(np.array([1.0, 2.0, 3.0]), "vector input of 3 elements"),
                       (np.array([[1.0, 2.0]]), "vector input of 3 elements")]:
        with pytest.raises(optikit.SpecError, match=words):
            fit.predict({"x": bad})
    assert fit.predict({"x": np.array([[1.0, 2.0, 3.0]])}).shape == (1,)


def test_the_target_is_never_a_member_and_sums_are_blamed_on_their_field(tmp_path):
    _wide_csv(tmp_path)
    (tmp_path / "s.yaml").write_text(FILE_SPEC.format(v='"*"', extra="", opt="{name: lbfgs, epochs: 50}"))
    spec = optikit.load_spec(tmp_path / "s.yaml")
    assert spec.data.options["vectors"]["x"] == ("f0", "f1", "f2")  # '*' leaves out the target y
    (tmp_path / "t.yaml").write_text(FILE_SPEC.format(v="[f0, f1, y]", extra="", opt="gd"))
    with pytest.raises(optikit.SpecError, match="'y' is the target or sigma column"):
        optikit.load_spec(tmp_path / "t.yaml")
    cases = [("model: dot(w, x) + b", "model: x + b + sum(w)", "model", "vector input 'x' is used in the model outside"),
             ("model: dot(w, x) + b", "model: f0*b + sum(w)\nloss: (model - y)**2 + x", "loss",
              "vector input 'x' is used in the loss outside"),
             ("model: dot(w, x) + b", "model: b\nloss: (model - y)**2 + w", "loss", "used in the loss outside sum()"),
             ("model: dot(w, x) + b", "model: w*f0 + b", "model", "used in the model outside sum()"),
             ("shape: 3", "shape: 4", "model", "mixes vectors of different lengths: w has 4, x has 3")]
    for old, new, field, words in cases:
        (tmp_path / "e.yaml").write_text(FILE_SPEC.format(v='"f*"', extra="", opt="gd").replace(old, new))
        with pytest.raises(optikit.SpecError) as info:
            optikit.run(tmp_path / "e.yaml")
        assert info.value.field == field and words in str(info.value) and "e.yaml:" in str(info.value), new


def test_member_columns_from_python_and_validation_files_are_grouped_or_named(tmp_path):
    pd = pytest.importorskip("pandas")
    data = _wide_csv(tmp_path)
    (tmp_path / "s.yaml").write_text(FILE_SPEC.format(v='"f*"', extra="", opt="{name: gd, lr: 0.1, epochs: 5}"))
    frame = pd.DataFrame({"f0": data["x"][:, 0], "f1": data["x"][:, 1], "f2": data["x"][:, 2], "y": data["y"]})
    assert optikit.run(tmp_path / "s.yaml", data=frame).parameters == optikit.run(tmp_path / "s.yaml").parameters
    np.savetxt(tmp_path / "v.csv", np.column_stack([data["x"][:, :2], data["y"]]), delimiter=",",
               header="f0,f1,y", comments="")
    (tmp_path / "v.yaml").write_text(FILE_SPEC.format(v='"f*"', extra="", opt="gd").replace(
        "  vectors:", "  validation: {csv: v.csv}\n  vectors:"))
    with pytest.raises(optikit.SpecError) as info:
        optikit.run(tmp_path / "v.yaml")
    assert info.value.field == "data.validation" and "no column 'f2', which the vector input 'x'" in str(info.value)
    (tmp_path / "p.yaml").write_text(FILE_SPEC.format(v='"f*"', extra="predict: {x: [1, 2, 3]}\n", opt="gd"))
    with pytest.raises(optikit.SpecError, match="'x' is a vector input; 'predict:' takes one number"):
        optikit.load_spec(tmp_path / "p.yaml")


def test_init_says_vector_specs_are_written_by_hand(tmp_path, capsys):
    assert main(["init", str(tmp_path / "v.yaml"), "--model", "sigmoid(dot(w, x)) + b"]) == 2
    assert "init writes specs of scalar parameters" in capsys.readouterr().err


def test_check_runs_through_kinks_inside_sums_and_at_points_given_by_vector(tmp_path, capsys):
    _wide_csv(tmp_path)
    spec = FILE_SPEC.format(v='"f*"', extra="loss: (model - y)**2 + 0.1*sum(abs(w))\n", opt="gd")
    (tmp_path / "l1.yaml").write_text(spec + "check:\n  at:\n    - {w: 0.5, b: 0.1}\n    - {w: [0.1, -0.2, 0.3], 'w[1]': 2.0}\n")
    report = optikit.check(tmp_path / "l1.yaml")
    assert report.ok and [list(p.values()) for p in report.points] == [[0.5, 0.5, 0.5, 0.1], [0.1, 2.0, 0.3, 0.0]]
    with pytest.raises(optikit.SpecError, match="'v' is not a parameter"):
        optikit.check(tmp_path / "l1.yaml", points=[{"v": 1.0}])
    (tmp_path / "bad.yaml").write_text(spec + "check:\n  at:\n    - {w: [1, 2]}\n")
    with pytest.raises(optikit.SpecError, match="expected 3 initial values"):
        optikit.load_spec(tmp_path / "bad.yaml")


def test_predict_groups_the_files_member_columns_and_sums_keep_their_sign(tmp_path):
    data = _wide_csv(tmp_path)
    (tmp_path / "s.yaml").write_text(FILE_SPEC.format(v='"f*"', extra="", opt="{name: lbfgs, epochs: 50}"))
    fit = optikit.run(tmp_path / "s.yaml")
    members = {f"f{j}": data["x"][:, j] for j in range(3)}
    np.testing.assert_array_equal(fit.predict(members), fit.predict({"x": data["x"]}))
    assert fit.predict(members, uncertainty=True).stderr.shape == (30,)
    from optikit.symbolic.domain import domain_warnings

    text = FILE_SPEC.format(v='"f*"', extra="loss: (model - y)**2 + sqrt(sum(w**2) + 1) + log(sum(exp(w)))\n", opt="gd")
    (tmp_path / "d.yaml").write_text(text)
    assert not domain_warnings(optikit.load_spec(tmp_path / "d.yaml"))


def test_a_huge_shape_is_refused_before_anything_is_built():
    with pytest.raises(optikit.SpecError, match="more than the 1000000 a vector parameter may have"):
        optikit.loads_spec("objective: sum(w**2)\nparameters:\n  w: {shape: 100000000000, init: 0.0}\noptimizer: gd\n")


def test_check_shows_each_element_of_a_vector_that_disagrees():
    spec = optikit.loads_spec(NONLINEAR)
    rng = np.random.default_rng(3)
    data = {"x": rng.uniform(-1, 1, size=(25, 4)), "y": rng.normal(size=25)}
    coarse = str(optikit.check(spec, data=data, eps=0.5, atol=0.0, rtol=0.0))  # differences too coarse to agree
    assert "parameter w[0]: " in coarse and "w[0..3]" not in coarse and "FAILED: w[0]" in coarse
    assert "parameter w[0..3]: ok (4 elements, each checked)" in str(optikit.check(spec, data=data))


def test_a_long_vector_is_listed_by_its_ends_and_saved_whole(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 100))
    np.savez(tmp_path / "w.npz", **{f"f{j}": x[:, j] for j in range(100)}, y=x[:, 0])
    (tmp_path / "w.yaml").write_text("model: dot(w, x) + b\nparameters:\n  w: {shape: 100, init: 0.0}\n  b: 0.0\n"
                                     "data:\n  npz: w.npz\n  vectors: {x: \"f*\"}\noptimizer: {name: gd, epochs: 2}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "w.yaml", "--no-plot", "--save", "fit.json"]) == 0
    out = capsys.readouterr().out
    assert "  w[2] = " in out and "  w[3] = " not in out and "... (95 more of w; --save PATH writes them all)" in out
    assert "  w[99] = " in out and "  b = " in out
    assert len(json.loads((tmp_path / "fit.json").read_text())["parameters"]) == 101
