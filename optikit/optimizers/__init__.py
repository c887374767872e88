"""Built-in optimizers; each registers through the public ``optikit_register_optimizers`` hook."""

from __future__ import annotations

from importlib import import_module

from ..hookspecs import hookimpl
from .base import EmptyState, Hyperparameter, Kernel, Optimizer, Oracle, hyperparameters

__all__ = ["Optimizer", "Oracle", "EmptyState", "Kernel", "Hyperparameter", "hyperparameters", "builtin_optimizers"]

_MODULES = ("sgd", "adaptive", "adam", "infinity", "averaged", "lion", "second_order", "lbfgs")


def builtin_optimizers() -> list[type[Optimizer]]:
    """Every built-in optimizer class, in catalogue order."""
    return [cls for name in _MODULES for cls in import_module(f"{__name__}.{name}").OPTIMIZERS]


@hookimpl
def optikit_register_optimizers(register) -> None:
    for cls in builtin_optimizers():
        register(cls)
