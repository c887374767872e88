"""Vector parameters and inputs, kept compact: sums over elements are differentiated by the chain rule.

A model such as ``sigmoid(dot(w, x) + b)`` with ``w`` of 1000 elements is never written out as
1000 scalar terms. Each ``sum(body)`` (``dot(w, x)`` is ``sum(w*x)``) becomes one per-row symbol
``R``; inside ``body`` a vector stands for one of its elements. Then, for a per-row scalar ``f``::

    df/db    = ∂f/∂b + Σ_k ∂f/∂R_k · sum(∂body_k/∂b)          (b scalar: a new sum, another R)
    df/dw[j] = Σ_k ∂f/∂R_k · (∂body_k/∂w)[j]                   (w vector: element-wise)

so the gradient of a vector parameter is a few :class:`Term` s, each a per-row weight times an
element-wise factor; summed over rows, a factor that is an input column ``x`` gives ``X.T @ weight``.
The backend decides how to evaluate each piece (:mod:`optikit.backends.vectors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Mapping, Sequence

import sympy

from ..errors import ExpressionError
from ..expr.special import vsum

__all__ = ["Reduction", "Term", "Derivative", "VectorForm", "VectorModel", "without_kinks"]


@dataclass(frozen=True)
class Reduction:
    """A per-row ``symbol`` standing for ``sum(body)`` over the elements of the vectors in ``like``."""

    symbol: sympy.Symbol
    body: sympy.Expr
    #: the names whose length this sum runs over: the symbols of ``body``, or of the sum it was derived from
    like: tuple[str, ...]


@dataclass(frozen=True)
class Term:
    """One piece of a vector parameter's gradient: ``weight`` (per row) times ``factor`` (per element)."""

    weight: sympy.Expr
    factor: sympy.Expr


@dataclass(frozen=True)
class Derivative:
    """The derivatives of a per-row scalar by each declared parameter: an expression per row for a
    scalar parameter, the terms of an element-wise expression for a vector parameter."""

    scalar: Mapping[str, sympy.Expr]
    vector: Mapping[str, tuple[Term, ...]]

    def shown(self, form: VectorForm, name: str) -> sympy.Expr:
        """The derivative by ``name`` as one readable expression (sums written out as ``sum(...)``)."""
        if name in self.scalar:
            return form.restore(self.scalar[name])
        return form.restore(sympy.Add(*[t.weight * t.factor for t in self.vector[name]]))


class VectorForm:
    """The sums of one problem and the chain rule through them.

    ``vectors``: the vector parameters' names; ``params``: every declared parameter's symbol, in order.
    """

    def __init__(self, params: Sequence[sympy.Symbol], vectors: Iterable[str]) -> None:
        self.params = list(params)
        self.vectors = frozenset(vectors)
        self._sums: dict[sympy.Symbol, Reduction] = {}  # by symbol, in the order they were made
        self._known: dict[tuple[sympy.Expr, tuple[str, ...]], sympy.Symbol] = {}

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return list(self._sums)

    @property
    def reductions(self) -> list[Reduction]:
        return list(self._sums.values())

    def reduction(self, symbol: sympy.Symbol) -> Reduction:
        return self._sums[symbol]

    def _sum(self, body: sympy.Expr, like: tuple[str, ...] | None = None) -> sympy.Symbol:
        like = like if like is not None else tuple(sorted(s.name for s in body.free_symbols))
        key = (body, like)
        if key not in self._known:
            # a name no spec can use (names are identifiers), so the per-row values never clash with a column
            symbol = sympy.Symbol(f"sum.{len(self._sums)}", real=True)
            self._sums[symbol] = Reduction(symbol, body, like)
            self._known[key] = symbol
        return self._known[key]

    def lift(self, e: sympy.Expr, what: str = "the model") -> sympy.Expr:
        """``e`` with each ``sum(...)`` replaced by its per-row symbol; a vector parameter left
        outside every sum is refused, since the loss of a row must be one number."""
        lifted = e.replace(lambda n: isinstance(n, vsum), lambda n: self._sum(n.args[0]))
        loose = sorted(s.name for s in lifted.free_symbols if s.name in self.vectors)
        if loose:
            raise ExpressionError(f"the vector parameter {loose[0]!r} is used in {what} outside sum() or dot(); "
                                  "a row's value must be one number", hint=f"reduce it, e.g. dot({loose[0]}, x) or "
                                  f"sum({loose[0]}**2)")
        return lifted

    def restore(self, e: sympy.Expr) -> sympy.Expr:
        """The per-row symbols in ``e`` written back as ``sum(...)``, for people to read."""
        return e.xreplace({r.symbol: vsum(r.body) for r in self.reductions})

    def derivative(self, f: sympy.Expr, second: bool = False) -> Derivative:
        """The derivatives of the lifted per-row scalar ``f`` by every parameter (chain rule above).

        ``second``: ``f`` is a first derivative; a kink's DiracDelta is dropped, as for the
        Hessian of a scalar problem (zero everywhere but on the kink, where none exists)."""
        if second:
            return self._without_kinks(self.derivative(f))
        sums = [self.reduction(s) for s in sorted(f.free_symbols & set(self.symbols), key=lambda s: s.name)]
        outer = {r.symbol: sympy.diff(f, r.symbol) for r in sums}
        scalar: dict[str, sympy.Expr] = {}
        vector: dict[str, tuple[Term, ...]] = {}
        for p in self.params:
            if p.name in self.vectors:
                vector[p.name] = tuple(Term(outer[r.symbol], sympy.diff(r.body, p)) for r in sums
                                       if p in r.body.free_symbols and outer[r.symbol] != 0)
                continue
            total = sympy.diff(f, p)
            for r in sums:
                inner = sympy.diff(r.body, p)
                if inner != 0 and outer[r.symbol] != 0:
                    total += outer[r.symbol] * self._sum(inner, r.like)
            scalar[p.name] = total
        return Derivative(scalar, vector)

    def _without_kinks(self, d: Derivative) -> Derivative:
        for r in self.reductions:  # sums the derivative made may hold a DiracDelta too
            self._sums[r.symbol] = Reduction(r.symbol, without_kinks(r.body), r.like)
        return Derivative({n: without_kinks(e) for n, e in d.scalar.items()},
                          {n: tuple(Term(without_kinks(t.weight), without_kinks(t.factor)) for t in terms)
                           for n, terms in d.vector.items()})


def without_kinks(e: sympy.Expr) -> sympy.Expr:
    """``e`` with the DiracDelta of a kink's second derivative replaced by zero."""
    return e.replace(sympy.DiracDelta, lambda *a: sympy.S.Zero) if e.has(sympy.DiracDelta) else e


class VectorModel:
    """The lifted pieces of a problem with sums over vectors: what a backend evaluates.

    ``loss`` and ``model`` are per-row scalars over the parameters, the columns and the sums'
    symbols; ``grad`` is their :class:`Derivative`. The residual of a least-squares loss and its
    Jacobian are lifted when first asked for (they may add sums to ``form``).
    """

    def __init__(self, form: VectorForm, loss: sympy.Expr, model: sympy.Expr | None) -> None:
        self.form = form
        self.model = form.lift(model) if model is not None else None  # first: its errors name the model
        self.loss = form.lift(loss, "the loss")
        self.grad = form.derivative(self.loss)
        self._residual: tuple[sympy.Expr, Derivative] | None = None

    @cached_property
    def model_derivative(self) -> Derivative:
        """The model's derivatives by every parameter (for prediction bands)."""
        assert self.model is not None
        return self.form.derivative(self.model)

    @cached_property
    def second(self) -> dict[tuple[str, int], Derivative]:
        """What the Hessian is assembled from: the derivative of each scalar parameter's gradient
        (key ``(name, -1)``) and of the weight of each term of a vector's gradient (``(name, t)``)."""
        out = {(n, -1): self.form.derivative(g, second=True) for n, g in self.grad.scalar.items()}
        for n, terms in self.grad.vector.items():
            out.update({(n, t): self.form.derivative(term.weight, second=True) for t, term in enumerate(terms)})
        return out

    def residual(self, residual: sympy.Expr) -> tuple[sympy.Expr, Derivative]:
        """The lifted residual and its Jacobian (``residual``: the problem's, with its sums)."""
        if self._residual is None:
            lifted = self.form.lift(residual, "the residual")
            self._residual = (lifted, self.form.derivative(lifted))
        return self._residual

    def trees(self) -> list[tuple[str, sympy.Expr]]:
        """Every expression a backend will evaluate, with what it is, for checks before compiling."""
        out = [("loss", self.loss)]
        out += [(f"gradient of {n}", g) for n, g in self.grad.scalar.items()]
        out += [(f"gradient of {n}", e) for n, terms in self.grad.vector.items() for t in terms
                for e in (t.weight, t.factor)]
        return out + [(f"sum({r.body})", r.body) for r in self.form.reductions]
