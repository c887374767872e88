"""What the plugins of one manager register: optimizers, losses, schedules and backends, each with its source.

Each registration hook implementation is called on its own, with the arguments it names (as
pluggy calls any hook), so that every entry, and every error, names the plugin it came from.
An implementation may call ``register(...)``, return what it registers, or both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import PluginError
from ..optimizers.base import REQUIREMENTS, Optimizer

if TYPE_CHECKING:
    import pluggy

    from .manager import OptikitPluginManager

__all__ = ["Registry", "Entry", "Failure"]

_KINDS = {"optikit_register_optimizers": "optimizer", "optikit_register_losses": "loss",
          "optikit_register_schedules": "schedule", "optikit_register_backends": "backend"}
#: What a registration hook may return, for the message when it returns something else.
_RETURNS = {"loss": "a mapping name -> expression text, or a list of (name, expression[, doc]) tuples",
            "schedule": "a mapping name -> factory, or a list of (name, factory) tuples"}
_ITEMS = {"optimizer": "a class", "backend": "a class", "loss": "(name, expression[, doc])",
          "schedule": "(name, factory)"}


@dataclass(frozen=True)
class Failure:
    """A plugin that could not be loaded: where it came from and why."""

    plugin: str
    message: str

    def error(self) -> PluginError:
        return PluginError(self.message, plugin=self.plugin)


@dataclass(frozen=True)
class Entry:
    """Something a plugin registered, with the plugin's description."""

    name: str
    obj: Any
    source: str
    doc: str = ""


@dataclass
class Registry:
    """Optimizers, losses, schedules and backends registered by the plugins of one manager.

    Each table maps a name to its :class:`Entry`. ``failures`` lists the :class:`Failure` of
    each plugin whose registration failed; only a registry built with ``strict=False`` keeps any
    (a strict one raises the first).
    """

    pm: OptikitPluginManager
    optimizers: dict[str, Entry] = field(default_factory=dict)
    losses: dict[str, Entry] = field(default_factory=dict)
    schedules: dict[str, Entry] = field(default_factory=dict)
    backends: dict[str, Entry] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @classmethod
    def build(cls, pm: OptikitPluginManager, *, strict: bool = True) -> Registry:
        """Ask every plugin of ``pm`` what it registers."""
        reg = cls(pm)
        reg._collect("optikit_register_optimizers", reg.optimizers, reg._check_optimizer, strict)
        reg._collect("optikit_register_losses", reg.losses, reg._check_loss, strict)
        reg._collect("optikit_register_schedules", reg.schedules, reg._check_schedule, strict)
        reg._collect("optikit_register_backends", reg.backends, reg._check_backend, strict)
        return reg

    def _collect(self, hook: str, table: dict[str, Entry], make: Callable[..., Entry], strict: bool) -> None:
        # get_hookimpls() is in registration order (built-ins first), so a duplicate is
        # blamed on the plugin that came later
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            source = self.pm.describe(impl.plugin)
            try:
                # all or nothing per plugin: a plugin that fails registers none of its entries
                table.update(self._from_plugin(impl, source, hook, table, make))
            except PluginError as exc:
                if strict:
                    raise
                self.failures.append(Failure(exc.plugin or source, str(exc).removeprefix(f"plugin {exc.plugin}: ")))

    @staticmethod
    def _from_plugin(impl: pluggy.HookImpl, source: str, hook: str, table: Mapping[str, Entry],
                     make: Callable[..., Entry]) -> dict[str, Entry]:
        """What one hook implementation registers: by calling ``register`` and by returning."""
        kind = _KINDS[hook]
        mine: dict[str, Entry] = {}

        def add(args: tuple[Any, ...], kwargs: dict[str, Any], returned: bool) -> None:
            try:
                entry = make(source, *args, **kwargs)
            except TypeError as exc:
                if returned:
                    raise PluginError(f"{hook} returned the item {args!r}; expected {_ITEMS[kind]}",
                                      plugin=source) from None
                # the message names the checking function; the plugin called register()
                why = re.sub(r"^[\w.]*_check_\w+\(\)", "register()", str(exc))
                raise PluginError(f"bad call to register() in {hook}: {why}", plugin=source) from None
            other = table.get(entry.name) or mine.get(entry.name)
            if other is not None:
                raise PluginError(f"{kind} {entry.name!r} is registered twice: by {other.source} and by "
                                  f"{source}; uninstall one of them, or rename one", plugin=source)
            mine[entry.name] = entry

        def register(*args: Any, **kwargs: Any) -> None:
            add(args, kwargs, returned=False)

        returned = _call(impl, hook, source, register=register)
        for item in _returned_items(kind, returned, hook, source):
            add(item, {}, returned=True)
        return mine

    @staticmethod
    def _check_optimizer(source: str, cls: Any) -> Entry:
        if isinstance(cls, Optimizer):
            raise PluginError(f"registered an instance of {type(cls).__name__}; register the class itself: "
                              f"register({type(cls).__name__})", plugin=source)
        if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
            raise PluginError(f"registered {cls!r}, which is not a subclass of optikit.Optimizer; "
                              "optimizers subclass optikit.Optimizer and define init() and update()", plugin=source)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"optimizer class {cls.__name__} has no 'name'; set a class attribute "
                              f"name = \"...\"", plugin=source)
        missing = [m for m in ("init", "update") if getattr(cls, m) is getattr(Optimizer, m)]
        if missing:
            raise PluginError(f"optimizer {name!r} ({cls.__name__}) does not define {' and '.join(missing)}()",
                              plugin=source)
        unknown = set(getattr(cls, "requires", ())) - REQUIREMENTS
        if unknown:
            raise PluginError(f"optimizer {name!r} requires unknown {sorted(unknown)}; "
                              f"choose from {sorted(REQUIREMENTS)}", plugin=source)
        doc = (cls.__doc__ or "").strip().splitlines()
        return Entry(name, cls, source, doc[0] if doc else "")

    def loss_texts(self) -> dict[str, str]:
        """Named losses as expression text in ``model`` and ``target``."""
        return {name: entry.obj for name, entry in self.losses.items()}

    @staticmethod
    def _check_loss(source: str, name: str, expression: str, doc: str = "") -> Entry:
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(f"loss name {name!r} must be an identifier", plugin=source)
        if not isinstance(expression, str):
            raise PluginError(f"loss {name!r} must be expression text in 'model' and 'target'", plugin=source)
        return Entry(name, expression, source, doc)

    @staticmethod
    def _check_schedule(source: str, name: str, factory: Any) -> Entry:
        if not isinstance(name, str) or not name:
            raise PluginError(f"schedule name {name!r} must be a non-empty string", plugin=source)
        if not callable(factory):
            raise PluginError(f"schedule {name!r} is not callable", plugin=source)
        doc = (getattr(factory, "__doc__", "") or "").strip().splitlines()
        return Entry(name, factory, source, doc[0] if doc else "")

    @staticmethod
    def _check_backend(source: str, cls: Any) -> Entry:
        name = getattr(cls, "name", None)
        if not isinstance(cls, type):
            what = f"an instance of {type(cls).__name__}; register the class itself" if isinstance(name, str) \
                else f"{cls!r}, which is not a backend class"
            raise PluginError(f"registered {what}: a backend is a class with a string 'name' and a "
                              "compile(problem, source) method", plugin=source)
        if not isinstance(name, str) or not name:
            raise PluginError(f"backend class {cls.__name__} has no 'name'; set a class attribute name = \"...\"",
                              plugin=source)
        if not callable(getattr(cls, "compile", None)):
            raise PluginError(f"backend {name!r} ({cls.__name__}) has no compile(problem, source) method",
                              plugin=source)
        doc = (cls.__doc__ or "").strip().splitlines()
        return Entry(name, cls, source, doc[0] if doc else "")


def _call(impl: pluggy.HookImpl, hook: str, source: str, **kwargs: Any) -> Any:
    """Call one hook implementation with only the arguments it names, as pluggy's ``_multicall``
    does; calling one at a time is what lets every entry and error name its plugin."""
    if impl.hookwrapper or impl.wrapper:
        raise PluginError(f"{hook} is declared as a wrapper; registration hooks are called one plugin at a "
                          "time, so drop wrapper=True / hookwrapper=True", plugin=source)
    try:
        return impl.function(*[kwargs[name] for name in impl.argnames])
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(f"{hook} raised {type(exc).__name__}: {exc}", plugin=source) from exc


def _returned_items(kind: str, value: Any, hook: str, source: str) -> list[tuple[Any, ...]]:
    """The ``register`` arguments of what an implementation returned (``None``: nothing)."""
    if value is None:
        return []
    if kind in ("optimizer", "backend"):
        # anything else is checked item by item, whose messages say what is wrong with it
        return [(item,) for item in (value if isinstance(value, (list, tuple)) else [value])]
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (list, tuple)) and all(isinstance(item, tuple) for item in value):
        return list(value)
    raise PluginError(f"{hook} returned {type(value).__name__}; return {_RETURNS[kind]} (or None, when it "
                      "calls register())", plugin=source)
