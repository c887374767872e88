"""The plugin manager: built-ins, installed entry points, and ``-p`` modules or files.

Each run gets a fresh :func:`plugin_manager`; :class:`~optikit.registry.Registry` asks every
plugin what it registers and remembers which plugin each optimizer, loss and schedule came from.
Code is loaded only from what is installed, ``-p`` and ``OPTIKIT_PLUGINS``; never from a spec.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Iterable

import pluggy

from .. import hookspecs
from ..errors import PluginError
from .registry import Entry, Failure, Registry, describe

__all__ = ["plugin_manager", "Registry", "Entry", "Failure", "failures", "raise_failures", "describe",
           "plugin_of_traceback", "BUILTIN_PLUGINS", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "optikit"
BUILTIN_PLUGINS = (
    "optikit.optimizers",
    "optikit.symbolic.losses",
    "optikit.engine.schedules",
    "optikit.backends",
)
#: Environment variables: extra plugins (comma-separated, like ``-p``), and a switch that turns
#: entry-point loading off.
ENV_PLUGINS = "OPTIKIT_PLUGINS"
ENV_NO_AUTOLOAD = "OPTIKIT_DISABLE_PLUGIN_AUTOLOAD"


def plugin_manager(plugins: Iterable[str] = (), *, autoload: bool | None = None,
                   strict: bool = True) -> pluggy.PluginManager:
    """A new manager with the built-ins, installed entry points (unless disabled) and ``plugins``.

    ``plugins`` are module names or paths to ``.py`` files, as given to ``-p``; the
    ``OPTIKIT_PLUGINS`` environment variable adds more. ``autoload=None`` reads
    ``OPTIKIT_DISABLE_PLUGIN_AUTOLOAD``. With ``strict`` the first plugin that fails to load
    raises :class:`PluginError`; otherwise failures are kept (see :func:`failures`) and the
    other plugins still load, which is what ``optikit plugins`` needs to list them.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm._optikit_sources, pm._optikit_failures = {}, []  # type: ignore[attr-defined]
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=f"builtin:{name}")
        pm._optikit_sources[f"builtin:{name}"] = "built-in"  # type: ignore[attr-defined]
    if autoload is None:
        autoload = os.environ.get(ENV_NO_AUTOLOAD, "").strip().lower() in ("", "0", "false", "no")
    if autoload:
        _load_entry_points(pm)
    extra = [p.strip() for p in os.environ.get(ENV_PLUGINS, "").split(",") if p.strip()]
    for ref in [*plugins, *extra]:
        _guard(pm, ref, _register_ref, pm, ref)
    if strict:
        raise_failures(pm)
    return pm


def failures(pm: pluggy.PluginManager) -> list[Failure]:
    """The plugins of ``pm`` that failed to load (only a non-strict manager keeps any)."""
    return getattr(pm, "_optikit_failures", [])


def raise_failures(pm: pluggy.PluginManager) -> None:
    """Raise the first load failure of ``pm`` as a :class:`PluginError`."""
    if failures(pm):
        raise failures(pm)[0].error()


def _guard(pm: pluggy.PluginManager, source: str, func: Any, *args: Any) -> None:
    try:
        func(*args)
    except PluginError as exc:
        pm._optikit_failures.append(Failure(exc.plugin or source, _message(exc)))


def _message(exc: PluginError) -> str:
    text = str(exc)
    prefix = f"plugin {exc.plugin}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        dist = getattr(ep, "dist", None)
        label = f"{dist.name} {dist.version}" if dist else ep.value
        source = f"{label} (entry point {ep.name} = {ep.value})"

        def load(ep: Any = ep, source: str = source, dist: Any = dist) -> None:
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party package must be named, not crash optikit
                fix = f"reinstall or uninstall {dist.name}" if dist else "fix or remove the package"
                raise PluginError(f"failed to import {ep.value}: {type(exc).__name__}: {exc}; {fix} "
                                  f"(or set {ENV_NO_AUTOLOAD}=1 to skip installed plugins)", plugin=source) from exc
            _register(pm, plugin, ep.name, source)

        _guard(pm, source, load)


def _register_ref(pm: pluggy.PluginManager, ref: str) -> None:
    path = Path(ref)
    source = f"-p {ref}"
    if ref.endswith(".py") or os.sep in ref or path.is_file():
        if not path.is_file():
            raise PluginError("no such file; give a path to a .py file or an importable module name", plugin=source)
        name = f"optikit_plugin_{path.stem}_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise PluginError(f"failed to load: {type(exc).__name__}: {exc}", plugin=source) from exc
        _register(pm, module, f"file:{path.resolve()}", source)
        return
    try:
        module = importlib.import_module(ref)
    except Exception as exc:
        raise PluginError(f"failed to import: {type(exc).__name__}: {exc}; is it installed, "
                          f"or did you mean a path to a .py file?", plugin=source) from exc
    _register(pm, module, f"module:{ref}", source)


def _register(pm: pluggy.PluginManager, plugin: Any, name: str, source: str) -> None:
    if pm.is_registered(plugin):
        return
    _check_names(plugin, source)
    try:
        pm.register(plugin, name=name)
    except ValueError as exc:
        raise PluginError(str(exc), plugin=source) from None
    except pluggy.PluginValidationError as exc:
        # pluggy's text spans lines and names the internal plugin id; keep the facts on one line
        lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
        raise PluginError(f"{'; '.join(lines) or exc}; the hooks and their arguments are listed in "
                          "docs/plugins.md", plugin=source) from None
    pm._optikit_sources[name] = source  # type: ignore[attr-defined]


def _check_names(plugin: Any, source: str) -> None:
    """A misspelled or undecorated hook would be silently ignored; say so instead."""
    for attr in dir(plugin):
        if not attr.startswith("optikit_") or not callable(getattr(plugin, attr, None)):
            continue
        func = getattr(plugin, attr)
        if attr not in hookspecs.HOOKS:
            close = difflib.get_close_matches(attr, hookspecs.HOOKS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise PluginError(f"{attr} is not an optikit hook; {hint}valid hooks: {', '.join(hookspecs.HOOKS)}",
                              plugin=source)
        if not hasattr(func, f"{hookspecs.PROJECT}_impl") and inspect.isroutine(func):
            raise PluginError(f"{attr} is not decorated with @optikit.hookimpl, so it would never be called; "
                              "add the decorator", plugin=source)


def plugin_of_traceback(pm: pluggy.PluginManager, tb: TracebackType | None) -> str | None:
    """The source of the innermost plugin hook implementation a traceback passed through."""
    codes = {impl.function.__code__: impl.plugin for caller in pm.hook.__dict__.values()
             if isinstance(caller, pluggy.HookCaller) for impl in caller.get_hookimpls()
             if hasattr(impl.function, "__code__")}
    found = None
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            found = codes[tb.tb_frame.f_code]
        tb = tb.tb_next
    return describe(pm, found) if found is not None else None
