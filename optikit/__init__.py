"""optikit: optimizers as plugins, models as YAML, gradients from SymPy.

>>> import optikit
>>> result = optikit.run("specs/seed_gd.yaml")          # doctest: +SKIP
>>> result.parameters["w"]                              # doctest: +SKIP
1.9999999125232637
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import load_data, prepare, run
from .engine import EpochRecord, History, Result
from .errors import (
    DivergenceError,
    ExpressionError,
    GradientMismatchError,
    Location,
    OptikitError,
    PluginError,
    RunError,
    SpecError,
)
from .hookspecs import hookimpl
from .optimizers.base import EmptyState, Kernel, Optimizer, Oracle
from .spec import Spec, load_spec, loads_spec
from .version import __version__ as __version__

if TYPE_CHECKING:
    from .fit import FitReport
    from .gradcheck.checking import check


def __getattr__(name: str) -> Any:
    # imported on first use: a run needs neither, and they are a tenth of the import of optikit
    if name == "check":
        from .gradcheck.checking import check as value
    elif name == "FitReport":
        from .fit import FitReport as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), "check", "FitReport"})



__all__ = [
    "load_spec",
    "loads_spec",
    "run",
    "load_data",
    "prepare",
    "check",
    "hookimpl",
    "Optimizer",
    "Oracle",
    "EmptyState",
    "Kernel",
    "Spec",
    "Result",
    "FitReport",
    "History",
    "EpochRecord",
    "OptikitError",
    "SpecError",
    "ExpressionError",
    "PluginError",
    "RunError",
    "DivergenceError",
    "GradientMismatchError",
    "Location",
]
