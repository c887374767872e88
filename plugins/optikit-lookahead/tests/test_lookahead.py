"""Tests of the lookahead plugin, with optikit's plugin testing kit."""

import numpy as np
import pytest

from optikit.plugins import Registry, plugin_manager
from optikit.testing import check_pure, check_state_finite, check_step, run_optimizer
from optikit_lookahead import Lookahead as _Lookahead

REGISTRY = Registry.build(plugin_manager())


def lookahead(**kwargs) -> _Lookahead:
    """A lookahead set up as optikit sets it up before a run: with the registry of the plugins."""
    opt = _Lookahead(**kwargs)
    opt.setup(REGISTRY)
    return opt


def test_two_steps_by_hand():
    opt = lookahead(inner="gd", k=2, alpha=0.5, lr=0.1)
    # step 1 is the inner gd step: -0.1 * g
    state = check_step(opt, grad=[1.0, -2.0], params=[0.0, 0.0], expected=[-0.1, 0.2])
    # step 2: fast = [-0.1, 0.2] - 0.1 * [1, 1] = [-0.2, 0.1]; slow = 0 + 0.5 * fast; step = slow - params
    check_step(opt, grad=[1.0, 1.0], params=[-0.1, 0.2], expected=[0.0, -0.15], state=state, atol=1e-15)


def test_converges_on_the_bowl_and_on_rosenbrock():
    assert run_optimizer(lookahead(inner="gd", lr=0.1), "bowl", steps=2000).converged
    run = run_optimizer(lookahead(inner="adam", lr=0.02, k=5, alpha=0.8), "rosenbrock", steps=20000, tol=1e-3)
    assert run.converged, run.final
    assert np.all(np.diff(run.losses[::50]) < 1.0)


def test_state_finite_and_update_pure():
    check_state_finite(lookahead(inner="adam", lr=0.01), "rosenbrock", steps=200)
    check_pure(lookahead(inner="gd", k=2, lr=0.01))


def test_passes_the_inner_requirements_on():
    opt = lookahead(inner="newton", k=3)
    assert "hessian" in opt.requires and opt.supports_bounds is False
    assert run_optimizer(opt, "rosenbrock", steps=500, tol=1e-6).converged


@pytest.mark.parametrize("kwargs, word", [({"k": 0}, "k"), ({"alpha": 0.0}, "alpha"),
                                          ({"inner": "nope"}, "nope"), ({"inner": "lookahead"}, "itself")])
def test_bad_hyperparameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        lookahead(**kwargs)


def test_init_before_setup_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"setup\(registry\) was not called"):
        _Lookahead(inner="gd").init(np.zeros(2))
