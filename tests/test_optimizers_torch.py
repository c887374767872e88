"""Trajectories of the first-order optimizers against torch.optim, step by step, in float64."""

from __future__ import annotations

import contextlib
import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from optikit.optimizers.base import hyperparameters  # noqa: E402
from optikit.optimizers.sgd import GD, SGD  # noqa: E402

try:  # tests/ as a package, or as a plain folder on sys.path
    from tests.optimizer_cases import TORCH_CASES, TORCH_NAMES, gradient_sign
except ModuleNotFoundError:
    from optimizer_cases import TORCH_CASES, TORCH_NAMES, gradient_sign

# Fit a * exp(-b * x) + c to eight points: smooth, three parameters, curvature that differs by
# direction and changes along the path.
X = np.linspace(0.0, 3.5, 8)
Y = 2.0 * np.exp(-1.3 * X) + 0.5 + 0.05 * np.sin(7.0 * X)
START = np.array([1.0, 0.5, 0.0])
STEPS = 100


def loss(p: np.ndarray) -> float:
    a, b, c = p
    return float(np.mean((a * np.exp(-b * X) + c - Y) ** 2))


def grad(p: np.ndarray) -> np.ndarray:
    a, b, c = p
    e = np.exp(-b * X)
    r2 = 2.0 * (a * e + c - Y)
    return np.array([np.mean(r2 * e), np.mean(-r2 * a * X * e), np.mean(r2)])


def test_gradient_matches_autograd():
    p = torch.tensor([1.3, 0.7, -0.2], dtype=torch.float64, requires_grad=True)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    torch.mean((p[0] * torch.exp(-p[1] * x) + p[2] - y) ** 2).backward()
    np.testing.assert_allclose(grad(p.detach().numpy()), p.grad.numpy(), rtol=1e-14, atol=1e-15)
    assert loss(p.detach().numpy()) > 0


@contextlib.contextmanager
def default_dtype(dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def trajectories(cls, kwargs, torch_name, torch_kwargs):
    sign = gradient_sign(kwargs)
    opt = cls(**kwargs)
    p, state = START.copy(), opt.init(START)
    tp = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([tp], **torch_kwargs)
    ours, theirs = [], []
    for _ in range(STEPS):
        step, state = opt.update(sign * grad(p), state, p)
        p = p + step
        tp.grad = torch.from_numpy(sign * grad(tp.detach().numpy().copy()))
        topt.step()
        ours.append(p)
        theirs.append(tp.detach().numpy().copy())
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize(
    "cls, kwargs, torch_name, torch_kwargs",
    [pytest.param(*case[1:], id=case[0]) for case in TORCH_CASES],
)
def test_trajectory_matches_torch(cls, kwargs, torch_name, torch_kwargs):
    # NAdam keeps its mu_product, ASGD its eta and mu, in torch's default dtype (float32 unless
    # changed), which moves the trajectory by ~1e-8; optikit keeps them in float64, as torch does here.
    with default_dtype(torch.float64 if torch_name in ("NAdam", "ASGD") else torch.get_default_dtype()):
        ours, theirs = trajectories(cls, kwargs, torch_name, torch_kwargs)
    assert np.abs(theirs[-1] - START).max() > 1e-2, "the case should move the parameters"
    for k in range(STEPS):
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-10, atol=1e-12, err_msg=f"step {k + 1}")


# optikit's gd/sgd default to lr=0.01; torch.optim.SGD (2.13) defaults to lr=1e-3.
KNOWN_DEFAULT_DIFFERENCES: set = set()


@pytest.mark.parametrize(
    "cls", sorted({case[1] for case in TORCH_CASES}, key=lambda c: c.name), ids=lambda c: c.name
)
def test_hyperparameters_named_and_defaulted_as_torch(cls):
    signature = inspect.signature(getattr(torch.optim, TORCH_NAMES[cls.name]).__init__).parameters
    for h in hyperparameters(cls):
        assert h.name in signature, f"{cls.name}.{h.name} is not a torch keyword"
        theirs = signature[h.name].default
        if (cls, h.name) in KNOWN_DEFAULT_DIFFERENCES:
            continue
        assert h.default == theirs and type(h.default) in (type(theirs), float), (cls.name, h.name)
    implementation_switches = {"self", "params", "foreach", "capturable", "differentiable", "fused"}
    assert set(signature) - implementation_switches == {h.name for h in hyperparameters(cls)}
