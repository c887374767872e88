"""Plugins: the plugin manager and what each plugin registered."""

from .manager import (BUILTIN_PLUGINS, ENTRY_POINT_GROUP, Failure, OptikitPluginManager, Provenance, describe, failures,
                      plugin_manager, plugin_of_traceback, raise_failures)
from .registry import Entry, Registry

__all__ = ["plugin_manager", "OptikitPluginManager", "Provenance", "Registry", "Entry", "Failure", "failures",
           "raise_failures", "describe", "plugin_of_traceback", "BUILTIN_PLUGINS", "ENTRY_POINT_GROUP"]
