"""The plugin manager: built-ins, installed entry points, and ``-p`` modules or files.

Each run gets a fresh :func:`plugin_manager`; :class:`Registry` asks every plugin what it
registers and remembers which plugin each optimizer, loss and schedule came from.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs
from .errors import PluginError
from .optimizers.base import Optimizer, REQUIREMENTS

__all__ = ["plugin_manager", "Registry", "Entry", "BUILTIN_PLUGINS", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "optikit"
BUILTIN_PLUGINS = (
    "optikit.optimizers",
    "optikit.losses",
    "optikit.schedules",
)
#: Environment variables: extra plugins (comma-separated, like ``-p``), and a switch that turns
#: entry-point loading off.
ENV_PLUGINS = "OPTIKIT_PLUGINS"
ENV_NO_AUTOLOAD = "OPTIKIT_DISABLE_PLUGIN_AUTOLOAD"


def plugin_manager(plugins: Iterable[str] = (), *, autoload: bool | None = None) -> pluggy.PluginManager:
    """A new manager with the built-ins, installed entry points (unless disabled) and ``plugins``.

    ``plugins`` are module names or paths to ``.py`` files, as given to ``-p``; the
    ``OPTIKIT_PLUGINS`` environment variable adds more. ``autoload=None`` reads
    ``OPTIKIT_DISABLE_PLUGIN_AUTOLOAD``.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=f"builtin:{name}")
    if autoload is None:
        autoload = not os.environ.get(ENV_NO_AUTOLOAD)
    if autoload:
        _load_entry_points(pm)
    extra = [p.strip() for p in os.environ.get(ENV_PLUGINS, "").split(",") if p.strip()]
    for ref in [*plugins, *extra]:
        _register_ref(pm, ref)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc}; hook names must be one of: {', '.join(_hook_names())}",
                          plugin=describe(pm, exc.plugin)) from None
    return pm


def _hook_names() -> list[str]:
    return [n for n in dir(hookspecs) if n.startswith("optikit_")]


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        dist = getattr(ep, "dist", None)
        label = f"{dist.name} {dist.version}" if dist else ep.value
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party package must be named, not crash optikit
            raise PluginError(f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}",
                              plugin=f"{label} (entry point {ep.name!r})") from exc
        _register(pm, plugin, ep.name, f"entry point {ep.name!r} from {label}")


def _register_ref(pm: pluggy.PluginManager, ref: str) -> None:
    path = Path(ref)
    if ref.endswith(".py") or os.sep in ref or path.is_file():
        if not path.is_file():
            raise PluginError("no such file", plugin=ref)
        name = f"optikit_plugin_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise PluginError(f"failed to load: {type(exc).__name__}: {exc}", plugin=ref) from exc
        _register(pm, module, f"file:{path}", f"-p {ref}")
        return
    try:
        module = importlib.import_module(ref)
    except Exception as exc:
        raise PluginError(f"failed to import: {type(exc).__name__}: {exc}", plugin=ref) from exc
    _register(pm, module, f"module:{ref}", f"-p {ref}")


def _register(pm: pluggy.PluginManager, plugin: Any, name: str, source: str) -> None:
    if pm.is_registered(plugin):
        return
    try:
        pm.register(plugin, name=name)
    except ValueError as exc:
        raise PluginError(str(exc), plugin=source) from None
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc), plugin=source) from None
    _sources(pm)[name] = source


def _sources(pm: pluggy.PluginManager) -> dict[str, str]:
    """Plugin name -> where it came from; kept on the manager, which lives as long as the run."""
    if not hasattr(pm, "_optikit_sources"):
        pm._optikit_sources = {}  # type: ignore[attr-defined]
    return pm._optikit_sources  # type: ignore[attr-defined]


def describe(pm: pluggy.PluginManager, plugin: Any) -> str:
    """Where a registered plugin came from: ``built-in``, an entry point with its distribution, or ``-p``."""
    name = pm.get_name(plugin) if plugin is not None else None
    if name is None:
        return repr(plugin)
    if name.startswith("builtin:"):
        return "built-in"
    return _sources(pm).get(name, name)


@dataclass(frozen=True)
class Entry:
    """Something a plugin registered, with the plugin's description."""

    name: str
    obj: Any
    source: str
    doc: str = ""


@dataclass
class Registry:
    """Optimizers, losses and schedules registered by the plugins of one manager."""

    pm: pluggy.PluginManager
    optimizers: dict[str, Entry] = field(default_factory=dict)
    losses: dict[str, Entry] = field(default_factory=dict)
    schedules: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def build(cls, pm: pluggy.PluginManager) -> Registry:
        reg = cls(pm)
        reg._collect("optikit_register_optimizers", reg.optimizers, reg._check_optimizer)
        reg._collect("optikit_register_losses", reg.losses, reg._check_loss)
        reg._collect("optikit_register_schedules", reg.schedules, reg._check_schedule)
        return reg

    def _collect(self, hook: str, table: dict[str, Entry], make: Callable[..., Entry]) -> None:
        # each implementation is called on its own, so every entry knows its plugin
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            source = describe(self.pm, impl.plugin)

            def register(*args: Any, **kwargs: Any) -> None:
                entry = make(source, *args, **kwargs)
                if entry.name in table:
                    raise PluginError(f"{hook.split('_')[-1][:-1]} {entry.name!r} is registered twice: by "
                                      f"{table[entry.name].source} and by {source}; uninstall or rename one",
                                      plugin=source)
                table[entry.name] = entry

            try:
                impl.function(register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"{hook} raised {type(exc).__name__}: {exc}", plugin=source) from exc

    @staticmethod
    def _check_optimizer(source: str, cls: Any) -> Entry:
        if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
            raise PluginError(f"registered {cls!r}, which is not a subclass of optikit.Optimizer", plugin=source)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"optimizer class {cls.__name__} has no 'name'", plugin=source)
        unknown = set(getattr(cls, "requires", ())) - REQUIREMENTS
        if unknown:
            raise PluginError(f"optimizer {name!r} requires unknown {sorted(unknown)}; "
                              f"choose from {sorted(REQUIREMENTS)}", plugin=source)
        doc = (cls.__doc__ or "").strip().splitlines()
        return Entry(name, cls, source, doc[0] if doc else "")

    @staticmethod
    def _check_loss(source: str, name: str, expression: str, doc: str = "") -> Entry:
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(f"loss name {name!r} must be an identifier", plugin=source)
        if not isinstance(expression, str):
            raise PluginError(f"loss {name!r} must be expression text in 'model' and 'target'", plugin=source)
        return Entry(name, expression, source, doc)

    @staticmethod
    def _check_schedule(source: str, name: str, factory: Any) -> Entry:
        if not callable(factory):
            raise PluginError(f"schedule {name!r} is not callable", plugin=source)
        doc = (getattr(factory, "__doc__", "") or "").strip().splitlines()
        return Entry(name, factory, source, doc[0] if doc else "")
