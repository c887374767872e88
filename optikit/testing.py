"""Helpers for testing an optimizer, for plugin authors and optikit's own tests.

Everything here drives ``init``/``update`` directly on small objectives with exact derivatives,
without a spec or the engine, so a failing check points at the update rule::

    from optikit.testing import check_pure, check_state_finite, check_step, run_optimizer

    def test_converges():
        assert run_optimizer(SignGD(lr=0.001), "bowl", steps=3000, tol=1e-2).converged

Each ``check_*`` raises ``AssertionError`` with a message saying what went wrong.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .optimizers.base import Optimizer

__all__ = ["Objective", "BOWL", "ROSENBROCK", "objective", "Trajectory", "run_optimizer",
           "check_state_finite", "check_pure", "check_step"]


@dataclass(frozen=True)
class Objective:
    """A least-squares test function with exact derivatives; also the ``oracle`` of ``update``.

    ``loss(x) == mean(residuals(x)**2)``, so optimizers that require ``"loss"``, ``"hessian"``
    or ``"residuals"`` can be tested too.
    """

    name: str
    start: np.ndarray
    minimum: np.ndarray
    kind: str

    def residuals(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.kind == "bowl":  # 0.5 * (x0**2 + 10 * x1**2)
            return np.sqrt(np.array([1.0, 10.0])) * x
        return np.sqrt(2.0) * np.array([1.0 - x[0], 10.0 * (x[1] - x[0] ** 2)])

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.kind == "bowl":
            return np.diag(np.sqrt([1.0, 10.0]))
        return np.sqrt(2.0) * np.array([[-1.0, 0.0], [-20.0 * x[0], 10.0]])

    def loss(self, x: np.ndarray) -> float:
        return float(np.mean(self.residuals(x) ** 2))

    def grad(self, x: np.ndarray) -> np.ndarray:
        r, j = self.residuals(x), self.jacobian(x)
        return 2.0 * j.T @ r / len(r)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.kind == "bowl":
            return np.diag([1.0, 10.0])
        return np.array([[2.0 - 400.0 * (x[1] - 3.0 * x[0] ** 2), -400.0 * x[0]], [-400.0 * x[0], 200.0]])


#: ``0.5 * (x**2 + 10 * y**2)`` from ``(1, 1)``; minimum 0 at the origin (condition number 10).
BOWL = Objective("bowl", np.array([1.0, 1.0]), np.array([0.0, 0.0]), "bowl")
#: ``(1 - x)**2 + 100 * (y - x**2)**2`` from ``(-1.2, 1)``; minimum 0 at ``(1, 1)``.
ROSENBROCK = Objective("rosenbrock", np.array([-1.2, 1.0]), np.array([1.0, 1.0]), "rosenbrock")


def objective(which: str | Objective) -> Objective:
    """``"bowl"``, ``"rosenbrock"`` or an :class:`Objective` itself."""
    if isinstance(which, Objective):
        return which
    table = {"bowl": BOWL, "quadratic": BOWL, "rosenbrock": ROSENBROCK}
    if which not in table:
        raise ValueError(f"unknown test objective {which!r}; choose from {sorted(table)}")
    return table[which]


@dataclass(frozen=True)
class Trajectory:
    """Iterates of one test run: ``points[0]`` is the start; ``converged`` within the budget."""

    points: np.ndarray
    losses: np.ndarray
    converged: bool
    steps: int

    @property
    def final(self) -> np.ndarray:
        return self.points[-1]


def run_optimizer(optimizer: Optimizer, which: str | Objective = "bowl", *, steps: int = 5000,
                  tol: float = 1e-4, start: Sequence[float] | None = None) -> Trajectory:
    """Run ``optimizer`` on a test objective for at most ``steps`` updates.

    Converged means every coordinate is within ``tol`` of the minimum; the run stops there, or
    at the first non-finite iterate (then ``converged`` is ``False``).
    """
    f = objective(which)
    x = np.array(f.start if start is None else start, dtype=float)
    state = optimizer.init(x.copy())
    needs = bool(getattr(optimizer, "requires", ()))
    points, losses = [x.copy()], [f.loss(x)]
    converged = bool(np.max(np.abs(x - f.minimum)) <= tol)
    taken = 0
    with np.errstate(all="ignore"):
        while not converged and taken < steps:
            delta, state = optimizer.update(f.grad(x), state, x.copy(), f if needs else None)
            x = x + np.asarray(delta, dtype=float)
            taken += 1
            points.append(x.copy())
            losses.append(f.loss(x))
            if not np.all(np.isfinite(x)):
                break
            converged = bool(np.max(np.abs(x - f.minimum)) <= tol)
    return Trajectory(np.array(points), np.array(losses), converged, taken)


def _leaves(state: Any, path: str = "state") -> Iterator[tuple[str, Any]]:
    if hasattr(state, "_fields"):
        for name, value in zip(state._fields, state):
            yield from _leaves(value, f"{path}.{name}")
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            yield from _leaves(value, f"{path}[{i}]")
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from _leaves(value, f"{path}[{key!r}]")
    else:
        yield path, state


def check_state_finite(optimizer: Optimizer, which: str | Objective = "bowl", *, steps: int = 50) -> None:
    """Assert that every number in the state (and every step) stays finite for ``steps`` updates."""
    f = objective(which)
    x = f.start.copy()
    state = optimizer.init(x.copy())
    needs = bool(getattr(optimizer, "requires", ()))
    for i in range(steps + 1):
        for path, leaf in _leaves(state):
            if isinstance(leaf, (int, float, np.ndarray, np.number)) and not np.all(np.isfinite(leaf)):
                raise AssertionError(f"{path} is not finite after {i} updates on {f.name}: {leaf!r}")
        if i == steps:
            return
        delta, state = optimizer.update(f.grad(x), state, x.copy(), f if needs else None)
        if not np.all(np.isfinite(delta)):
            raise AssertionError(f"update {i} on {f.name} returned a non-finite step: {delta!r}")
        x = x + delta


def _same(a: Any, b: Any) -> bool:
    la, lb = list(_leaves(a)), list(_leaves(b))
    return len(la) == len(lb) and all(pa == pb and np.array_equal(va, vb, equal_nan=True)
                                      if isinstance(va, np.ndarray) else pa == pb and (va == vb or va is vb)
                                      for (pa, va), (pb, vb) in zip(la, lb))


def check_pure(optimizer: Optimizer, which: str | Objective = "bowl", *, steps: int = 5) -> None:
    """Assert that ``update`` mutates none of its inputs and gives the same answer when repeated."""
    f = objective(which)
    x = f.start.copy()
    state = optimizer.init(x.copy())
    needs = bool(getattr(optimizer, "requires", ()))
    for i in range(steps):
        g = f.grad(x)
        kept = (g.copy(), x.copy(), copy.deepcopy(state))
        delta, new_state = optimizer.update(g, state, x, f if needs else None)
        for name, before, after in (("grad", kept[0], g), ("params", kept[1], x)):
            if not np.array_equal(before, after):
                raise AssertionError(f"update {i} changed its {name} argument: {before!r} -> {after!r}")
        if not _same(kept[2], state):
            raise AssertionError(f"update {i} changed the state it was given (return a new state instead)")
        again, _ = optimizer.update(g, copy.deepcopy(kept[2]), x.copy(), f if needs else None)
        if not np.array_equal(np.asarray(delta), np.asarray(again)):
            raise AssertionError(f"update {i} gave a different step for the same inputs: {delta!r} vs {again!r}")
        x, state = x + delta, new_state


def check_step(optimizer: Optimizer, grad: Sequence[float], params: Sequence[float], expected: Sequence[float],
               *, state: Any = None, oracle: Any = None, rtol: float = 1e-12, atol: float = 0.0) -> Any:
    """Assert one ``update`` from ``state`` (default: ``init(params)``) returns the step ``expected``.

    Returns the new state, so that a test can check a second step by hand too.
    """
    p = np.array(params, dtype=float)
    state = optimizer.init(p.copy()) if state is None else state
    delta, new_state = optimizer.update(np.array(grad, dtype=float), state, p, oracle)
    if not np.allclose(delta, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"step {np.asarray(delta).tolist()} differs from the hand computation "
                             f"{list(expected)} (rtol={rtol}, atol={atol})")
    return new_state
