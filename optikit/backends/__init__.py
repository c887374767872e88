"""Backends: a symbolic problem compiled against a data source into an evaluator of partial sums.

The built-in ``numpy`` and ``numba`` backends register through the public ``optikit_register_backends`` hook,
like a plugin's would; ``numba`` needs the extra ``optikit[fast]``.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from .base import Backend, BatchOracle, Evaluator, Sums
from .compile import Data, compile_problem, find_backend, open_data, open_split
from .numba_backend import NumbaBackend
from .numpy import NumpyBackend
from .problem import Problem

__all__ = ["Backend", "Evaluator", "Sums", "BatchOracle", "NumpyBackend", "NumbaBackend", "Problem", "DEFAULT_BACKEND", "Data",
           "compile_problem", "find_backend", "open_data", "open_split"]

DEFAULT_BACKEND = "numpy"


@hookimpl
def optikit_register_backends(register) -> None:
    register(NumpyBackend)
    register(NumbaBackend)  # numba itself is imported when the backend compiles (optikit[fast])
