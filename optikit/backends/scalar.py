"""Scalar forms of the functions NumPy evaluates through ``logaddexp``: ``sigmoid``, ``softplus``.

Plain Python on floats, so the NumPy backend's row-by-row path and the compiled backends
(which compile these same functions) use one definition; each follows NumPy's
``npy_logaddexp`` step for step.
"""

from __future__ import annotations

import math

__all__ = ["logaddexp", "sigmoid", "softplus", "SCALAR_FUNCTIONS"]

_LOGE2 = math.log(2.0)


def logaddexp(x: float, y: float) -> float:
    """``log(exp(x) + exp(y))`` without overflow, as NumPy's ``npy_logaddexp`` computes it."""
    if x == y:  # handles infinities of the same sign
        return x + _LOGE2
    tmp = x - y
    if tmp > 0:
        return x + math.log1p(math.exp(-tmp))
    if tmp <= 0:
        return y + math.log1p(math.exp(tmp))
    return tmp  # NaN


def sigmoid(z: float) -> float:
    """``1/(1 + exp(-z))`` as ``exp(-logaddexp(0, -z))``, the NumPy backend's form."""
    return math.exp(-logaddexp(0.0, -z))


def softplus(z: float) -> float:
    """``log(1 + exp(z))`` as ``logaddexp(0, z)``."""
    return logaddexp(0.0, z)


#: The names scalar code of a SymPy tree calls beyond ``math``.
SCALAR_FUNCTIONS = {"sigmoid": sigmoid, "softplus": softplus}
