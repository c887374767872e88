"""Local SGD on a cluster (``sync_every: k``): each partition takes ``k`` steps of the spec's
optimizer on mini-batches of its own rows, then the client averages the parameters (weighted by
the partitions' rows) and every partition goes on from the average.

The engine drives it as a full-batch method: one of its steps is one epoch of rounds (enough
rounds for the largest partition to see its rows once), so records, stopping and progress work
as in any run. Each partition's optimizer state and random stream stay on the worker that holds
its rows, as a Dask future chained from round to round: a lost worker's chain is recomputed, and
a seeded run repeats exactly for the same partitions (files, or one scattered chunk per worker).
"""

from __future__ import annotations

import operator
import secrets
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import SpecError
from .evaluator import ClusterEvaluator
from .worker import ProblemText, _evaluator

__all__ = ["LocalSGD", "local_sgd"]


def local_steps(text: ProblemText, columns: Any, carried: Any, params: np.ndarray, optimizer: Any,
                batch_size: int, steps: int, seed: tuple[int, int]) -> tuple[np.ndarray, Any, dict, np.ndarray, int]:
    """``steps`` updates of ``optimizer`` from ``params`` on batches of this partition's rows,
    each epoch of them a new permutation; returns what the next round carries on."""
    evaluator = _evaluator(text, columns)
    n = evaluator.n_rows
    if carried is None:
        rng = np.random.default_rng(seed)
        state, order, at = optimizer.init(params.copy()), rng.permutation(n), 0
    else:
        _, state, rng_state, order, at = carried
        rng = np.random.default_rng()
        rng.bit_generator.state = rng_state
    p = params.copy()
    with np.errstate(all="ignore"):  # a step that leaves the domain shows in the averaged loss
        for _ in range(steps):
            if at >= n:
                order, at = rng.permutation(n), 0
            rows = order[at:at + batch_size]
            at += batch_size
            part = evaluator.sums(p, rows, loss=False)
            delta, state = optimizer.update(part.grad / part.n, state, p, None)
            p = p + np.asarray(delta, dtype=float)
    return p, state, rng.bit_generator.state, order, at


@dataclass(frozen=True)
class LocalState:
    """The client's side of the state: the averagings done so far."""

    rounds: int = 0


class LocalSGD:
    """The spec's optimizer run as local SGD over a :class:`ClusterEvaluator`'s partitions."""

    batch_size = None
    requires: frozenset = frozenset()
    supports_bounds = True

    def __init__(self, inner: Any, evaluator: ClusterEvaluator, batch_size: int, sync_every: int, seed: int) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.evaluator = evaluator
        self.batch_size_local = batch_size
        self.sync_every = sync_every
        self.seed = seed
        sizes = np.diff(evaluator.offsets)
        self.weights = sizes / sizes.sum()
        #: rounds per epoch: the largest partition sees its rows once
        self.rounds = -(-int(-(-sizes.max() // batch_size)) // sync_every)
        self._carried: list[Any] | None = None

    def init(self, params: np.ndarray) -> LocalState:
        self._carried = None
        return LocalState()

    def update(self, grad: np.ndarray, state: LocalState, params: np.ndarray,
               oracle: Any = None) -> tuple[np.ndarray, LocalState]:
        ev = self.evaluator
        client = ev.session.client
        p = np.array(params, dtype=float)
        carried = self._carried or [None] * len(ev.partitions)
        for _ in range(self.rounds):
            carried = [client.submit(local_steps, ev.text, part, c, p, self.inner, self.batch_size_local,
                                     self.sync_every, (self.seed, i), pure=False)
                       for i, (part, c) in enumerate(zip(ev.partitions, carried))]
            ends = client.gather([client.submit(operator.itemgetter(0), c, pure=False) for c in carried])
            p = np.zeros_like(p)
            for w, end in zip(self.weights, ends):  # in partition order: the same sum whichever worker answers first
                p = p + w * end
        self._carried = carried
        return p - np.asarray(params, dtype=float), LocalState(state.rounds + self.rounds)


def local_sgd(problem: Any, optimizer: Any, settings: Any) -> tuple[LocalSGD, Any]:
    """``optimizer`` as local SGD over ``problem``'s partitions, and the engine settings that drive it."""
    if settings.batch_size is None or getattr(optimizer, "requires", frozenset()):
        name = getattr(optimizer, "name", "?")
        raise SpecError(f"sync_every is for optimizers that step on mini-batches with the gradient alone; {name!r} "
                        "does not (set a batch_size, or leave sync_every out)", field="optimizer.sync_every")
    problem.evaluator.batches(settings.batch_size, None)  # refused on files the workers stream
    seed = settings.seed if settings.seed is not None else secrets.randbits(63)
    wrapped = LocalSGD(optimizer, problem.evaluator, settings.batch_size, settings.sync_every, seed)
    return wrapped, replace(settings, batch_size=None, seed=seed)
