"""SymPy expression groups printed as the source of one loop over rows that sums them.

The text is built only from SymPy trees that passed the expression allowlist
(:mod:`optikit.expr`), with every symbol printed as a name chosen here (``p_0``, ``v_0``, ...):
no name or string from a spec reaches the source as written. Numbers
print as SymPy floats and rationals; functions as ``math.*`` or the scalar helpers of
:mod:`optikit.backends.scalar`.

Summation follows the NumPy backend's rule where it can: a batch of up to ``sequential`` rows is
summed in row order (the same digits as NumPy's ``cumsum``); a pass over more rows than that
keeps four interleaved accumulators (rows ``i mod 4``) added at the end, which a compiler can
vectorise without ``fastmath``, and a larger mini-batch of given rows is summed in row order.
A long loop body (many parameters) is not unrolled: its sums are in row order throughout. Outputs that do not depend on the row are computed once and multiplied by the row count.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Sequence

import sympy
from sympy.printing.pycode import PythonCodePrinter

__all__ = ["loop_source", "row_epoch_source", "define_function", "LANES"]

#: Interleaved accumulators per output above the sequential limit.
LANES = 4
#: Loop bodies longer than this (statements) are not unrolled into lanes: compile time grows
#: faster than the body, and a long body has enough independent work per row already.
UNROLL_LIMIT = 48


class _Printer(PythonCodePrinter):
    """Python's printer with every symbol replaced by a name chosen here (``names``)."""

    def __init__(self, names: dict[sympy.Symbol, str]) -> None:
        # lambdify's settings, so terms print in the order (and round the way) the NumPy backend's do
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
        self.names = names

    def _print_Symbol(self, e: sympy.Symbol) -> str:
        return self.names[e]

    def _print_Pow(self, e: sympy.Expr, rational: bool = False) -> str:
        if e.exp == 2:  # what NumPy's x**2 computes (square); a product, which compilers vectorise
            base = self.parenthesize(e.base, sympy.printing.precedence.PRECEDENCE["Mul"])
            return f"({base}*{base})"
        return super()._print_Pow(e, rational)

    def _print_sigmoid(self, e: sympy.Expr) -> str:
        return f"sigmoid({self._print(e.args[0])})"

    def _print_softplus(self, e: sympy.Expr) -> str:
        return f"softplus({self._print(e.args[0])})"

    def text(self, e: sympy.Expr) -> str:
        self._not_supported = set()
        out = self.doprint(e)
        if self._not_supported:
            bad = ", ".join(sorted(type(x).__name__ for x in self._not_supported))
            raise NotImplementedError(f"no scalar code for {bad}")
        return out


def define_function(source: str, name: str, namespace: dict[str, Any], filename: str) -> Callable[..., Any]:
    """The function ``name`` that ``source`` defines, built from its compiled code object.

    ``source`` is one ``def`` that optikit printed from SymPy trees it built and checked (names
    chosen by optikit, never text from a spec); the module around it is not run, only the
    function's own code is bound to ``namespace`` (its globals), as a ``def`` statement would.
    """
    module = compile(source, filename, "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    return types.FunctionType(code, namespace, name)


def _printed(params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr],
             cse: Any) -> tuple[list[tuple[str, str, bool]], list[str], list[bool]]:
    """The statements of ``exprs`` after ``cse`` as ``(name, value, per_row)`` in cse order, the
    outputs' text and whether each output changes from row to row."""
    subs, outs = cse(list(exprs)) if callable(cse) else sympy.cse(list(exprs), list=False)
    names = {s: f"p_{i}" for i, s in enumerate(params)}
    names.update({s: f"v_{i}" for i, s in enumerate(columns)})
    names.update({s: f"t_{i}" for i, (s, _) in enumerate(subs)})
    printer = _Printer(names)
    per_row = set(columns)  # what changes from row to row: the columns and what uses them
    statements = []
    for sym, value in subs:
        varies = bool(value.free_symbols & per_row)
        if varies:
            per_row.add(sym)
        statements.append((names[sym], printer.text(value), varies))
    return statements, [printer.text(e) for e in outs], [bool(e.free_symbols & per_row) for e in outs]


def loop_source(name: str, params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol],
                exprs: Sequence[sympy.Expr], sequential: int, cse: Any = True) -> str:
    """Source of ``name(P, rows, full, out, *columns)``: writes into ``out[k]`` the sum of
    ``exprs[k]`` over the rows (all of them in order when ``full``, else the indices ``rows``).

    ``cse`` is what the NumPy backend hands ``sympy.lambdify`` for the same list (``True`` or a
    callable), so both evaluate the same subexpressions in the same order. Sums start from
    ``-0.0``, the identity of IEEE addition, so the sum of one row is that row's value, the sign
    of a zero included, as NumPy's sums give it.
    """
    statements, texts, varies = _printed(params, columns, exprs, cse)
    hoisted = [f"    {n} = {v}" for n, v, row_wise in statements if not row_wise]
    body = [f"{n} = {v}" for n, v, row_wise in statements if row_wise]
    varying = [k for k, v in enumerate(varies) if v]
    constant = [k for k, v in enumerate(varies) if not v]
    cols = [f"c_{i}" for i in range(len(columns))]
    lines = [f"def {name}(P, rows, full, out{''.join(', ' + c for c in cols)}):"]
    lines += [f"    p_{i} = P[{i}]" for i in range(len(params))]
    lines.append(f"    n = {cols[0]}.shape[0] if full else rows.shape[0]" if cols else "    n = 1 if full else rows.shape[0]")
    lines += hoisted
    lines += [f"    out[{k}] = ({texts[k]}) * n" for k in constant]
    if not varying:
        return "\n".join(lines) + "\n"
    values = [texts[k] for k in varying]

    def row(index: str, lane: str, indent: str) -> list[str]:
        out = [f"{indent}i = {index}"]
        out += [f"{indent}v_{j} = {c}[i]" for j, c in enumerate(cols)]
        out += [indent + b for b in body]
        out += [f"{indent}s_{j}{lane} += {v}" for j, v in enumerate(values)]
        return out
    if len(body) + len(values) > UNROLL_LIMIT:  # one loop, in row order, for every case
        lines += [f"    s_{j} = -0.0" for j in range(len(varying))]
        lines.append("    for j in range(n):")
        lines += row("j if full else rows[j]", "", " " * 8)
        lines += [f"    out[{k}] = s_{j}" for j, k in enumerate(varying)]
        return "\n".join(lines) + "\n"
    lanes = [f"_{q}" for q in range(LANES)]
    lines += [f"    s_{j} = -0.0" for j in range(len(varying))]
    lines += [f"    s_{j}{q} = -0.0" for j in range(len(varying)) for q in lanes]
    # all rows: in order up to the limit, else four lanes (i = j, which compilers vectorise);
    # given rows (mini-batches): in order, whatever their number, to keep the compiled code small
    lines.append(f"    if full and n <= {sequential}:")
    lines.append("        for j in range(n):")
    lines += row("j", "", " " * 12)
    lines.append("    elif full:")
    lines.append(f"        for b in range(0, n - n % {LANES}, {LANES}):")
    for q in range(LANES):
        lines += row(f"b + {q}", lanes[q], " " * 12)
    lines.append(f"        for j in range(n - n % {LANES}, n):")
    lines += row("j", lanes[0], " " * 12)
    lines.append("    else:")
    lines.append("        for j in range(n):")
    lines += row("rows[j]", "", " " * 12)
    lines.append(f"    if full and n > {sequential}:")
    lines += [f"        s_{j} = (s_{j}_0 + s_{j}_1) + (s_{j}_2 + s_{j}_3)" for j in range(len(varying))]
    lines += [f"    out[{k}] = s_{j}" for j, k in enumerate(varying)]
    return "\n".join(lines) + "\n"


def row_epoch_source(name: str, params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol],
                     exprs: Sequence[sympy.Expr], cse: Any = True, tuples: bool = False) -> str:
    """Source of ``name(P, G, D, state, hyper, order, factor, lo, hi, bounded, max_steps, *columns)``:
    per-sample steps over the rows ``order`` (at most ``max_steps``) with an in-place rule
    ``step(G, state, P, hyper, D)`` (a global of the function), returning ``(state, steps, ok)``.

    ``exprs`` are the gradient's components, printed as :func:`loop_source` prints them (the same
    statements, so the same digits as its sum over one row, which starts from ``-0.0``), and
    kept in locals: the parameters live in locals too and are written to ``P`` after each step,
    the gradient to ``G`` before it. With ``tuples`` the rule gets the gradient and the
    parameters as tuples instead of ``G`` and ``P``: their length is then known to the compiler,
    which unrolls the rule's loop over them and keeps the values in registers.

    Each step is the engine's, operation for operation (a one-row mean is the row's value;
    ``p + D`` or ``p + factor * D``; ``np.clip`` with its NaN): ``ok`` is false at the first
    gradient or parameter that is not finite, found by one test of their sum (a sum of finite
    values that overflows also stops it), and the caller then discards ``P`` and ``state`` and
    replays the epoch step by step, which is exact.
    """
    statements, texts, _ = _printed(params, columns, exprs, cse)
    k = len(params)
    cols = [f"c_{i}" for i in range(len(columns))]
    total = lambda prefix: " + ".join(f"{prefix}_{j}" for j in range(k)) or "0.0"  # noqa: E731
    lines = [f"def {name}(P, G, D, state, hyper, order, factor, lo, hi, bounded, max_steps"
             f"{''.join(', ' + c for c in cols)}):"]
    lines += [f"    p_{j} = P[{j}]" for j in range(k)]
    lines += ["    steps = 0", "    for s in range(min(order.shape[0], max_steps)):", "        i = order[s]"]
    lines += [f"        v_{j} = {c}[i]" for j, c in enumerate(cols)]
    lines += [f"        {n} = {v}" for n, v, _ in statements]
    lines += [f"        g_{j} = {texts[j]}" for j in range(k)]
    lines += [f"        if not math.isfinite({total('g')}):", "            return state, steps, False"]
    if tuples:
        as_tuple = lambda prefix: "(" + "".join(f"{prefix}_{j}, " for j in range(k)) + ")"  # noqa: E731
        lines.append(f"        state = step({as_tuple('g')}, state, {as_tuple('p')}, hyper, D)")
    else:
        lines += [f"        G[{j}] = g_{j}" for j in range(k)]
        lines.append("        state = step(G, state, P, hyper, D)")
    lines.append("        if factor == 1.0:")
    lines += [f"            n_{j} = p_{j} + D[{j}]" for j in range(k)]
    lines.append("        else:")
    lines += [f"            n_{j} = p_{j} + factor * D[{j}]" for j in range(k)]
    lines.append("        if bounded:")
    lines += [f"            if n_{j} != n_{j}:\n                return state, steps, False" for j in range(k)]
    # np.clip's comparisons, which keep the bound's zero at a tie (min/max keep the value's)
    lines += [f"            n_{j} = n_{j} if n_{j} > lo[{j}] else lo[{j}]\n"
              f"            n_{j} = n_{j} if n_{j} < hi[{j}] else hi[{j}]" for j in range(k)]
    lines += [f"        if not math.isfinite({total('n')}):", "            return state, steps, False"]
    lines += [f"        P[{j}] = n_{j}\n        p_{j} = n_{j}" for j in range(k)]
    lines += ["        steps += 1", "    return state, steps, True"]
    return "\n".join(lines) + "\n"
