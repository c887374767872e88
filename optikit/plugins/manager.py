"""The plugin manager: built-ins, installed entry points, and ``-p`` modules or files.

Each run gets a fresh :func:`plugin_manager`, an :class:`OptikitPluginManager` that remembers
where each plugin came from and which ones failed to load; :class:`~optikit.plugins.Registry`
asks every plugin what it registers and names the plugin on each entry. Code is loaded only from
what is installed, ``-p`` and ``OPTIKIT_PLUGINS``; never from a spec.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterable, Literal

import pluggy

from .. import hookspecs
from ..errors import PluginError, did_you_mean
from .registry import Failure
from .sources import (BUILTIN_PLUGINS, ENTRY_POINT_GROUP, ENV_NO_AUTOLOAD, ENV_PLUGINS, Blocked, Provenance, block_names,
                      check_hook_names, message_of)

__all__ = ["plugin_manager", "OptikitPluginManager", "failures", "raise_failures", "describe", "plugin_of_traceback"]


class OptikitPluginManager(pluggy.PluginManager):
    """pluggy's manager with optikit's hook specs, each plugin's :class:`Provenance`, and load failures.

    The ``load_*`` methods keep a plugin that fails to load as a :class:`Failure` (see
    :attr:`failures`) and go on with the others, so that ``optikit plugins`` can list them all;
    :meth:`raise_failures` turns the first into a :class:`PluginError`. :meth:`block` is
    ``-p no:NAME``; a blocked plugin is not even imported, and is listed in :attr:`blocked`.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self._provenance: dict[str, Provenance] = {}
        self._failures: list[Failure] = []
        self._blocked: list[Blocked] = []
        self._blocked_by: dict[str, str] = {}  # plugin name -> the "-p no:NAME" that blocked it
        self._blocks: list[tuple[str, Provenance, list[str]]] = []

    # -- what the manager knows about its plugins

    def provenance(self, plugin: Any) -> Provenance | None:
        """Where a registered plugin came from, or None for one registered without it."""
        name = self.get_name(plugin)
        return self._provenance.get(name) if name is not None else None

    def describe(self, plugin: Any) -> str:
        """How messages name ``plugin``: its provenance, else its registered name."""
        prov = self.provenance(plugin)
        if prov is not None:
            return str(prov)
        name = self.get_name(plugin)
        return name if name is not None else repr(plugin)

    @property
    def blocked(self) -> list[Blocked]:
        """The plugins that a block kept from loading, in the order they were met."""
        return list(self._blocked)

    @property
    def failures(self) -> list[Failure]:
        """The plugins that failed to load, in the order they were tried."""
        return list(self._failures)

    def raise_failures(self) -> None:
        """Raise the first load failure as a :class:`PluginError`."""
        if self._failures:
            raise self._failures[0].error()

    def plugin_of_traceback(self, tb: TracebackType | None) -> str | None:
        """The description of the innermost plugin hook implementation a traceback passed through."""
        codes = {impl.function.__code__: impl.plugin for caller in vars(self.hook).values()
                 if isinstance(caller, pluggy.HookCaller) for impl in caller.get_hookimpls()
                 if hasattr(impl.function, "__code__")}
        found = None
        while tb is not None:
            if tb.tb_frame.f_code in codes:
                found = codes[tb.tb_frame.f_code]
            tb = tb.tb_next
        return self.describe(found) if found is not None else None

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        removed_name = name if name is not None else (self.get_name(plugin) if plugin is not None else None)
        removed = super().unregister(plugin, name)
        if removed is not None and removed_name is not None:
            self._provenance.pop(removed_name, None)
        return removed

    # -- blocking

    def block(self, name: str, kind: Literal["-p", "OPTIKIT_PLUGINS"] = "-p") -> None:
        """Keep the plugin ``name`` from loading, as ``-p no:NAME`` does; see :func:`block_names`."""
        prov = Provenance(kind, f"no:{name}")
        name = name.strip()
        if not name:
            self._failures.append(Failure(str(prov), "give the name of a plugin to block after 'no:', as listed "
                                                     "by 'optikit plugins'"))
            return
        names = block_names(name)
        for plugin_name in names:
            plugin = self.get_plugin(plugin_name)
            if plugin is not None:
                self._blocked.append(Blocked(plugin_name, self.provenance(plugin) or Provenance(kind, plugin_name),
                                             str(prov)))
            self.set_blocked(plugin_name)
            self._blocked_by.setdefault(plugin_name, str(prov))
        self._blocks.append((name, prov, names))

    def check_blocks(self) -> None:
        """Keep a failure for each block that matched no plugin: a misspelled ``no:`` would otherwise
        silently block nothing. Installed entry points count even when autoload is off."""
        from importlib.metadata import entry_points

        hit = {b.name for b in self._blocked}
        installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} if self._blocks else set()
        for name, prov, names in self._blocks:
            if hit.intersection(names) or name in installed:
                continue
            known = [*(m.rpartition(".")[2] for m in BUILTIN_PLUGINS), *sorted(installed),
                     *(p.ref for p in self._provenance.values() if p.kind in ("-p", "OPTIKIT_PLUGINS"))]
            hint = did_you_mean(name, known)
            self._failures.append(Failure(str(prov), f"blocks nothing: no built-in, installed entry point or -p "
                                                     f"plugin is named {name!r}; {hint + ' ' if hint else ''}"
                                                     f"names: {', '.join(known)}"))

    def _skip_blocked(self, name: str, prov: Provenance) -> bool:
        if not self.is_blocked(name):
            return False
        self._blocked.append(Blocked(name, prov, self._blocked_by.get(name, "set_blocked()")))
        return True

    # -- loading

    def add_plugin(self, plugin: Any, name: str, provenance: Provenance) -> None:
        """Register ``plugin`` under ``name``, checked first: a misspelled or undecorated hook, or an
        argument its hook does not have, is a :class:`PluginError` naming ``provenance``."""
        source = str(provenance)
        if self.is_registered(plugin):
            return
        check_hook_names(plugin, source)
        try:
            self.register(plugin, name=name)
        except ValueError as exc:
            raise PluginError(str(exc), plugin=source) from None
        except pluggy.PluginValidationError as exc:
            # pluggy's text spans lines and names the internal plugin id; keep the facts on one line
            lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
            raise PluginError(f"{'; '.join(lines) or exc}; the hooks and their arguments are listed in "
                              "docs/plugins.md", plugin=source) from None
        self._provenance[name] = provenance

    def load_builtins(self) -> None:
        """Register optikit's own plugins (:data:`BUILTIN_PLUGINS`)."""
        for module in BUILTIN_PLUGINS:
            prov = Provenance("built-in", module)
            if not self._skip_blocked(f"builtin:{module}", prov):
                self.add_plugin(importlib.import_module(module), f"builtin:{module}", prov)

    def load_entry_points(self) -> None:
        """Register every installed entry point of the ``optikit`` group; a broken one is a failure."""
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.get_plugin(ep.name) is not None:
                continue
            dist = getattr(ep, "dist", None)
            prov = Provenance("entry point", ep.value, dist.name if dist else None, dist.version if dist else None,
                              ep.name)
            if self._skip_blocked(ep.name, prov):
                continue

            def load(ep: Any = ep, prov: Provenance = prov) -> None:
                try:
                    plugin = ep.load()
                except Exception as exc:  # a broken third-party package must be named, not crash optikit
                    fix = f"reinstall or uninstall {prov.dist}" if prov.dist else "fix or remove the package"
                    raise PluginError(f"failed to import {ep.value}: {type(exc).__name__}: {exc}; {fix} "
                                      f"(or block it with -p no:{ep.name}, or set {ENV_NO_AUTOLOAD}=1 to skip "
                                      "installed plugins)", plugin=str(prov)) from exc
                self.add_plugin(plugin, ep.name, prov)

            self._guard(prov, load)

    def load(self, ref: str, kind: Literal["-p", "OPTIKIT_PLUGINS"] = "-p") -> None:
        """Register a module name or a ``.py`` file given to ``-p`` (or in ``OPTIKIT_PLUGINS``);
        ``no:NAME`` blocks instead (see :meth:`block`)."""
        if ref.startswith("no:"):
            self.block(ref[3:], kind)
            return
        prov = Provenance(kind, ref)
        self._guard(prov, self._load_ref, ref, prov)

    def _guard(self, prov: Provenance, func: Callable[..., None], *args: Any) -> None:
        try:
            func(*args)
        except PluginError as exc:
            self._failures.append(Failure(exc.plugin or str(prov), message_of(exc)))

    def _load_ref(self, ref: str, prov: Provenance) -> None:
        path = Path(ref)
        source = str(prov)
        if ref.endswith(".py") or os.sep in ref or path.is_file():
            if not path.is_file():
                raise PluginError("no such file; give a path to a .py file or an importable module name",
                                  plugin=source)
            if self._skip_blocked(f"file:{path.resolve()}", prov):
                return
            name = f"optikit_plugin_{path.stem}_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                sys.modules.pop(name, None)
                raise PluginError(f"failed to load: {type(exc).__name__}: {exc}", plugin=source) from exc
            self.add_plugin(module, f"file:{path.resolve()}", prov)
            return
        if self._skip_blocked(f"module:{ref}", prov):
            return
        try:
            module = importlib.import_module(ref)
        except Exception as exc:
            raise PluginError(f"failed to import: {type(exc).__name__}: {exc}; is it installed, "
                              f"or did you mean a path to a .py file?", plugin=source) from exc
        self.add_plugin(module, f"module:{ref}", prov)


def plugin_manager(plugins: Iterable[str] = (), *, autoload: bool | None = None,
                   strict: bool = True) -> OptikitPluginManager:
    """A new manager with the built-ins, installed entry points (unless disabled) and ``plugins``.

    ``plugins`` are module names or paths to ``.py`` files, as given to ``-p``, or ``no:NAME`` to
    block a plugin (see :func:`block_names`); the ``OPTIKIT_PLUGINS`` environment variable adds
    more. Blocks apply first, whatever their position. ``autoload=None`` reads
    ``OPTIKIT_DISABLE_PLUGIN_AUTOLOAD``. With ``strict`` the first plugin that fails to load
    raises :class:`PluginError`; otherwise failures are kept (see :func:`failures`) and the
    other plugins still load, which is what ``optikit plugins`` needs to list them.
    """
    env = [ref.strip() for ref in os.environ.get(ENV_PLUGINS, "").split(",") if ref.strip()]
    items: list[tuple[str, Literal["-p", "OPTIKIT_PLUGINS"]]] = [*((r, "-p") for r in plugins),
                                                                 *((r, ENV_PLUGINS) for r in env)]
    pm = OptikitPluginManager()
    # before anything loads, so that a blocked plugin is never imported
    for ref, kind in items:
        if ref.startswith("no:"):
            pm.block(ref[3:], kind)
    pm.load_builtins()
    if autoload is None:
        autoload = os.environ.get(ENV_NO_AUTOLOAD, "").strip().lower() in ("", "0", "false", "no")
    if autoload:
        pm.load_entry_points()
    for ref, kind in items:
        if not ref.startswith("no:"):
            pm.load(ref, kind)
    pm.check_blocks()
    if strict:
        pm.raise_failures()
    return pm


def failures(pm: OptikitPluginManager) -> list[Failure]:
    """The plugins of ``pm`` that failed to load (only a non-strict manager keeps any)."""
    return pm.failures


def raise_failures(pm: OptikitPluginManager) -> None:
    """Raise the first load failure of ``pm`` as a :class:`PluginError`."""
    pm.raise_failures()


def describe(pm: OptikitPluginManager, plugin: Any) -> str:
    """Where a registered plugin came from: ``built-in``, an entry point with its distribution, or ``-p``."""
    return pm.describe(plugin)


def plugin_of_traceback(pm: OptikitPluginManager, tb: TracebackType | None) -> str | None:
    """The source of the innermost plugin hook implementation a traceback passed through."""
    return pm.plugin_of_traceback(tb)
