"""Generated data: ``generate: {rows, seed, columns: {name: expression}}``, seeded and reproducible.

Each column's expression is read by the spec's own safe parser (:func:`optikit.expr.parse`); calls
of the random functions in :data:`RANDOM` (constant arguments only) are taken out first and stand
for fresh draws, ``rows`` of them each, in the order the calls are written, column after column,
from one ``numpy.random.default_rng(seed)``. A column may use the columns before it. The
expression is then evaluated over NumPy arrays the way a model is (a checked SymPy tree printed
by ``lambdify``), never by evaluating the spec's text.
"""

from __future__ import annotations

import ast
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import sympy

from .. import expr
from ..errors import ExpressionError
from .ref import DataError, DataRef
from .source import ArraySource

__all__ = ["RANDOM", "generate_ref", "generate"]

#: Random functions of ``generate`` columns: name -> (arguments, draw(rng, rows, *arguments)).
RANDOM: Mapping[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = MappingProxyType({
    "uniform": (("low", "high"), lambda g, n, a, b: g.uniform(a, b, n)),
    "normal": (("mean", "std"), lambda g, n, m, s: g.normal(m, s, n)),
    "lognormal": (("mean", "sigma"), lambda g, n, m, s: g.lognormal(m, s, n)),
    "exponential": (("scale",), lambda g, n, s: g.exponential(s, n)),
    "gamma": (("shape", "scale"), lambda g, n, k, s: g.gamma(k, s, n)),
    "bernoulli": (("p",), lambda g, n, p: g.binomial(1, p, n).astype(float)),
    "poisson": (("lam",), lambda g, n, lam: g.poisson(lam, n).astype(float)),
})
MAX_ROWS = 10**8
FIELD = ("data", "generate")


def _draws(text: str, where: tuple) -> tuple[str, list[tuple[str, tuple[float, ...]]]]:
    """``text`` with each random call replaced by a placeholder name, and the calls in order."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return text, []  # the parser below reports it, with its position
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                    and n.func.id in RANDOM), key=lambda n: n.col_offset)
    src, offset, out, pieces = text.strip(), 0, [], []
    for i, call in enumerate(calls):
        if call.lineno != call.end_lineno or any(c.col_offset < call.end_col_offset for c in calls[i + 1:i + 2]):
            raise DataError(f"{call.func.id}(...) must be on one line and not contain another random call", where)
        names, draw = RANDOM[call.func.id]
        if len(call.args) != len(names) or call.keywords:
            raise DataError(f"{call.func.id} takes {len(names)} arguments ({', '.join(names)})", where)
        args = []
        for arg in call.args:
            piece = ast.get_source_segment(src, arg) or ""
            try:
                value = expr.parse(piece, {})
            except ExpressionError as exc:
                raise DataError(f"argument {piece!r} of {call.func.id}: {exc.message}", where) from None
            if not value.is_number:
                raise DataError(f"the arguments of {call.func.id} must be numbers", where)
            args.append(float(value))
        pieces.append(src[offset:call.col_offset])
        pieces.append(f"random_draw_{i}_")
        offset = call.end_col_offset
        out.append((call.func.id, tuple(args)))
    return "".join(pieces) + src[offset:], out


def generate_ref(section: Any) -> DataRef:
    """A :class:`DataRef` for ``data: {generate: {rows, seed, columns}}``, its expressions checked."""
    if not isinstance(section, Mapping):
        raise DataError("expected a mapping with rows, seed and columns", FIELD)
    unknown = [k for k in section if k not in ("rows", "seed", "columns")]
    if unknown:
        raise DataError(f"unknown key {unknown[0]!r}; keys: rows, seed, columns", (*FIELD, unknown[0]))
    rows, seed, columns = section.get("rows"), section.get("seed"), section.get("columns")
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_ROWS:
        raise DataError(f"expected a whole number of rows from 1 to {MAX_ROWS}", (*FIELD, "rows"))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError("expected a seed: a whole number >= 0 (generated data must be reproducible)", (*FIELD, "seed"))
    if not isinstance(columns, Mapping) or not columns:
        raise DataError("expected a mapping of column names to expressions", (*FIELD, "columns"))
    plans = []
    symbols: dict[str, sympy.Symbol] = {}
    for name, text in columns.items():
        where = (*FIELD, "columns", name)
        try:
            symbol = expr.make_symbol(name)
        except ExpressionError as exc:
            raise DataError(exc.message, where, hint=exc.hint) from None
        if name.startswith("random_draw_"):  # the names the random calls are rewritten to
            raise DataError(f"column names starting with 'random_draw_' are reserved; rename {name!r}", where)
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise DataError("expected an expression", where)
        rewritten, draws = _draws(str(text), where)
        local = {**symbols, **{f"random_draw_{i}_": sympy.Symbol(f"random_draw_{i}_", real=True)
                               for i in range(len(draws))}}
        try:
            tree = expr.parse(rewritten, local)
        except ExpressionError as exc:
            raise DataError(exc.message, where, hint="a column may use the columns before it and the random "
                                                     "functions " + ", ".join(RANDOM)) from None
        plans.append((name, tree, tuple(draws)))
        symbols[name] = symbol
    return DataRef("generate", tuple(columns), options=MappingProxyType(
        {"rows": rows, "seed": seed, "plans": tuple(plans)}))


def generate(ref: DataRef) -> ArraySource:
    """The rows a ``generate`` reference describes: the same for the same seed, on every machine
    with the same NumPy bit generator."""
    n, rng = ref.options["rows"], np.random.default_rng(ref.options["seed"])
    columns: dict[str, np.ndarray] = {}
    for name, tree, draws in ref.options["plans"]:
        try:
            values = {f"random_draw_{i}_": RANDOM[fn][1](rng, n, *args) for i, (fn, args) in enumerate(draws)}
        except ValueError as exc:  # NumPy refuses the arguments (a negative scale, low > high, ...)
            calls = ", ".join(f"{fn}({', '.join(f'{a:g}' for a in args)})" for fn, args in draws)
            raise DataError(f"cannot draw {calls}: {exc}", (*FIELD, "columns", name)) from None
        values.update(columns)
        free = sorted(tree.free_symbols, key=lambda s: s.name)
        fn = sympy.lambdify(free, tree, modules="numpy")
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(fn(*(values[s.name] for s in free)), dtype=float), (n,)).copy()
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            raise DataError(f"row {int(bad[0])} of column {name!r} is {out[bad[0]]}, not a finite number", (*FIELD, "columns", name))
        columns[name] = out
    return ArraySource(columns, FIELD)
