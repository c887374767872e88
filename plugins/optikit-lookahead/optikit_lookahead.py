"""Lookahead (Zhang et al., 2019): k fast steps of an inner optimizer, then a pull of slow weights.

An optikit plugin: the ``optikit`` entry point of this package names this module, whose
``optikit_register_optimizers`` hook registers :class:`Lookahead` as ``lookahead``. The inner
optimizer is looked up in ``setup(registry)``, which optikit calls with the run's registry, so
any optimizer of the run can be wrapped, one loaded with ``-p`` included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

import optikit

if TYPE_CHECKING:
    from optikit.plugins import Registry

__version__ = "0.1.0"


class LookaheadState(NamedTuple):
    inner: Any
    slow: np.ndarray
    count: int


class Lookahead(optikit.Optimizer):
    """Lookahead: every ``k`` steps of the inner optimizer, move ``alpha`` of the way from the slow weights.

    Parameters
    ----------
    inner : str
        Name of the inner optimizer: any registered one except lookahead itself.
    k : int
        Number of inner (fast) steps between two slow-weight updates.
    alpha : float
        Fraction of the way the slow weights move towards the fast ones, in (0, 1].
    lr : float
        Learning rate of the inner optimizer (default: the inner optimizer's own).
    """

    name = "lookahead"

    def __init__(self, inner: str = "gd", k: int = 5, alpha: float = 0.5, lr: float | None = None) -> None:
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if inner == self.name:
            raise ValueError("inner: lookahead cannot wrap itself")
        self.k, self.alpha, self.lr = k, alpha, lr
        self.inner = inner
        self._inner: optikit.Optimizer | None = None

    def setup(self, registry: Registry) -> None:
        """Build the inner optimizer from the run's registry (optikit calls this before the run)."""
        entry = registry.optimizers.get(self.inner)
        if entry is None:
            raise ValueError(f"inner: unknown inner optimizer {self.inner!r}; "
                             f"registered: {', '.join(sorted(registry.optimizers))}")
        inner = entry.obj(**({} if self.lr is None else {"lr": self.lr}))
        inner.setup(registry)
        self._inner = inner
        # the engine reads these from the outer optimizer: pass the inner one's needs on
        self.requires = inner.requires
        self.supports_bounds = inner.supports_bounds

    def init(self, params: np.ndarray) -> LookaheadState:
        if self._inner is None:
            raise RuntimeError("Lookahead.setup(registry) was not called; optikit calls it before a run, "
                               "call it yourself outside one")
        return LookaheadState(self._inner.init(params.copy()), np.array(params, dtype=float), 0)

    def update(self, grad: np.ndarray, state: LookaheadState, params: np.ndarray,
               oracle: optikit.Oracle | None = None) -> tuple[np.ndarray, LookaheadState]:
        delta, inner = self._inner.update(grad, state.inner, params, oracle)
        count = state.count + 1
        if count % self.k:
            return np.asarray(delta, dtype=float), LookaheadState(inner, state.slow, count)
        fast = params + delta
        slow = state.slow + self.alpha * (fast - state.slow)
        return slow - params, LookaheadState(inner, slow, count)


@optikit.hookimpl
def optikit_register_optimizers(register) -> None:
    register(Lookahead)
