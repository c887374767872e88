"""The training loop: batches, updates, stopping, history, divergence checks and callbacks.

One epoch is one pass over the data; a step is one optimizer update (one per epoch on the full
batch). Each epoch's record holds the full-data loss *before* its steps and the parameters
*after* them, the way the hand-written loop this project grew from prints them.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..backends import Problem
from ..errors import DivergenceError, PluginError, RunError, SpecError, counted
from .bounds import BoundTransform, TransformedOracle
from .checkpoint import RunControl, RunState
from .fused import fused_epochs
from .records import EpochRecord, History, Result
from ..optimizers.base import Optimizer
from ..settings import RunSettings

__all__ = ["Settings", "run_problem"]



@dataclass(frozen=True, kw_only=True)
class Settings(RunSettings):
    """The run settings as the engine uses them: the batch size resolved against the optimizer's
    default, the schedule a function ``factor(epoch)``."""

    schedule: Callable[[int], float] | None = None

    @classmethod
    def from_spec(cls, opt: RunSettings, optimizer: Optimizer, schedule: Callable[[int], float] | None) -> Settings:
        batch = opt.batch_size if opt.batch_size is not None else type(optimizer).batch_size
        values = {**opt.values(), "batch_size": batch, "schedule": schedule}
        cap = getattr(type(optimizer), "default_epochs", None)
        if cap is not None and not getattr(opt, "length_given", True):
            values["epochs"] = cap  # a method that knows when it has converged runs until then
        return cls(**values)


def _contract(optimizer: Optimizer, message: str) -> PluginError:
    name = getattr(optimizer, "name", type(optimizer).__name__)
    return PluginError(f"optimizer {name!r}: {message}", optimizer=name)


def _checked_state(optimizer: Optimizer, state: Any) -> Any:
    """``init``'s state; None is a forgotten ``return``, refused before the first step."""
    if state is None:
        raise _contract(optimizer, "init() returned None; it must return the optimizer's state "
                                   "(optikit.EmptyState() if it keeps none)")
    return state


def _checked_update(optimizer: Optimizer, out: Any, p: np.ndarray) -> tuple[np.ndarray, Any]:
    """``update``'s ``(step, state)``, refused before it moves the parameters when it has the wrong form.

    Cheap on purpose (it runs every step): a two-item pair, a numeric step of the parameters'
    shape. A step that is not finite is left to the divergence check.
    """
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = (f"an array of shape {np.shape(out)}" if isinstance(out, np.ndarray) else
               f"a {type(out).__name__} of {counted(len(out), 'item')}" if isinstance(out, (tuple, list)) else
               f"a {type(out).__name__}")
        raise _contract(optimizer, f"update() must return (step, state), a pair; it returned {got}")
    step = np.asarray(out[0]) if not isinstance(out[0], np.ndarray) else out[0]
    if step.dtype.kind not in "iuf":
        raise _contract(optimizer, f"update() must return a step of numbers, one per parameter; its step has "
                                   f"dtype {step.dtype}")
    if step.shape != p.shape:
        raise _contract(optimizer, f"update() must return a step of shape {p.shape}, one entry per parameter; "
                                   f"its step has shape {step.shape}")
    return step, out[1]


def _named(names: tuple[str, ...], p: np.ndarray) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, p)}


def run_problem(
    problem: Problem,
    optimizer: Optimizer,
    settings: Settings,
    *,
    callbacks: Iterable[Callable[[EpochRecord], bool | None]] = (),
    params: np.ndarray | None = None,
    control: RunControl | None = None,
) -> Result:
    """Run ``optimizer`` on ``problem`` until a stopping criterion holds; return the :class:`Result`.

    ``callbacks`` are called after each epoch with its record; one returning ``True`` stops the
    run. Raises :class:`DivergenceError` the first time the loss, the gradient or a parameter is
    not finite; the error's ``result`` holds the history up to the last finite epoch.
    ``control`` (:class:`~optikit.engine.checkpoint.RunControl`) resumes, checkpoints, skips
    non-finite steps and stops on interruption; it never changes the arithmetic.
    """
    control = control if control is not None else RunControl()
    names = problem.parameter_names
    evaluator = problem.evaluator
    lo, hi = problem.lower, problem.upper
    bounded = bool(np.isfinite(lo).any() or np.isfinite(hi).any())
    p = np.array(problem.initial if params is None else params, dtype=float)
    if not settings.stops():
        raise SpecError("the run has no stopping criterion; set optimizer.epochs or optimizer.steps",
                        field="optimizer")
    seed = settings.seed if settings.seed is not None else secrets.randbits(63)
    rng = np.random.default_rng(seed)
    n = problem.n_rows
    batch_size = settings.batch_size
    full_batch = batch_size is None or batch_size >= n
    requires = frozenset(getattr(optimizer, "requires", ()))
    converged = getattr(optimizer, "converged", None)  # plugins written to the protocol may lack it
    history = History(names)
    # methods a projection would break run in MINUIT's internal coordinates u (see bounds.py)
    transform = BoundTransform(lo, hi) if bounded and not getattr(optimizer, "supports_bounds", True) else None
    u = transform.internal(p) if transform is not None else p
    state = _checked_state(optimizer, optimizer.init(u.copy()))
    # a whole epoch in compiled code where the backend and the optimizer allow (not in internal coordinates)
    fused = (fused_epochs(problem, optimizer, batch_size, settings.shuffle, requires, control)
             if transform is None else None)
    step = 0
    epoch = 0
    start = time.perf_counter()
    prev_loss: float | None = None
    initial_loss: float | None = None
    reason = "epochs"
    on_step = control.on_step
    if control.resume is not None:  # continue a checkpointed run exactly where it stopped
        p, state, step, epoch, prev_loss, initial_loss, seed, start = control.resume.unpack(state, rng, history, start)
        u = transform.internal(p) if transform is not None else p

    def result(final_loss: float) -> Result:
        return Result(problem.name, getattr(optimizer, "name", type(optimizer).__name__), _named(names, p), final_loss,
                      initial_loss if initial_loss is not None else final_loss, history, len(history), step, reason,
                      seed if not full_batch else settings.seed, time.perf_counter() - start)

    def diverged(what: str, value: Any, at: np.ndarray) -> DivergenceError:
        nonlocal reason
        reason = "diverged"
        hint = ("lower the learning rate (optimizer.lr) or check the model's domain" if step else
                "it is not finite at the initial parameters: check the model's domain (log or sqrt of a "
                "negative number, overflow of exp) and the initial values")
        return DivergenceError(f"the {what} is not finite ({value}){control.note()}", epoch=epoch, step=step,
                               parameters=_named(names, at), what=what, hint=hint, result=result(float("nan")))

    with np.errstate(all="ignore"):  # non-finite values are detected and reported below
        while True:
            if control.active:
                control.boundary(RunState(p.copy(), state, rng.bit_generator.state, seed, epoch, step, prev_loss,
                                          initial_loss, history.records, len(history), time.perf_counter() - start))
            if control.interrupted:
                reason = "interrupted"
                break
            if settings.epochs is not None and epoch >= settings.epochs:
                reason = "epochs"
                break
            if settings.steps is not None and step >= settings.steps:
                reason = "steps"
                break
            # one pass gives the epoch's loss and, when the step or gtol needs it, the full gradient
            total = evaluator.sums(p, loss=True, grad=full_batch or settings.gtol is not None)
            epoch_loss = total.loss / total.n
            grad = total.grad / total.n if total.grad is not None else None
            if not np.isfinite(epoch_loss) and not control.skip("loss"):
                raise diverged("loss", epoch_loss, p)
            if initial_loss is None:
                initial_loss = epoch_loss
            validation_loss = problem.validation_loss(p)  # held-out rows, at the same parameters
            if settings.gtol is not None and float(np.max(np.abs(grad), initial=0.0)) <= settings.gtol:
                reason = "gtol"
                break
            factor = settings.schedule(epoch) if settings.schedule is not None else 1.0
            done = None
            if fused is not None:  # the whole epoch in compiled code; None: step through it below
                done = fused(p, state, rng, factor, settings.steps - step if settings.steps is not None else n, step)
            if done is not None:
                p, state, step = done[0], done[1], step + done[2]
                u = p  # fused only without internal coordinates: a later replayed epoch steps from here
            for rows in (() if done is not None else problem.batches(None if full_batch else batch_size, rng, settings.shuffle)):
                if settings.steps is not None and step >= settings.steps:
                    break
                if full_batch:  # one step per epoch, with the gradient of the epoch's pass
                    g = grad
                else:
                    part = evaluator.sums(p, rows, loss=False)
                    g = part.grad / part.n
                if not np.isfinite(g).all():
                    if control.skip("gradient"):
                        continue
                    raise diverged("gradient", g.tolist(), p)
                oracle = problem.oracle(rows) if requires else None
                if transform is not None:
                    g = transform.derivatives(u)[0] * g
                    oracle = TransformedOracle(oracle, transform) if oracle is not None else None
                try:
                    delta, new_state = _checked_update(optimizer, optimizer.update(g, state, u, oracle), p)
                except (DivergenceError, SpecError, PluginError):
                    raise
                except Exception as exc:
                    raise RunError(f"optimizer {getattr(optimizer, 'name', '?')!r} failed at epoch {epoch} "
                                   f"(step {step}): {type(exc).__name__}: {exc}") from exc
                new_u = u + (delta if factor == 1.0 else factor * np.asarray(delta))
                if transform is not None:
                    new = transform.params(new_u)
                else:
                    new = np.clip(new_u, lo, hi) if bounded else new_u
                    new_u = new
                if not np.isfinite(new).all():
                    if control.skip("parameter vector"):
                        continue  # keep the parameters and the optimizer's state
                    raise diverged("parameter vector", new.tolist(), p)
                p, u, state = new, new_u, new_state
                step += 1
                if on_step is not None:
                    on_step(step)
                if control.interrupted:
                    break
            if control.interrupted and not full_batch:  # stopped mid-epoch: no record for a partial epoch
                reason = "interrupted"
                break
            record = EpochRecord(epoch, step, float(epoch_loss), _named(names, p), validation_loss)
            history.records.append(record)
            epoch += 1
            stop = [bool(cb(record)) for cb in callbacks]
            if any(stop):
                reason = "callback"
                break
            if converged is not None and converged(state):
                reason = "converged"
                break
            if settings.tol is not None and prev_loss is not None and abs(prev_loss - epoch_loss) <= settings.tol:
                reason = "tol"
                break
            prev_loss = epoch_loss
            if settings.max_time is not None and time.perf_counter() - start >= settings.max_time:
                reason = "max_time"
                break
        # asked as each epoch's pass asks: the same expressions, so no other group is compiled for it
        last = evaluator.sums(p, grad=full_batch or settings.gtol is not None)
        final = last.loss / last.n
    if not np.isfinite(final):
        raise diverged("loss", final, p)
    return result(float(final))
