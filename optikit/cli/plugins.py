"""The command line's side of plugins: load them before parsing, their options, ``optikit plugins``.

Plugins are loaded before the command line is parsed (like pytest) so that their
``optikit_add_options`` can extend ``optikit run``; ``-p`` is therefore read first by a small
parser that ignores everything else.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from ..errors import PluginError, counted
from ..plugins.manager import OptikitPluginManager, plugin_manager

__all__ = ["preparse", "load_plugins", "add_plugin_options", "plugin_listing", "cmd_plugins"]


def preparse(argv: Sequence[str]) -> tuple[list[str], bool, str | None]:
    """``(-p values, --traceback given, the subcommand)`` read from anywhere in ``argv``."""
    pre = argparse.ArgumentParser(prog="optikit", add_help=False, exit_on_error=False)
    pre.add_argument("-p", dest="plugins", action="append", default=[])
    pre.add_argument("--traceback", action="store_true")
    try:
        known, rest = pre.parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit):  # the full parser reports the mistake
        return [], "--traceback" in argv, None
    command = next((a for a in rest if not a.startswith("-")), None)
    return known.plugins, known.traceback, command


def load_plugins(plugins: Sequence[str]) -> OptikitPluginManager:
    """A non-strict manager: failures are kept, for ``optikit plugins`` to list."""
    return plugin_manager(plugins, strict=False)


def add_plugin_options(pm: OptikitPluginManager, parser: argparse.ArgumentParser) -> None:
    """Let plugins add options to ``parser`` (the ``run`` subcommand) in a "plugin options" group."""
    group = parser.add_argument_group("plugin options")
    try:
        pm.hook.optikit_add_options(parser=group)
    except Exception as exc:
        source = pm.plugin_of_traceback(exc.__traceback__) or "?"
        raise PluginError(f"optikit_add_options raised {type(exc).__name__}: {exc}", plugin=source) from exc


def _hooks(pm: OptikitPluginManager) -> list[dict[str, Any]]:
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # pluggy keeps a blocked name as a registration of None
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        out.append({"plugin": name, "source": pm.describe(plugin), "hooks": hooks})
    return out


def plugin_listing(pm: OptikitPluginManager) -> dict[str, Any]:
    """Everything ``optikit plugins`` shows: plugins with their hooks, what they register, what was
    blocked (``-p no:NAME``), failures."""
    from ..optimizers.base import hyperparameters
    from ..plugins.registry import Registry

    registry = Registry.build(pm, strict=False)
    optimizers = [{"name": e.name, "source": e.source, "doc": e.doc, "batch_size": e.obj.batch_size,
                   "requires": sorted(e.obj.requires),
                   "hyperparameters": [{"name": h.name, "default": h.default, "required": h.required, "doc": h.doc}
                                       for h in hyperparameters(e.obj)]}
                  for e in registry.optimizers.values()]
    losses = [{"name": e.name, "source": e.source, "expression": e.obj, "doc": e.doc} for e in registry.losses.values()]
    schedules = [{"name": e.name, "source": e.source, "doc": e.doc} for e in registry.schedules.values()]
    backends = [{"name": e.name, "source": e.source, "doc": e.doc} for e in registry.backends.values()]
    failed = [{"plugin": f.plugin, "error": f.message} for f in [*pm.failures, *registry.failures]]
    blocked = [{"plugin": b.name, "source": str(b.provenance), "by": b.by} for b in pm.blocked]
    return {"plugins": _hooks(pm), "optimizers": optimizers, "losses": losses, "schedules": schedules,
            "backends": backends, "blocked": blocked, "failed": failed}


def cmd_plugins(args: argparse.Namespace) -> int:
    """``optikit plugins``: list even when some plugins fail (they are listed under ``failed``)."""
    from ..output.report import to_json

    data = plugin_listing(args.pm)
    if args.format == "json":
        print(to_json(data))
    else:
        print("plugins:")
        for p in data["plugins"]:
            print(f"  {p['source']}  ({p['plugin']})  hooks: {', '.join(p['hooks']) or 'none'}")
        print("optimizers:" + ("" if data["optimizers"] else " none"))
        for o in data["optimizers"]:
            print(f"  {o['name']}  [{o['source']}]  {o['doc']}")
            for h in o["hyperparameters"]:
                default = "required" if h["required"] else f"= {h['default']!r}"
                print(f"      {h['name']} {default}" + (f"  {h['doc']}" if h["doc"] else ""))
        print("losses:" + ("" if data["losses"] else " none"))
        for item in data["losses"]:
            print(f"  {item['name']}  [{item['source']}]  {item['expression']}"
                  + (f"  ({item['doc']})" if item["doc"] else ""))
        print("schedules:" + ("" if data["schedules"] else " none"))
        for item in data["schedules"]:
            print(f"  {item['name']}  [{item['source']}]  {item['doc']}")
        print("backends:" + ("" if data["backends"] else " none"))
        for item in data["backends"]:
            print(f"  {item['name']}  [{item['source']}]  {item['doc']}")
        if data["blocked"]:
            print("blocked:")
            for b in data["blocked"]:
                print(f"  {b['source']}  ({b['plugin']})  by {b['by']}")
        if data["failed"]:
            print("failed:")
            for f in data["failed"]:
                print(f"  {f['plugin']}: {f['error']}")
    if data["failed"]:
        print(f"optikit: warning: {counted(len(data['failed']), 'plugin')} failed to load; other commands will refuse "
              "to run until they are fixed or uninstalled (see 'failed')", file=sys.stderr)
    return 0
