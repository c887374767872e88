"""Backends: a symbolic problem compiled against a data source into an evaluator of partial sums.

The built-in ``numpy`` backend registers through the public ``optikit_register_backends`` hook,
like a plugin's would.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from .base import Backend, BatchOracle, Evaluator, Sums
from .compile import Data, compile_problem, find_backend, open_data
from .numpy import NumpyBackend
from .problem import Problem

__all__ = ["Backend", "Evaluator", "Sums", "BatchOracle", "NumpyBackend", "Problem", "DEFAULT_BACKEND", "Data",
           "compile_problem", "find_backend", "open_data"]

DEFAULT_BACKEND = "numpy"


@hookimpl
def optikit_register_backends(register) -> None:
    register(NumpyBackend)
