"""Where plugins come from: the built-ins, the entry-point group, ``-p`` and ``OPTIKIT_PLUGINS``;
how each is named in messages, which names ``-p no:NAME`` blocks, and the check of a plugin's hook names."""

from __future__ import annotations

import difflib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import hookspecs
from ..errors import PluginError

__all__ = ["Provenance", "Blocked", "block_names", "check_hook_names", "message_of", "BUILTIN_PLUGINS",
           "ENTRY_POINT_GROUP", "ENV_PLUGINS", "ENV_NO_AUTOLOAD"]

ENTRY_POINT_GROUP = "optikit"
BUILTIN_PLUGINS = (
    "optikit.optimizers",
    "optikit.symbolic.losses",
    "optikit.optimizers.schedules",
    "optikit.backends",
)
#: Environment variables: extra plugins (comma-separated, like ``-p``), and a switch that turns
#: entry-point loading off.
ENV_PLUGINS = "OPTIKIT_PLUGINS"
ENV_NO_AUTOLOAD = "OPTIKIT_DISABLE_PLUGIN_AUTOLOAD"

Kind = Literal["built-in", "entry point", "-p", "OPTIKIT_PLUGINS"]


@dataclass(frozen=True)
class Provenance:
    """Where a plugin came from. ``str()`` is how every message and listing names the plugin.

    ``ref`` is the built-in's module, the entry point's value (``module`` or ``module:object``),
    or the ``-p`` / ``OPTIKIT_PLUGINS`` item as given; ``dist``/``version``/``entry_point`` are set
    for entry points only.
    """

    kind: Kind
    ref: str
    dist: str | None = None
    version: str | None = None
    entry_point: str | None = None

    def __str__(self) -> str:
        if self.kind == "built-in":
            return "built-in"
        if self.kind == "entry point":
            label = f"{self.dist} {self.version}" if self.dist else self.ref
            return f"{label} (entry point {self.entry_point} = {self.ref})"
        if self.kind == "OPTIKIT_PLUGINS":
            return f"{ENV_PLUGINS}={self.ref}"
        return f"-p {self.ref}"


@dataclass(frozen=True)
class Blocked:
    """A plugin that ``-p no:NAME`` kept from loading: its plugin name, provenance, and the block."""

    name: str
    provenance: Provenance
    by: str


def block_names(name: str) -> list[str]:
    """The plugin names ``-p no:NAME`` blocks.

    ``NAME`` is a name as ``optikit plugins`` lists it (``builtin:optikit.optimizers``,
    ``module:x``, ``file:/abs/x.py``); a built-in's module (``optikit.optimizers.schedules``) or its
    last part (``schedules``); a path to a ``.py`` file given to ``-p``; otherwise both the entry
    point and the ``-p`` module of that name.
    """
    if name.startswith(("builtin:", "module:", "file:")):
        return [name]
    for module in BUILTIN_PLUGINS:
        if name in (module, module.rpartition(".")[2]):
            return [f"builtin:{module}"]
    if name.endswith(".py") or os.sep in name:
        return [f"file:{Path(name).resolve()}"]
    return [name, f"module:{name}"]


def message_of(exc: PluginError) -> str:
    text = str(exc)
    prefix = f"plugin {exc.plugin}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def check_hook_names(plugin: Any, source: str) -> None:
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
