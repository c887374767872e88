"""The symbolic problem: per-sample loss and its exact derivatives, pure SymPy."""

from .problem import PARTS, SymbolicProblem, resolve_loss, symbolic_problem

__all__ = ["SymbolicProblem", "symbolic_problem", "resolve_loss", "PARTS"]
