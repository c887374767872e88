"""The first-order optimizers without torch: convergence, purity, validation, documentation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optikit.optimizers.adam import Adam, AdamW, NAdam, RAdam
from optikit.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from optikit.optimizers.averaged import ASGD, Rprop
from optikit.optimizers.infinity import Adafactor, Adamax
from optikit.optimizers.base import Optimizer, hyperparameters
from optikit.optimizers.lion import Lion
from optikit.optimizers.sgd import GD, SGD

try:  # tests/ as a package, or as a plain folder on sys.path
    from tests import optimizer_cases as cases
except ModuleNotFoundError:
    import optimizer_cases as cases

BOWL, BOWL_D, BOWL_START, BOWL_T = cases.BOWL, cases.BOWL_D, cases.BOWL_START, cases.BOWL_T
CASES, ROSENBROCK = cases.CASES, cases.ROSENBROCK
bowl_minimizer, gradient_sign = cases.bowl_minimizer, cases.gradient_sign

CLASSES = sorted({case[1] for case in CASES}, key=lambda c: c.name)
case_params = [pytest.param(cls, kwargs, id=case_id) for case_id, cls, kwargs in CASES]


def bowl_grad(p):
    return BOWL_D * (p - BOWL_T)


def rosenbrock_grad(p):
    x, y = p
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)])


def run(opt, grad, start, steps, sign=1.0):
    """Yield the parameters after each of ``steps`` updates."""
    p, state = start.copy(), opt.init(start)
    for _ in range(steps):
        step, state = opt.update(sign * grad(p), state, p)
        p = p + step
        yield p, state


def steps_to(opt, grad, start, target, steps, tol, sign=1.0):
    for k, (p, _) in enumerate(run(opt, grad, start, steps, sign), 1):
        if np.abs(p - target).max() < tol:
            return k
    pytest.fail(f"{opt!r}: still {np.abs(p - target).max():.3g} from the minimizer after {steps} steps")


def test_every_optimizer_has_a_bowl_budget():
    assert {cls.name for cls in CLASSES} == set(BOWL)
    expected = {"gd", "sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam", "radam", "lion",
                "adamax", "rprop", "asgd", "adafactor"}
    assert {cls.name for cls in CLASSES} == expected


@pytest.mark.parametrize(
    "cls, kwargs",
    [p for p in case_params if bowl_minimizer(*p.values) is not None],
)
def test_converges_on_bowl(cls, kwargs):
    budget = BOWL[cls.name]
    kwargs = kwargs | budget.overrides
    target = bowl_minimizer(cls, kwargs)
    steps_to(cls(**kwargs), bowl_grad, BOWL_START, target, budget.steps, budget.tol, gradient_sign(kwargs))


@pytest.mark.parametrize("cls, kwargs, steps, tol", [pytest.param(*r[1:], id=r[0]) for r in ROSENBROCK])
def test_converges_on_rosenbrock(cls, kwargs, steps, tol):
    steps_to(cls(**kwargs), rosenbrock_grad, np.array([-1.5, 2.0]), np.ones(2), steps, tol)


@pytest.mark.parametrize("cls, kwargs", case_params)
def test_state_stays_finite(cls, kwargs):
    kwargs = kwargs | BOWL[cls.name].overrides
    for p, state in run(cls(**kwargs), bowl_grad, BOWL_START, 1000, gradient_sign(kwargs)):
        pass
    assert np.isfinite(p).all()
    for leaf in state:
        assert np.isfinite(leaf).all()


def arrays(state):
    return [leaf for leaf in state if isinstance(leaf, np.ndarray)]


@pytest.mark.parametrize("cls, kwargs", case_params)
def test_init_and_update_are_pure(cls, kwargs):
    rng = np.random.default_rng(0)
    opt = cls(**kwargs)
    params = rng.standard_normal(5)
    state = opt.init(params)
    assert all(not np.shares_memory(a, params) for a in arrays(state))
    for _ in range(3):
        step, state = opt.update(rng.standard_normal(5), state, params)
        params = params + step
    grad = rng.standard_normal(5)
    before = (grad.copy(), params.copy(), [np.copy(leaf) for leaf in state])
    step, new_state = opt.update(grad, state, params)
    np.testing.assert_array_equal(grad, before[0])
    np.testing.assert_array_equal(params, before[1])
    for leaf, copy in zip(state, before[2]):
        np.testing.assert_array_equal(leaf, copy)
    assert type(new_state) is type(state)
    for a in [step, *arrays(new_state)]:
        assert not np.shares_memory(a, grad) and not np.shares_memory(a, params)
    # the same inputs give the same result: no hidden state in the optimizer object
    again, again_state = opt.update(grad, state, params)
    np.testing.assert_array_equal(step, again)
    for a, b in zip(new_state, again_state):
        np.testing.assert_array_equal(a, b)


INVALID = [
    *[(cls, {"lr": -0.1}) for cls in (GD, SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Lion)],
    (GD, {"momentum": -0.5}),
    (GD, {"weight_decay": -1e-3}),
    (SGD, {"nesterov": True}),
    (SGD, {"momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    (Adagrad, {"lr_decay": -1.0}),
    (Adagrad, {"initial_accumulator_value": -0.1}),
    (Adagrad, {"eps": -1e-10}),
    (Adagrad, {"lr": math.nan}),
    (RMSprop, {"alpha": -0.1}),
    (RMSprop, {"momentum": -0.9}),
    (RMSprop, {"weight_decay": -0.1}),
    (RMSprop, {"centered": "yes"}),
    (Adadelta, {"rho": 1.5}),
    (Adadelta, {"rho": -0.1}),
    (Adadelta, {"lr": "1.0"}),
    (Adam, {"betas": (1.0, 0.999)}),
    (Adam, {"betas": [0.9, -0.1]}),
    (Adam, {"betas": [0.9]}),
    (Adam, {"betas": [0.9, 0.99, 0.999]}),
    (Adam, {"betas": "0.9,0.99"}),
    (Adam, {"betas": 0.9}),
    (Adam, {"betas": [0.9, "0.99"]}),
    (Adam, {"eps": -1e-8}),
    (Adam, {"amsgrad": 1}),
    (AdamW, {"weight_decay": -0.01}),
    (AdamW, {"betas": [0.9, 1.0]}),
    (NAdam, {"momentum_decay": -4e-3}),
    (NAdam, {"betas": [True, 0.99]}),
    (RAdam, {"betas": [-0.5, 0.999]}),
    (RAdam, {"decoupled_weight_decay": "true"}),
    (Lion, {"betas": [1.1, 0.99]}),
    *[(cls, {"lr": -0.1}) for cls in (Adamax, Rprop, ASGD, Adafactor)],
    (Adamax, {"betas": [0.9, 1.0]}),
    (Adamax, {"eps": -1e-8}),
    (Rprop, {"etas": [1.5, 1.2]}),
    (Rprop, {"etas": [0.5]}),
    (Rprop, {"step_sizes": [1.0, 0.1]}),
    (ASGD, {"weight_decay": -0.1}),
    (ASGD, {"maximize": 0}),
    (Adafactor, {"d": 0.5}),
    (Adafactor, {"beta2_decay": 0.2}),
    (Adafactor, {"eps": [None]}),
    (Adafactor, {"eps": [-1.0, 1e-3]}),
    (Lion, {"betas": [0.9, -0.01]}),
    (Lion, {"weight_decay": -1.0}),
]


@pytest.mark.parametrize("cls, kwargs", INVALID, ids=lambda v: v.name if isinstance(v, type) else repr(v))
def test_invalid_hyperparameters_raise_value_error(cls, kwargs):
    with pytest.raises(ValueError, match=r"(?i)invalid|must be|nesterov"):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [Adam, AdamW, NAdam, RAdam, Lion], ids=lambda c: c.name)
def test_betas_accept_any_pair_of_numbers(cls):
    for betas in ([0.8, 0.99], (0.8, 0.99), np.array([0.8, 0.99]), [0, 0.5]):
        opt = cls(betas=betas)
        assert opt.betas == tuple(float(b) for b in betas)
        assert all(type(b) is float for b in opt.betas)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_class_contract_and_docs(cls):
    assert issubclass(cls, Optimizer)
    assert isinstance(cls.name, str) and cls.name
    assert cls.requires == frozenset()
    assert cls.batch_size == (1 if cls is SGD else None)
    hps = hyperparameters(cls)
    assert hps and all(not h.required for h in hps)
    undocumented = [h.name for h in hps if not h.doc]
    assert not undocumented, f"{cls.name}: no Parameters entry for {undocumented}"
    assert repr(cls()).startswith(cls.__name__ + "(")


def test_torch_defaults_without_torch():
    # the torch comparison checks these against torch.optim itself where torch is installed
    assert AdamW().weight_decay == 0.01 and Adam().weight_decay == 0.0
    assert (NAdam().lr, NAdam().momentum_decay) == (2e-3, 4e-3)
    assert (Adadelta().lr, Adadelta().rho, Adadelta().eps) == (1.0, 0.9, 1e-6)
    assert (Adagrad().lr, Adagrad().eps) == (1e-2, 1e-10)
    assert (RMSprop().lr, RMSprop().alpha) == (1e-2, 0.99)
    assert (Lion().lr, Lion().betas, Lion().weight_decay) == (1e-4, (0.9, 0.99), 0.0)


def lion_paper(grad, start, steps, lr, beta1, beta2, wd):
    """Algorithm 2 of Chen et al. (2023), written as in the paper."""
    theta, m, out = start.copy(), np.zeros_like(start), []
    for _ in range(steps):
        g = grad(theta)
        c = beta1 * m + (1 - beta1) * g
        theta = theta - lr * (np.sign(c) + wd * theta)
        m = beta2 * m + (1 - beta2) * g
        out.append(theta)
    return np.array(out)


def lion_optax(grad, start, steps, lr, beta1, beta2, wd):
    """optax.lion = chain(scale_by_lion, add_decayed_weights, scale_by_learning_rate)."""
    params, mu, out = start.copy(), np.zeros_like(start), []
    for _ in range(steps):
        g = grad(params)
        updates = np.sign((1.0 - beta1) * g + beta1 * mu)
        mu = (1 - beta2) * g + beta2 * mu
        updates = updates + wd * params
        updates = -lr * updates
        params = params + updates
        out.append(params)
    return np.array(out)


@pytest.mark.parametrize("reference", [lion_paper, lion_optax])
@pytest.mark.parametrize(
    "lr, betas, wd", [(1e-4, (0.9, 0.99), 0.0), (0.01, (0.95, 0.98), 0.1), (3e-3, (0.0, 0.5), 1.0)]
)
def test_lion_matches_paper_and_optax(reference, lr, betas, wd):
    ours = np.array([p for p, _ in run(Lion(lr=lr, betas=betas, weight_decay=wd), bowl_grad, BOWL_START, 300)])
    # a + b == b + a and x - y == x + (-y) in IEEE arithmetic: the three agree bit for bit
    np.testing.assert_array_equal(ours, reference(bowl_grad, BOWL_START, 300, lr, *betas, wd))
