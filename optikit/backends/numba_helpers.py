"""The scalar helpers of :mod:`optikit.backends.scalar` compiled with numba, for generated loops
(imported by the numba backend and by its cached loop modules only, so numba loads only when used)."""

from __future__ import annotations

import math
from types import FunctionType

import numba

from . import scalar

__all__ = ["logaddexp", "sigmoid", "softplus", "NAMESPACE"]

logaddexp = numba.njit(scalar.logaddexp)


def _jit_calling_logaddexp(fn: FunctionType) -> numba.core.dispatcher.Dispatcher:
    # the same code object as the scalar helper, its call to logaddexp bound to the compiled one
    return numba.njit(FunctionType(fn.__code__, {**fn.__globals__, "logaddexp": logaddexp}, fn.__name__))


sigmoid = _jit_calling_logaddexp(scalar.sigmoid)
softplus = _jit_calling_logaddexp(scalar.softplus)

#: What a generated loop may call.
NAMESPACE = {"math": math, "logaddexp": logaddexp, "sigmoid": sigmoid, "softplus": softplus}
