"""A per-sample epoch printed as one Python function: the row's gradient written out inline.

Calling the group's scalar function on every step costs a call, a list and a tuple of its
arguments, about as much as the arithmetic of a small model. Here the loop over the rows, the
gradient (the same expressions, common subexpressions and printed text as ``sympy.lambdify``
makes for ``math``, so the same floats), the finiteness tests, the addition of the step and the
clipping are one function; only the optimizer's in-place rule (``Kernel.step``) is called. The
text is printed from vetted SymPy trees with names chosen here (``p_0``, ``v_0``, ``t_0``),
never a spec's text, and compiled with :func:`~optikit.backends.codegen.define_function`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import sympy
from sympy.printing.pycode import PythonCodePrinter

from .codegen import _Printer, define_function
from .scalar import SCALAR_FUNCTIONS

__all__ = ["per_sample_source", "per_sample_epoch"]


class _MathPrinter(_Printer):
    """The loops' printer with powers printed as lambdify prints them for ``math`` (``x**2``),
    so the values are those of the group's scalar function."""

    def _print_Pow(self, e: sympy.Expr, rational: bool = False) -> str:
        return PythonCodePrinter._print_Pow(self, e, rational)


def per_sample_source(params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol], grads: Sequence[sympy.Expr],
                      cse: Callable[[Any], Any], factor_one: bool, bounded: bool) -> str:
    """Source of ``epoch(step, hyper, state, p, out, lo, hi, factor, count, *columns)`` returning
    ``(state, steps, ok)``: the steps of one row each over the columns' values (lists of floats,
    in the order of the steps), updating the list ``p`` in place; ``ok`` is false at the first
    value that is not finite (``p`` and ``state`` then hold the last finite step). ``cse`` is the
    group's, so the values are those of its scalar function."""
    subs, outs = cse(list(grads))
    k = len(params)
    names = {s: f"p_{i}" for i, s in enumerate(params)}
    names.update({s: f"v_{i}" for i, s in enumerate(columns)})
    names.update({s: f"t_{i}" for i, (s, _) in enumerate(subs)})
    printer = _MathPrinter(names)
    cols = [f"c_{i}" for i in range(len(columns))]
    ps = [f"p_{j}" for j in range(k)]
    lines = [f"def epoch(step, hyper, state, p, out, lo, hi, factor, count{''.join(', ' + c for c in cols)}):"]
    lines.append(f"    {', '.join(ps)}, = p")
    lines.append("    g = [0.0] * len(p)")
    lines.append("    steps = 0")
    if columns:
        lines.append(f"    for {', '.join(f'v_{i}' for i in range(len(columns)))}, in zip({', '.join(cols)}):")
    else:
        lines.append("    for _ in range(count):")
    body = [f"t_{i} = {printer.text(value)}" for i, (_, value) in enumerate(subs)]
    body += [f"g[{j}] = g_{j} = {printer.text(e)}" for j, e in enumerate(outs)]
    # a sum is finite only if every term is; one that overflows ends the epoch early, which the
    # engine then takes step by step (slower, never wrong); a complex value raises here
    body.append(f"if not isfinite({' + '.join(f'g_{j}' for j in range(k))}):")
    body.append("    return state, steps, False")
    body.append("state = step(g, state, p, hyper, out)")
    for j in range(k):
        body.append(f"n_{j} = p_{j} + out[{j}]" if factor_one else f"n_{j} = p_{j} + factor * out[{j}]")
    if bounded:
        body.append(f"if {' or '.join(f'n_{j} != n_{j}' for j in range(k))}:")  # NaN, which the comparisons below would drop
        body.append("    return state, steps, False")
        # np.clip's comparisons, which keep the bound's zero at a tie (min/max keep the value's)
        body += [f"n_{j} = n_{j} if n_{j} > lo[{j}] else lo[{j}]" for j in range(k)]
        body += [f"n_{j} = n_{j} if n_{j} < hi[{j}] else hi[{j}]" for j in range(k)]
    body.append(f"if not isfinite({' + '.join(f'n_{j}' for j in range(k))}):")
    body.append("    return state, steps, False")
    body += [f"p[{j}] = p_{j} = n_{j}" for j in range(k)]
    body.append("steps += 1")
    lines += ["        " + b for b in body]
    lines.append("    return state, steps, True")
    return "\n".join(lines) + "\n"


def per_sample_epoch(params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol], grads: Sequence[sympy.Expr],
                     cse: Callable[[Any], Any], factor_one: bool, bounded: bool) -> Callable[..., Any]:
    """The function :func:`per_sample_source` prints, built from its compiled code."""
    text = per_sample_source(params, columns, grads, cse, factor_one, bounded)
    namespace = {"math": math, "isfinite": math.isfinite, **SCALAR_FUNCTIONS}
    return define_function(text, "epoch", namespace, "<optikit per-sample epoch>")
