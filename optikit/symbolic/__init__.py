"""The symbolic problem: per-sample loss and its exact derivatives, pure SymPy."""

from .problem import Problem, compile_spec, resolve_loss

__all__ = ["Problem", "compile_spec", "resolve_loss"]
