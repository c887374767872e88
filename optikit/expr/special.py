"""Functions with a numerically stable NumPy form: ``sigmoid`` and ``softplus``.

They stay unexpanded in SymPy trees (so derivatives read ``sigmoid(z)*(1 - sigmoid(z))``) and
print to NumPy through ``logaddexp``, so neither overflows for large arguments; :func:`stabilize`
turns the logs of a sigmoid that a log-loss produces into softplus terms.
"""

from __future__ import annotations

import sympy

__all__ = ["sigmoid", "softplus", "vsum", "stabilize", "elementary"]


class sigmoid(sympy.Function):  # noqa: N801 - the name is how trees print
    """The logistic function ``1/(1 + exp(-x))``; NumPy evaluates it without overflow."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_real

    def _numpycode(self, printer: object) -> str:
        return f"numpy.exp(-numpy.logaddexp(0, -({printer._print(self.args[0])})))"


class softplus(sympy.Function):  # noqa: N801
    """``log(1 + exp(x))``; NumPy evaluates it as ``logaddexp(0, x)``, without overflow."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(x))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _numpycode(self, printer: object) -> str:
        return f"numpy.logaddexp(0, {printer._print(self.args[0])})"


class vsum(sympy.Function):  # noqa: N801
    """The sum over the elements of a vector expression (``sum(w**2)``, ``dot(w, x)``): a scalar per row.

    Its argument is written element by element: inside it a vector parameter or input stands for
    one element, and scalars are the same for every element. It stays unevaluated: the symbolic
    layer differentiates through it by the chain rule, which keeps a model over a thousand inputs
    one short expression (:mod:`optikit.symbolic.vectors`).
    """

    nargs = 1

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    # a vector has at least one element, so the sum has its body's sign (the domain checks read it)
    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_nonnegative

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_positive

    def _sympystr(self, printer: object) -> str:
        return f"sum({printer._print(self.args[0])})"

    def _latex(self, printer: object) -> str:
        return rf"\sum_k \left({printer._print(self.args[0])}\right)_k"


_W = sympy.Wild("u")


def elementary(e: sympy.Expr) -> sympy.Expr:
    """``e`` with sigmoid and softplus written out in exp and log, for symbolic comparisons."""
    return e.replace(sigmoid, lambda u: 1 / (1 + sympy.exp(-u))).replace(softplus, lambda u: sympy.log(1 + sympy.exp(u)))


def stabilize(e: sympy.Expr) -> sympy.Expr:
    """Rewrite ``log(sigmoid(u))`` as ``-softplus(-u)`` and ``log(1 - sigmoid(u))`` as ``-softplus(u)``.

    Equal functions, but the log-loss of a confident, correct prediction stays finite (about
    1e-26 rather than ``0*log(0) = nan``) and so do its derivatives.
    """
    e = e.replace(sympy.log(sigmoid(_W)), lambda u: -softplus(-u))
    return e.replace(sympy.log(1 - sigmoid(_W)), lambda u: -softplus(u))
