"""The optimizer catalogue end to end: spec text -> SymPy -> engine, for every optimizer.

optax's style: one shared list of cases (``tests/optimizer_cases.py``) parametrizes every test,
and each test states its budget (steps) and tolerance next to the case. Every run goes through
``optikit.run`` on a spec written as YAML text, so the spec loader, the symbolic derivatives and
the engine are part of every check.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import optikit
from optikit.api import compile_spec
from optikit.optimizers import builtin_optimizers
from optikit.spec import loads_spec
from tests.conftest import SPECS
from tests.optimizer_cases import BOWL, BOWL_D, BOWL_START, BOWL_T, ROSENBROCK

# Exp-decay data (a*exp(-b*x) + c) with a little fixed noise, so no optimizer sits on an exact fit.
EXP_X = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0])
EXP_Y = 2.5 * np.exp(-1.3 * EXP_X) + 0.5 + 0.01 * np.sin(7.0 * EXP_X)


def spec_text(body: str, optimizer: str, **opt: object) -> str:
    """A spec: ``body`` (objective or model, parameters, data) plus an optimizer section."""
    lines = [f"  {k}: {json.dumps(v)}" for k, v in opt.items()]  # JSON values are YAML flow values
    return body.strip() + "\noptimizer:\n  name: " + optimizer + "\n" + "\n".join(lines) + "\n"


def run_text(body: str, optimizer: str, **opt: object) -> optikit.Result:
    return optikit.run(loads_spec(spec_text(body, optimizer, **opt)))


def steps_to(body: str, optimizer: str, target, tol: float, steps: int, **opt: object) -> int:
    """Steps until the parameters are first within ``tol`` (max abs) of ``target``; fails past ``steps``."""
    target = np.asarray(target, dtype=float)

    def close(record) -> bool:
        return float(np.max(np.abs(np.array(list(record.parameters.values())) - target))) < tol

    result = optikit.run(loads_spec(spec_text(body, optimizer, steps=steps, **opt)), callbacks=[close])
    gap = np.max(np.abs(result.x - target))
    assert result.stop_reason == "callback", f"{optimizer}: still {gap:.3g} away after {result.steps} steps"
    return result.steps


# ---- quadratic bowl ------------------------------------------------------------------------
# 0.5 * sum(d * (p - t)**2), d = BOWL_D, t = BOWL_T: as an objective, and for optimizers that need
# residuals as the same function written as an mse fit (row i: model s_i*p_i, target s_i*t_i with
# s_i**2 = 1.5*d_i, so the mean over the three rows is the bowl).
_P = ("a", "b", "c")
_START = "\n".join(f"  {n}: {v}" for n, v in zip(_P, BOWL_START))
BOWL_OBJECTIVE = ("objective: 0.5*(" + " + ".join(f"{d:g}*({n} - ({t:g}))**2" for n, d, t in zip(_P, BOWL_D, BOWL_T))
                  + ")\nparameters:\n" + _START)
_S = np.sqrt(1.5 * BOWL_D)
BOWL_LSQ = (f"model: s1*a + s2*b + s3*c\nparameters:\n{_START}\ndata:\n"
            + "".join(f"  s{i + 1}: {json.dumps([float(_S[i]) if j == i else 0.0 for j in range(3)])}\n" for i in range(3))
            + f"  y: {json.dumps([float(s * t) for s, t in zip(_S, BOWL_T)])}\nloss: mse")

#: Budgets of the optimizers that optimizer_cases.BOWL (first-order) does not state.
BOWL_EXTRA = {"newton": ({}, 1, 1e-10), "lbfgs": ({}, 30, 1e-8), "levenberg-marquardt": ({}, 10, 1e-8)}
REGISTERED = [cls.name for cls in builtin_optimizers()]


def bowl_budget(name: str) -> tuple[dict, int, float]:
    if name in BOWL:
        b = BOWL[name]
        return b.overrides, b.steps, b.tol
    assert name in BOWL_EXTRA, f"state a bowl budget for the optimizer {name!r}"
    return BOWL_EXTRA[name]


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_optimizer_converges_on_the_bowl(name):
    overrides, steps, tol = bowl_budget(name)
    cls = next(c for c in builtin_optimizers() if c.name == name)
    body = BOWL_LSQ if "residuals" in cls.requires else BOWL_OBJECTIVE
    if name == "adamw":
        overrides = {"weight_decay": 0.0, **overrides}  # its default decoupled decay moves the minimizer
    assert steps_to(body, name, BOWL_T, tol, steps, **overrides) <= steps


def test_the_two_bowls_are_one_function():
    point = {"parameters": {"a": 0.3, "b": 1.7, "c": -0.2}}
    f = [optikit.run(loads_spec(spec_text(body, "gd", steps=1, lr=0.0)), **point).initial_loss
         for body in (BOWL_OBJECTIVE, BOWL_LSQ)]
    assert f[0] == pytest.approx(f[1], rel=1e-13)


# ---- Rosenbrock ----------------------------------------------------------------------------
ROSEN = "objective: (1 - a)**2 + 100*(b - a**2)**2\nparameters:\n  a: -1.5\n  b: 2.0"
ROSEN_EXTRA = [("newton", "newton", {}, 40, 1e-8), ("lbfgs", "lbfgs", {}, 60, 1e-6)]


@pytest.mark.parametrize("case_id, name, kwargs, steps, tol",
                         [(i, cls.name, kw, s, t) for i, cls, kw, s, t in ROSENBROCK] + ROSEN_EXTRA,
                         ids=[c[0] for c in ROSENBROCK] + [c[0] for c in ROSEN_EXTRA])
def test_documented_optimizers_solve_rosenbrock(case_id, name, kwargs, steps, tol):
    assert steps_to(ROSEN, name, [1.0, 1.0], tol, steps, **kwargs) <= steps


# ---- bundled catalogue specs: each reaches its known answer ---------------------------------
SPEC_ANSWERS = {
    # spec: (expected parameters, absolute tolerance, most steps)
    "rosenbrock.yaml": ({"a": 1.0, "b": 1.0}, 1e-8, 4000),
    "beale.yaml": ({"x": 3.0, "y": 0.5}, 1e-8, 100),
    "linear_lsq.yaml": (None, 1e-10, 2),  # None: np.linalg.lstsq's answer; one step, one to see it
    "exp_decay_lm.yaml": ({"a": 2.5, "b": 1.3, "c": 0.5}, 1e-8, 49),
}


CONVERGING = ("levenberg-marquardt", "newton", "lbfgs")


@pytest.mark.parametrize("name", sorted(SPEC_ANSWERS))
def test_catalogue_spec_reaches_its_answer(name):
    expected, tol, steps = SPEC_ANSWERS[name]
    spec = optikit.load_spec(SPECS / name)
    if expected is None:
        data = optikit.load_data(spec)
        x, y = data["x"], data["y"]
        sol = np.linalg.lstsq(np.column_stack([np.ones_like(x), x, x**2]), y, rcond=None)[0]
        expected = dict(zip(spec.parameter_names, sol))
    result = optikit.run(spec)
    assert result.steps <= steps
    if spec.optimizer.name in CONVERGING and spec.optimizer.gtol is None:
        assert result.stop_reason == "converged"
    for key, value in expected.items():
        assert result.parameters[key] == pytest.approx(value, abs=tol), key


def test_newton_solves_linear_least_squares_in_one_step():
    spec = optikit.load_spec(SPECS / "linear_lsq.yaml")
    data = optikit.load_data(spec)
    x, y = data["x"], data["y"]
    sol = np.linalg.lstsq(np.column_stack([np.ones_like(x), x, x**2]), y, rcond=None)[0]
    for start in ({"a": 0.0, "b": 0.0, "c": 0.0}, {"a": -40.0, "b": 7.5, "c": 3.0}):
        result = optikit.run(spec, steps=1, parameters=start)
        assert result.steps == 1
        np.testing.assert_allclose(result.x, sol, rtol=1e-10, atol=1e-10)


def test_levenberg_marquardt_fits_exp_decay_in_under_50_iterations():
    truth = {"a": 3.2, "b": 0.7, "c": -0.4}
    x = np.linspace(0.0, 6.0, 15)
    y = truth["a"] * np.exp(-truth["b"] * x) + truth["c"]
    body = (f"model: a*exp(-b*x) + c\nparameters:\n  a: 1.0\n  b: 2.0\n  c: 0.0\n"
            f"data:\n  x: {json.dumps(x.tolist())}\n  y: {json.dumps(y.tolist())}\nloss: mse")
    result = run_text(body, "levenberg-marquardt", steps=49)
    assert result.stop_reason == "converged" and result.steps < 50
    for key, value in truth.items():
        assert result.parameters[key] == pytest.approx(value, abs=1e-8), key


# ---- the saddle: gd stalls on the axis, momentum and sample noise escape ---------------------
def saddle() -> optikit.Spec:
    return optikit.load_spec(SPECS / "saddle.yaml")


def test_gd_started_on_the_saddle_axis_stalls_at_the_saddle():
    result = optikit.run(saddle(), optimizer="gd", lr=0.1, epochs=2000)
    assert np.all(result.history.parameters[:, 1] == 0.0)  # never leaves y = 0
    assert result.parameters["x"] == pytest.approx(0.0, abs=1e-12)
    assert result.loss == pytest.approx(0.0, abs=1e-12)  # the saddle's value, not the minimum's -1/4


def test_momentum_escapes_a_tiny_perturbation_that_plain_gd_barely_moves():
    start = {"parameters": {"y": 1e-6}}
    plain = optikit.run(saddle(), optimizer="gd", lr=0.1, epochs=100, **start)
    heavy = optikit.run(saddle(), optimizer="gd", lr=0.1, momentum=0.9, epochs=200, **start)
    assert abs(plain.parameters["y"]) < 0.02
    assert abs(heavy.parameters["y"]) == pytest.approx(1.0, abs=1e-3)
    assert heavy.loss == pytest.approx(-0.25, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_sgd_sample_noise_escapes_the_saddle_axis(seed):
    result = optikit.run(saddle(), seed=seed)
    assert abs(result.parameters["y"]) == pytest.approx(1.0, abs=0.01)
    assert result.loss == pytest.approx(-0.25, abs=1e-3)
    again = optikit.run(saddle(), seed=seed)
    assert again.parameters == result.parameters  # deterministic for a seed


# ---- torch.optim's trajectories through the whole spec path ---------------------------------
EXP_BODY = (f"model: a*exp(-b*x) + c\nparameters:\n  a: 1.0\n  b: 0.5\n  c: 0.0\n"
            f"data:\n  x: {json.dumps(EXP_X.tolist())}\n  y: {json.dumps(EXP_Y.tolist())}\nloss: mse")
EXP_START = [1.0, 0.5, 0.0]


def torch_trajectory(torch_name: str, kwargs: dict, steps: int, batches=None, schedule=None, sign: float = 1.0):
    """Parameters after each epoch of torch.optim on the same mse (times ``sign``), autograd in float64."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # else torch keeps scalar state (NAdam's mu_product) in float32
    try:
        p = torch.tensor(EXP_START, dtype=torch.float64, requires_grad=True)
        x, y = torch.tensor(EXP_X), torch.tensor(EXP_Y)
        opt = getattr(torch.optim, torch_name)([p], **kwargs)
        sched = schedule(opt) if schedule else None
        out = []
        for _ in range(steps):
            for rows in batches or [slice(None)]:
                opt.zero_grad()
                loss = sign * ((p[0] * torch.exp(-p[1] * x[rows]) + p[2] - y[rows]) ** 2).mean()
                loss.backward()
                opt.step()
            if sched:
                sched.step()
            out.append(p.detach().numpy().copy())
    finally:
        torch.set_default_dtype(old)
    return np.array(out)


def _torch_cases():
    from tests.optimizer_cases import TORCH_CASES

    return [pytest.param(cls.name, kwargs, tname, tkw, id=case_id) for case_id, cls, kwargs, tname, tkw in TORCH_CASES]


@pytest.mark.parametrize("name, kwargs, torch_name, torch_kwargs", _torch_cases())
def test_first_order_optimizers_follow_torch_for_100_full_batch_steps(name, kwargs, torch_name, torch_kwargs):
    # a maximize case ascends the negated mse, so it fits the data instead of running off
    sign = -1.0 if kwargs.get("maximize") else 1.0
    expected = torch_trajectory(torch_name, torch_kwargs, 100, sign=sign)
    body = EXP_BODY.replace("loss: mse", "loss: -(model - y)**2") if sign < 0 else EXP_BODY
    result = run_text(body, name, steps=100, batch_size=len(EXP_X), **kwargs)
    assert result.steps == 100
    np.testing.assert_allclose(result.history.parameters, expected, rtol=1e-10, atol=1e-12)


SCHEDULES = [
    ("step", {"name": "step", "step_size": 5, "gamma": 0.5}, "StepLR", {"step_size": 5, "gamma": 0.5}),
    ("exponential", {"name": "exponential", "gamma": 0.9}, "ExponentialLR", {"gamma": 0.9}),
    ("cosine", {"name": "cosine"}, "CosineAnnealingLR", {"T_max": 20}),
    ("linear", {"name": "linear", "start_factor": 0.25, "end_factor": 1.0, "total_iters": 8}, "LinearLR",
     {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8}),
]


@pytest.mark.parametrize("schedule, torch_name, torch_kwargs", [pytest.param(*s[1:], id=s[0]) for s in SCHEDULES])
def test_schedules_match_torch_lr_scheduler_on_sgd(schedule, torch_name, torch_kwargs):
    torch = pytest.importorskip("torch")
    hyper = {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01}
    rows = [slice(i, i + 4) for i in range(0, len(EXP_X), 4)]  # 3 mini-batches in data order per epoch
    expected = torch_trajectory("SGD", hyper, 20, batches=rows,
                                schedule=lambda opt: getattr(torch.optim.lr_scheduler, torch_name)(opt, **torch_kwargs))
    result = run_text(EXP_BODY, "sgd", epochs=20, batch_size=4, shuffle=False, schedule=schedule, **hyper)
    assert result.steps == 60
    np.testing.assert_allclose(result.history.parameters, expected, rtol=1e-10, atol=1e-12)


# ---- stop reasons ---------------------------------------------------------------------------
STOPS = [
    ("epochs", {"epochs": 7}),
    ("steps", {"steps": 5}),
    ("tol", {"epochs": 100000, "tol": 1e-9, "lr": 0.015}),
    ("gtol", {"epochs": 100000, "gtol": 1e-6, "lr": 0.015}),
    ("max_time", {"epochs": 10**9, "max_time": 0.05}),  # the epoch limit is a hang guard
]


@pytest.mark.parametrize("reason, opt", STOPS, ids=[s[0] for s in STOPS])
def test_each_stop_reason_is_produced_and_reported(reason, opt, tmp_path, capsys):
    from optikit.cli import main

    result = run_text(BOWL_OBJECTIVE, "gd", **{"lr": 0.005, **opt})
    assert result.stop_reason == reason
    if reason in ("epochs", "steps"):
        assert (result.epochs, result.steps) == ((7, 7) if reason == "epochs" else (5, 5))
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text(BOWL_OBJECTIVE, "gd", **{"lr": 0.005, **opt}), encoding="utf-8")
    assert main(["run", str(path), "--every", "100000"]) == 0
    said = {"epochs": "stopped at the epoch limit", "steps": "stopped at the step limit",
            "tol": "stopped because the loss changed by at most tol",
            "gtol": "stopped because the gradient came within gtol of zero",
            "max_time": "stopped at the time limit (max_time)"}[reason]
    assert said in capsys.readouterr().out
    assert main(["run", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["stop_reason"] == reason


def test_callback_stop_reason():
    result = optikit.run(loads_spec(spec_text(BOWL_OBJECTIVE, "gd", epochs=50)), callbacks=[lambda r: r.epoch == 3])
    assert (result.stop_reason, result.epochs) == ("callback", 4)


# ---- bounds: projection after every step keeps each optimizer in the box -----------------------
BOUNDED = "objective: (a - 2)**2 + (b + 1)**2\nparameters:\n  a: {init: 0.0, max: 1.0}\n  b: {init: 0.0, min: -0.5}"
BOUNDED_LSQ = ("model: a*x + b\nparameters:\n  a: {init: 0.0, max: 1.0}\n  b: {init: 0.0, min: -0.5}\n"
               "data:\n  x: [0.0, 1.0, 2.0]\n  y: [-1.0, 1.0, 3.0]\nloss: mse")  # unbounded fit: a = 2, b = -1


def _cls(name):
    return next(c for c in builtin_optimizers() if c.name == name)


@pytest.mark.parametrize("name", [n for n in REGISTERED if _cls(n).supports_bounds])
def test_bounds_hold_for_every_optimizer(name):
    cls = _cls(name)
    lsq = "residuals" in cls.requires
    opt = {} if cls.requires or name == "adadelta" else {"lr": 0.05}
    result = run_text(BOUNDED_LSQ if lsq else BOUNDED, name, steps=300, **opt)
    history = result.history.parameters
    assert history[:, 0].max() <= 1.0 and history[:, 1].min() >= -0.5
    assert result.parameters["a"] == pytest.approx(1.0, abs=1e-3)
    if not lsq:  # the objective separates: the constrained minimum is the corner
        assert result.parameters["b"] == pytest.approx(-0.5, abs=1e-3)


# exp decay with the rate bounded away from its unconstrained optimum (b = 1.3): the constrained
# fit has b at its upper bound and a, c free; a second case bounds both sides of a and c.
X_DECAY = np.linspace(0.0, 5.0, 12)
Y_DECAY = 2.5 * np.exp(-1.3 * X_DECAY) + 0.5 + 0.02 * np.cos(5.0 * X_DECAY)
BOUND_CASES = {
    "upper": {"a": (1.0, None, None), "b": (0.5, None, 1.0), "c": (0.0, None, None)},
    "box": {"a": (1.0, 0.0, 2.2), "b": (0.5, 0.1, 3.0), "c": (1.0, 0.55, 5.0)},
}


def _bounded_decay(case: str) -> str:
    lines = []
    for name, (init, lo, hi) in BOUND_CASES[case].items():
        extra = "".join(f", {k}: {v}" for k, v in (("min", lo), ("max", hi)) if v is not None)
        lines.append(f"  {name}: {{init: {init}{extra}}}")
    return ("model: a*exp(-b*x) + c\nparameters:\n" + "\n".join(lines) +
            f"\ndata:\n  x: {json.dumps(X_DECAY.tolist())}\n  y: {json.dumps(Y_DECAY.tolist())}\nloss: mse")


@pytest.mark.parametrize("case", sorted(BOUND_CASES))
@pytest.mark.parametrize("name", [n for n in REGISTERED if not _cls(n).supports_bounds])
def test_bounded_fit_equals_scipy_least_squares(name, case):
    from scipy.optimize import least_squares

    spec = BOUND_CASES[case]
    lo = [v[1] if v[1] is not None else -np.inf for v in spec.values()]
    hi = [v[2] if v[2] is not None else np.inf for v in spec.values()]
    x0 = [v[0] for v in spec.values()]
    ref = least_squares(lambda p: p[0] * np.exp(-p[1] * X_DECAY) + p[2] - Y_DECAY, x0, bounds=(lo, hi),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    body = _bounded_decay(case)
    result = optikit.run(loads_spec(spec_text(body, name, epochs=1000)))
    assert result.stop_reason == "converged"
    history = result.history.parameters
    assert np.all(history >= np.array(lo) - 1e-15) and np.all(history <= np.array(hi) + 1e-15)
    np.testing.assert_allclose(result.x, ref.x, rtol=2e-6, atol=2e-7)
    assert np.any(np.isclose(ref.x, lo) | np.isclose(ref.x, hi)), "the case should have an active bound"


# ---- convergence: the second-order methods stop on their own tests -------------------------
LEAST_SQUARES_SPECS = ("exp_decay.yaml", "exp_decay_lm.yaml", "line_bias.yaml", "linear_lsq.yaml", "seed_gd.yaml")


@pytest.mark.parametrize("optimizer", CONVERGING)
@pytest.mark.parametrize("name", LEAST_SQUARES_SPECS)
def test_bundled_least_squares_specs_report_converged(name, optimizer):
    spec = optikit.load_spec(SPECS / name)
    result = optikit.run(spec, optimizer=optimizer, epochs=1000)
    assert result.stop_reason == "converged", (name, optimizer, result.stop_reason, result.steps)
    assert result.steps < 200
    grad = compile_spec(spec).grad(result.x)
    assert np.max(np.abs(grad)) < 1e-6 * max(1.0, result.initial_loss)


def test_naming_only_the_optimizer_runs_until_converged_under_a_generous_cap():
    spec = optikit.load_spec(SPECS / "exp_decay_lm.yaml")
    assert not spec.optimizer.length_given
    result = optikit.run(spec)
    assert result.stop_reason == "converged" and result.epochs < 50
    # with the tests turned off the cap is what stops it, and the result says so
    capped = optikit.run(spec, lambda_=1e12, decrease=1.0, damping="multiply", ftol=0.0, xtol=0.0, cosine_tol=0.0)  # a crawl
    assert (capped.stop_reason, capped.epochs) == ("epochs", 5000)
    # an explicit length still wins, and a first-order optimizer keeps the usual default
    assert optikit.run(spec, epochs=3).epochs == 3
    assert optikit.run(spec, optimizer="gd", lr=0.01).epochs == 100
