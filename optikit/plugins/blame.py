"""Turn an exception raised by plugin code during a run into a RunError that names the plugin.

The engine already wraps an exception from ``Optimizer.update`` in a :class:`RunError`; hooks
such as ``optikit_epoch_end`` raise through pluggy unchanged. Both are traced back to the plugin
whose code raised, by the code objects in the traceback, so no call path needs to know sources.
The engine's :class:`PluginError` for an optimizer that returned the wrong thing gets the
source of that optimizer from the registry.
"""

from __future__ import annotations

from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Iterator

from ..errors import DivergenceError, OptikitError, PluginError, RunError

if TYPE_CHECKING:
    from ..api import Prepared

__all__ = ["blame"]


def _passes_through(tb: TracebackType | None, cls: type) -> bool:
    """Whether the traceback runs through code defined in ``cls`` (or its non-optikit bases)."""
    codes = {f.__code__ for k in cls.__mro__ if not k.__module__.startswith("optikit.optimizers.base")
             for f in vars(k).values() if hasattr(f, "__code__")}
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return True
        tb = tb.tb_next
    return False


@contextmanager
def blame(prepared: Prepared) -> Iterator[None]:
    """Re-raise plugin failures inside the block as RunError naming the plugin (exit 1)."""
    try:
        yield
    except DivergenceError:
        raise
    except RunError as exc:
        cause = exc.__cause__
        entry = prepared.registry.optimizers.get(prepared.spec.optimizer.name)
        if cause is None or entry is None or not _passes_through(cause.__traceback__, type(prepared.optimizer)):
            raise
        what = ("report it to optikit" if entry.source == "built-in"
                else "fix the optimizer, or report it to the plugin's author")
        raise RunError(f"{exc}\n  plugin: optimizer {entry.name!r} comes from {entry.source}; {what} "
                       "(--traceback shows where)") from cause
    except PluginError as exc:
        entry = prepared.registry.optimizers.get(prepared.spec.optimizer.name)
        if exc.plugin is not None or entry is None or exc.optimizer != entry.name:
            raise
        what = ("report it to optikit" if entry.source == "built-in"
                else "fix the optimizer, or report it to the plugin's author")
        raise PluginError(f"{exc.message}\n  hint: {what}", plugin=entry.source, optimizer=exc.optimizer) from None
    except OptikitError:
        raise
    except Exception as exc:
        source = prepared.pm.plugin_of_traceback(exc.__traceback__)
        if source is None:
            raise
        raise RunError(f"plugin {source}: a hook raised {type(exc).__name__}: {exc}\n"
                       "  hint: fix or remove the plugin (--traceback shows where)") from exc
