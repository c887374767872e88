"""Built-in optimizers; each registers through the public ``optikit_register_optimizers`` hook."""

from __future__ import annotations

from importlib import import_module

from ..hookspecs import hookimpl
from .base import EmptyState, Hyperparameter, Optimizer, Oracle, hyperparameters

__all__ = ["Optimizer", "Oracle", "EmptyState", "Hyperparameter", "hyperparameters", "builtin_optimizers"]

_MODULES = ("sgd", "adaptive", "adam", "lion", "second_order", "lbfgs")


def builtin_optimizers() -> list[type[Optimizer]]:
    """Every built-in optimizer class, in catalogue order."""
    out: list[type[Optimizer]] = []
    for name in _MODULES:
        try:
            module = import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        out.extend(module.OPTIMIZERS)
    return out


@hookimpl
def optikit_register_optimizers(register) -> None:
    for cls in builtin_optimizers():
        register(cls)
