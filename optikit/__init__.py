"""optikit: optimizers as plugins, models as YAML, gradients from SymPy.

>>> import optikit
>>> result = optikit.run("specs/seed_gd.yaml")          # doctest: +SKIP
>>> result.parameters["w"]                              # doctest: +SKIP
1.9999999125232637
"""

from __future__ import annotations

from .api import load_data, prepare, run
from .gradcheck.checking import check
from .engine import EpochRecord, History, Result
from .fit import FitReport
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
