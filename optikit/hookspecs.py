"""Every hook optikit calls. Built-in optimizers, losses and schedules use these same hooks.

A plugin is a module or object with functions decorated ``@optikit.hookimpl`` and named after
the hooks below; it is loaded from the ``optikit`` entry-point group of an installed package,
from ``-p module`` / ``-p path/to/file.py`` on the command line, or from ``OPTIKIT_PLUGINS``.
Unless a hook says otherwise, every implementation is called and the results are collected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from .engine import EpochRecord, Result
    from .optimizers.base import Optimizer
    from .spec import Spec
    from .symbolic import Problem

PROJECT = "optikit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def optikit_register_optimizers(register: Callable[[type], None]) -> None:
    """Register optimizer classes: call ``register(cls)`` once per class.

    Called once per plugin manager, when the registry is first built (before any spec is
    compiled). ``cls`` must subclass :class:`optikit.Optimizer` and set a unique ``name``; its
    constructor keywords are the hyperparameters a spec's ``optimizer`` section may set. A name
    registered twice is a :class:`~optikit.errors.PluginError` naming both plugins. The return
    value is ignored.
    """


@hookspec
def optikit_register_losses(register: Callable[..., None]) -> None:
    """Register named per-sample losses: ``register(name, expression, doc="")``.

    Called once when the registry is built. ``expression`` is optikit expression text in the
    symbols ``model`` (the prediction) and ``target`` (the target column), e.g.
    ``"(model - target)**2"``; the batch loss is its mean. A spec selects it with
    ``loss: name``. Duplicate names are a ``PluginError``. The return value is ignored.
    """


@hookspec
def optikit_register_schedules(register: Callable[[str, Callable[..., Callable[[int], float]]], None]) -> None:
    """Register learning-rate schedules: ``register(name, factory)``.

    Called once when the registry is built. ``factory(total, **keywords)`` receives the run's
    epoch limit (or ``None``) and the spec's ``optimizer.schedule`` keywords, and returns
    ``factor(epoch) -> float``, the multiplier of every step taken in that 0-based epoch.
    Duplicate names are a ``PluginError``. The return value is ignored.
    """


@hookspec
def optikit_run_start(spec: Spec, problem: Problem, optimizer: Optimizer) -> None:
    """Called once before the first step of a run, with the spec, the compiled problem and the
    optimizer instance. The return value is ignored."""


@hookspec
def optikit_epoch_end(record: EpochRecord) -> bool | None:
    """Called after every epoch with its :class:`~optikit.engine.EpochRecord` (``epoch``,
    ``step``, ``loss`` at the start of the epoch, ``parameters`` after it, as a dict).

    Return ``True`` to stop the run after this epoch (its stop reason is then ``"callback"``);
    ``None`` or ``False`` to go on. Every implementation is called.
    """


@hookspec
def optikit_run_end(result: Result) -> None:
    """Called once when a run ends normally, with its :class:`~optikit.engine.Result`.
    The return value is ignored."""


__all__ = ["hookspec", "hookimpl", "PROJECT"] + [name for name in dir() if name.startswith("optikit_")]
