"""Every hook optikit calls. Built-in optimizers, losses and schedules use these same hooks.

A plugin is a module (or object) with functions decorated ``@optikit.hookimpl`` and named after
the hooks below. It is loaded from the ``optikit`` entry-point group of an installed package,
from ``-p module`` / ``-p path/to/file.py`` on the command line, or from ``OPTIKIT_PLUGINS``;
never from a spec file. An implementation may accept any subset of a hook's arguments, by
name (pluggy passes only those it names); naming an argument the hook lacks is a
``PluginError``. No hook is ``firstresult``: every implementation is called, the most recently
registered plugin first, and the results are collected. The ``optikit_register_*`` hooks are
called one plugin at a time, so that everything registered names its plugin, and what an
implementation returns is registered too: ``def optikit_register_losses(): return {...}``. A user's guide with a tutorial is
``docs/plugins.md``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable, Mapping

import pluggy

if TYPE_CHECKING:
    from .engine import EpochRecord, Result
    from .optimizers.base import Optimizer
    from .spec import Spec
    from .backends import Problem

PROJECT = "optikit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def optikit_register_optimizers(register: Callable[[type], None]) -> type | list[type] | None:
    """Register optimizer classes: call ``register(cls)`` once per class, or return them.

    When: once per plugin manager, when its registry is built (before any spec is compiled).
    Arguments: ``register(cls)``; ``cls`` must be a subclass (not an instance) of
    :class:`optikit.Optimizer` that sets a unique ``name`` and overrides ``init`` and ``update``.
    Its constructor keywords are the hyperparameters a spec's ``optimizer`` section may set.
    An implementation that takes no arguments returns what it registers instead.
    Return: ``None``, a class, or a list of classes, registered like ``register(cls)``.
    A name registered twice, or anything that is not an optimizer class, is a
    :class:`~optikit.errors.PluginError` naming the plugin(s).
    """


@hookspec
def optikit_register_losses(register: Callable[..., None]) -> Mapping[str, str] | list[tuple[str, ...]] | None:
    """Register named per-sample losses: ``register(name, expression, doc="")``, or return them.

    When: once, when the registry is built. Arguments: ``expression`` is optikit expression
    text in the symbols ``model`` (the prediction) and ``target`` (the target column), e.g.
    ``"(model - target)**2"``; the batch loss is its mean. A spec selects it with
    ``loss: name``. Return: ``None``, a mapping ``{name: expression}``, or a list of
    ``(name, expression)`` / ``(name, expression, doc)`` tuples, registered like ``register``.
    A duplicate name is a ``PluginError`` naming both plugins.
    """


@hookspec
def optikit_register_schedules(
    register: Callable[[str, Callable[..., Callable[[int], float]]], None],
) -> Mapping[str, Callable[..., Callable[[int], float]]] | list[tuple[str, Callable[..., Any]]] | None:
    """Register learning-rate schedules: ``register(name, factory)``, or return them.

    When: once, when the registry is built. Arguments: ``factory(total, **keywords)`` receives
    the run's epoch limit (or ``None``) and the spec's ``optimizer.schedule`` keywords, and
    returns ``factor(epoch) -> float``, the multiplier of every step taken in that 0-based
    epoch. Return: ``None``, a mapping ``{name: factory}``, or a list of ``(name, factory)``
    tuples, registered like ``register``. A duplicate name is a ``PluginError`` naming both plugins.
    """


@hookspec
def optikit_register_backends(register: Callable[[type], None]) -> type | list[type] | None:
    """Register evaluation backends: call ``register(cls)`` once per class, or return them.

    When: once, when the registry is built. Arguments: ``register(cls)``; ``cls`` is a class
    (not an instance), usually a subclass of :class:`optikit.backends.Backend`, with a unique
    non-empty string ``name`` (what ``--backend`` and ``optikit.run(..., backend=)`` select) and
    a callable ``compile(problem, source)`` that returns an :class:`~optikit.backends.Evaluator`
    of partial sums over rows for a :class:`~optikit.symbolic.SymbolicProblem` and a data
    source. The built-in ``numpy`` backend registers through this hook like any other. Return: ``None``, a class, or a list of classes,
    registered like ``register(cls)``. A name registered twice, or a class without ``name`` or
    ``compile``, is a ``PluginError`` naming the plugin(s).
    """


@hookspec
def optikit_add_options(parser: argparse._ArgumentGroup) -> None:
    """Add command-line options to ``optikit run``: call ``parser.add_argument(...)``.

    When: once per ``optikit`` command, after plugins are loaded and before the command line
    is parsed (so ``optikit run --help`` shows them). Arguments: ``parser`` is the "plugin
    options" group of the ``run`` subcommand. Use long, prefixed names (``--earlystop-patience``)
    and defaults of ``None``; the parsed values reach :func:`optikit_run_start` as ``options``.
    Return: ignored. An option that clashes with another is a ``PluginError`` naming the plugin.
    """


@hookspec
def optikit_run_start(spec: Spec, problem: Problem, optimizer: Optimizer, options: Mapping[str, Any]) -> None:
    """Called once before the first step of a run.

    Arguments: the :class:`~optikit.spec.Spec`, the compiled :class:`~optikit.backends.Problem`,
    the optimizer instance, and ``options``: the parsed command-line options as a dict
    (``{"earlystop_patience": 5, ...}``; every ``run`` option, the plugins' included) or, from
    Python, the ``options=`` mapping given to ``optikit.run``/``optikit.prepare`` (empty if
    none). Return: ignored. An exception ends the run with a ``RunError`` naming the plugin.
    """


@hookspec
def optikit_epoch_end(record: EpochRecord) -> bool | None:
    """Called after every epoch with its :class:`~optikit.engine.EpochRecord`.

    Arguments: ``record`` has ``epoch``, ``step`` (steps so far), ``loss`` (full-data loss at
    the start of the epoch) and ``parameters`` (after the epoch, a dict by name).
    Return: ``True`` to stop the run after this epoch (its stop reason is then ``"callback"``);
    ``None`` or ``False`` to go on. Every implementation is called; any ``True`` stops.
    """


@hookspec
def optikit_run_end(result: Result) -> None:
    """Called once when a run ends normally (not on a ``DivergenceError`` or ``RunError``).

    Arguments: the run's :class:`~optikit.engine.Result`. Return: ignored.
    """


#: Names of every hook, in the order they are documented.
HOOKS = tuple(name for name in list(globals()) if name.startswith("optikit_"))

__all__ = ["hookspec", "hookimpl", "PROJECT", "HOOKS", *HOOKS]
