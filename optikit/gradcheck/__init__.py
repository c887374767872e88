"""Gradient checks: derived gradients against finite differences and hand-written ones."""

from .checking import DEFAULT_ATOL, DEFAULT_EPS, DEFAULT_RTOL, check, check_callable, check_problem
from .training import verify_training_gradient

__all__ = ["check", "check_problem", "check_callable", "verify_training_gradient",
           "DEFAULT_EPS", "DEFAULT_ATOL", "DEFAULT_RTOL"]
