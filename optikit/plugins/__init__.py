"""Plugins: the plugin manager, where each plugin came from, and what each registered."""

from .manager import OptikitPluginManager, describe, failures, plugin_manager, plugin_of_traceback, raise_failures
from .registry import Entry, Failure, Registry
from .sources import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, Provenance

__all__ = ["plugin_manager", "OptikitPluginManager", "Provenance", "Registry", "Entry", "Failure", "failures",
           "raise_failures", "describe", "plugin_of_traceback", "BUILTIN_PLUGINS", "ENTRY_POINT_GROUP"]
