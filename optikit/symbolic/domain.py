"""Likely domain problems of a spec's expressions, found symbolically: ``log`` of something that can
be zero or negative, a square root of something that can be negative, division by something that
can be zero.

The symbols get what is known of them as SymPy assumptions (a parameter's ``min`` bound, the range
of a data column's values when the data is at hand); an expression whose sign SymPy cannot then
prove is reported. These are warnings, not errors: the optimizer may never leave the safe region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy

from ..errors import Location
from ..expr.special import stabilize
from ..spec import Spec

__all__ = ["DomainWarning", "domain_warnings"]


@dataclass(frozen=True)
class DomainWarning:
    """One likely problem: the field whose expression has it, where that field is, and what it is."""

    field: str
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: warning: {self.message}"


def _assumed(name: str, low: float | None) -> sympy.Symbol:
    if low is not None and low > 0:
        return sympy.Symbol(name, positive=True)
    if low is not None and low >= 0:
        return sympy.Symbol(name, nonnegative=True)
    return sympy.Symbol(name, real=True)


def _problems(tree: sympy.Expr) -> list[str]:
    found: list[str] = []
    for node in sympy.preorder_traversal(tree):
        if isinstance(node, sympy.log):
            arg = node.args[0]
            if arg.is_positive is not True:
                found.append(f"log({arg}): its argument can be zero or negative")
        elif isinstance(node, sympy.Pow):
            base, exp = node.args
            if exp.is_Rational and not exp.is_integer and exp.q % 2 == 0 and base.is_nonnegative is not True:
                root = "sqrt" if abs(exp) == sympy.S.Half else f"a power {exp} of"
                found.append(f"{root}({base}): can be of a negative number")
            if exp.is_negative and base.is_zero is not False:
                found.append(f"division by {base}, which can be zero")
    return list(dict.fromkeys(found))


def domain_warnings(spec: Spec, lows: Mapping[str, float] | None = None) -> list[DomainWarning]:
    """The likely domain problems of ``spec``'s model, loss (when written out) and objective.

    ``lows``: the smallest value of each data column, when the data has been read; a parameter's
    lower bound is taken from its ``min``.
    """
    lows = dict(lows or {})
    for p in spec.parameters:  # a vector's symbol stands for any of its elements, and they share bounds
        lows[p.name] = p.min
    replace = {s: _assumed(name, lows.get(name)) for name, s in spec.symbols.items()}
    trees = []
    if spec.model_expr is not None:
        trees.append(("model", spec.model_expr))
        if spec.loss_expr is not None:  # written out: its own problems, beyond the model's
            trees.append(("loss", spec.loss_expr))
    elif spec.loss_expr is not None:
        trees.append(("objective", spec.loss_expr))
    out: list[DomainWarning] = []
    seen: set[str] = set()
    for field, tree in trees:
        # as the run computes it: log(sigmoid(u)) and log(1 - sigmoid(u)) are rewritten without a log
        for message in _problems(stabilize(tree).xreplace(replace)):
            if message not in seen:  # the model's problems once, at the model
                seen.add(message)
                out.append(DomainWarning(field, spec.where(field), message))
    return out
