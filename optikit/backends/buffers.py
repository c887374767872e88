"""The NumPy backend's full-data pass without temporary arrays: each operation writes into a
buffer allocated once per evaluator (``out=``), and each output is summed as soon as it is made.

The source is rewritten from what ``sympy.lambdify`` prints for the same expressions and cse
(parsed with :mod:`ast`; text printed here from vetted trees, never a spec's text), operation for
operation: ``a*b`` becomes ``numpy.multiply(a, b, out=...)``, ``x**2`` ``numpy.square`` (what
NumPy does for it), ``numpy.exp(a)`` ``numpy.exp(a, out=...)``. So every value is the one
lambdify's code computes, bit for bit. A subtree that does not depend on the rows stays a
scalar expression; a construct with no ``out=`` form (``select`` of a ``Piecewise``) is
evaluated as printed. An output that is a power of two times a product is summed without the
factor, and the sum then scaled: the same float, since scaling by a power of two is exact
(away from overflow and underflow).
"""

from __future__ import annotations

import ast
import functools
from typing import Any, Callable, Sequence

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from ..symbolic.shared import two_power
from .scalar import SCALAR_FUNCTIONS
from .codegen import define_function

__all__ = ["BufferedPass", "buffered_pass"]

_BINOPS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "true_divide"}


class _Emitter:
    def __init__(self, names: dict[str, str], arrays: set[str]) -> None:
        self.names, self.arrays = names, set(arrays)
        self.lines: list[str] = []
        self.free: list[int] = []
        self.count = 0

    def buffer(self) -> int:
        if self.free:
            return self.free.pop()
        self.count += 1
        return self.count - 1

    def release(self, operand: tuple[str, int | None]) -> None:
        if operand[1] is not None:
            self.free.append(operand[1])

    def scalar_text(self, node: ast.expr) -> str:
        return ast.unparse(_Rename(self.names).visit(node))

    def is_array(self, node: ast.expr) -> bool:
        return any(isinstance(n, ast.Name) and n.id in self.arrays for n in ast.walk(node))

    def emit(self, node: ast.expr, target: int | None = None) -> tuple[str, int | None]:
        """``(text, buffer)`` of ``node``'s value; ``buffer`` is the temporary it lives in, if any."""
        if not self.is_array(node):
            return f"({self.scalar_text(node)})", None
        if isinstance(node, ast.Name):
            return self.names[node.id], None
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._ufunc(_BINOPS[type(node.op)], [node.left, node.right], target)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not self.is_array(node.right):
            if isinstance(node.right, ast.Constant) and node.right.value == 2:
                return self._ufunc("square", [node.left], target)
            return self._ufunc("power", [node.left, node.right], target)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self._ufunc("negative", [node.operand], target)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abs" and len(node.args) == 1:
            return self._ufunc("absolute", node.args, target)  # what abs() of an array calls
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "numpy" and isinstance(getattr(np, node.func.attr, None), np.ufunc)
                and not node.keywords):
            return self._ufunc(node.func.attr, node.args, target)
        return f"({ast.unparse(_Rename(self.names).visit(node))})", None  # no out= form: as printed

    def _ufunc(self, name: str, args: Sequence[ast.expr], target: int | None) -> tuple[str, int | None]:
        operands = [self.emit(a) for a in args]
        for op in operands:
            self.release(op)
        k = self.buffer() if target is None else target
        self.lines.append(f"numpy.{name}({', '.join(t for t, _ in operands)}, out=B[{k}])")
        if k in self.free:
            self.free.remove(k)
        return f"B[{k}]", k


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names:
            return ast.copy_location(ast.Name(self.names[node.id], node.ctx), node)
        if node.id in ("numpy", "functools", "abs", *SCALAR_FUNCTIONS):
            return node
        raise NotImplementedError(f"unexpected name {node.id!r} in printed code")


def _scaled(value: sympy.Expr) -> tuple[float, sympy.Expr]:
    """``(2**k, rest)`` with ``value = 2**k * rest``, or ``(1, value)``: a power of two is taken
    out of the sum (one product a row less), which scales every partial sum exactly."""
    coeff, rest = value.as_coeff_Mul()
    if coeff.is_Rational and coeff > 0 and coeff != 1 and rest != 1:
        k = two_power(coeff)
        if coeff == sympy.Integer(2) ** k:
            return float(coeff), rest
    return 1, value


class BufferedPass:
    """``__call__(params, columns, total)``: the list of ``total(value)`` for each expression over all rows."""

    def __init__(self, fn: Callable[..., list[float]], buffers: int, n: int) -> None:
        self.fn = fn
        self.buffers = np.empty((buffers, n)) if buffers else np.empty((0, n))

    def __call__(self, params: Sequence[float], columns: Sequence[np.ndarray], total: Callable[[Any], float]) -> list[float]:
        return self.fn(self.buffers, total, *params, *columns)


def buffered_pass(params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr],
                  cse: Any, n: int, namespace: dict[str, Any]) -> BufferedPass | None:
    """The buffered form of lambdify's function of ``exprs`` over ``n`` rows, or ``None`` when its
    printed code has a form not rewritten here (the caller keeps lambdify's)."""
    subs, outs = cse(list(exprs)) if callable(cse) else sympy.cse(list(exprs), list=False)
    printer = NumPyPrinter({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True,
                            "user_functions": {}})
    names = {str(s): f"p_{i}" for i, s in enumerate(params)}
    names.update({str(s): f"c_{i}" for i, s in enumerate(columns)})
    arrays = {str(s) for s in columns}
    try:
        emitter = _Emitter(names, arrays)
        for sym, value in subs:
            node = ast.parse(printer.doprint(value), mode="eval").body
            names[str(sym)] = f"t_{len(names)}"
            if emitter.is_array(node):
                emitter.arrays.add(str(sym))
                text, k = emitter.emit(node)
                if k is not None:  # a cse value lives on: its buffer is not handed out again
                    emitter.free = [f for f in emitter.free if f != k]
                emitter.lines.append(f"{names[str(sym)]} = {text}")
            else:
                emitter.lines.append(f"{names[str(sym)]} = {emitter.scalar_text(node)}")
        totals = []
        for j, value in enumerate(outs):
            scale, value = _scaled(value)
            node = ast.parse(printer.doprint(value), mode="eval").body
            text, k = emitter.emit(node)
            emitter.lines.append(f"o_{j} = total({text})" if scale == 1 else f"o_{j} = total({text}) * {scale!r}")
            emitter.release((text, k))
            totals.append(f"o_{j}")
    except (NotImplementedError, SyntaxError, KeyError):
        return None
    cols = [f"c_{i}" for i in range(len(columns))]
    head = f"def buffered(B, total, {', '.join([*(f'p_{i}' for i in range(len(params))), *cols])}):"
    src = "\n    ".join([head, *emitter.lines, f"return [{', '.join(totals)}]"]) + "\n"
    scope = {"numpy": np, "functools": functools, **SCALAR_FUNCTIONS, **namespace}
    return BufferedPass(define_function(src, "buffered", scope, "<optikit buffered pass>"), emitter.count, n)
