"""Spec to :class:`SymbolicProblem`: the per-sample loss and its exact derivatives, pure SymPy.

SymPy differentiates the per-sample loss once; the Hessian, the residual and its Jacobian are
derived on first use. Every expression takes its arguments in one fixed order: the parameters
as the spec declares them, then the data columns it uses. Nothing here holds or evaluates data:
a backend (:mod:`optikit.backends`) compiles these expressions into an evaluator over a source.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Mapping

import sympy

from .. import expr
from ..errors import ExpressionError, SpecError, did_you_mean
from ..expr.special import stabilize, vsum
from ..spec import MODEL, Spec
from . import cache
from .derivative import gradient
from .vectors import VectorForm, VectorModel

__all__ = ["SymbolicProblem", "symbolic_problem", "resolve_loss", "least_squares_form", "PARTS"]

#: The expression groups a backend can evaluate: name -> what it is, per row.
PARTS = {
    "loss": "the per-sample loss",
    "grad": "the gradient the optimizer trains with (SymPy's, or the spec's hand-written one)",
    "derived": "SymPy's gradient of the loss",
    "hessian": "the second derivatives of the training gradient, row-major",
    "residual": "r, where the per-sample loss is r**2 (least squares)",
    "jacobian": "the derivatives of the residual by each parameter",
    "model": "the model's prediction",
}


def resolve_loss(spec: Spec, losses: Mapping[str, str]) -> sympy.Expr:
    """The per-sample loss of ``spec`` as a SymPy expression; a named loss is looked up in
    ``losses`` (name -> expression text in ``model`` and ``target``, as the registry holds them)."""
    if spec.loss_expr is not None:
        return spec.loss_expr
    if spec.loss not in losses:
        raise spec.error(f"unknown loss {spec.loss!r}; named losses: {', '.join(sorted(losses))}", "loss",
                         hint=did_you_mean(spec.loss, losses) or "or write a per-sample expression in 'model'")
    model, target = sympy.Symbol(MODEL, real=True), sympy.Symbol("target", real=True)
    try:
        template = expr.parse(losses[spec.loss], {MODEL: model, "target": target})
    except ExpressionError as exc:
        raise spec.error(f"named loss {spec.loss!r} has an invalid expression: {exc.message}", "loss") from None
    return template.subs({model: spec.model_expr, target: spec.symbols[spec.target]})


def symbolic_problem(spec: Spec, losses: Mapping[str, str], *, use_hand_gradient: bool = False) -> SymbolicProblem:
    """Differentiate ``spec``'s loss (bounded in time and memory) into its :class:`SymbolicProblem`.

    With ``use_hand_gradient`` and a spec that has a top-level ``gradient``, ``grad_exprs`` (what
    the optimizer trains with) are the hand-written expressions; SymPy's stay in
    ``derived_grad_exprs``.
    """
    loss = resolve_loss(spec, losses)
    if spec.sigma is not None:
        loss = _weighted(spec, loss)
    loss = stabilize(loss)
    params = [spec.symbols[p.name] for p in spec.parameters]
    if spec.vector_parameters or loss.has(vsum):
        return _vector_problem(spec, loss, params)
    derived, cse = cache.derive(spec, loss, params)  # time- and memory-bounded for large trees; cached on disk
    derived = grads = tuple(derived)
    if use_hand_gradient and spec.gradient:
        grads = tuple(spec.gradient[p.name] for p in spec.parameters)
    problem = SymbolicProblem(spec=spec, loss_expr=loss, grad_exprs=grads, derived_grad_exprs=derived, cse=cse)
    seen: dict = {}  # the gradient's components share the loss's subtrees: each is checked once
    for name, tree in [("loss", loss), *[(f"gradient of {p}", g) for p, g in zip(params, grads)]]:
        problem.check(tree, name, seen)
    return problem


def _vector_problem(spec: Spec, loss: sympy.Expr, params: list[sympy.Symbol]) -> SymbolicProblem:
    """The problem of a spec with vector parameters or sums, kept compact (:mod:`.vectors`)."""
    where = "model" if spec.model is not None else "objective"
    if spec.gradient or (spec.check is not None and spec.check.gradient):
        field = "gradient" if spec.gradient else "check"
        raise spec.error("hand-written gradients are not supported with vector parameters or sum()/dot()", field)
    form = VectorForm(params, [p.name for p in spec.vector_parameters])
    if spec.model_expr is not None:
        try:
            form.lift(spec.model_expr)
        except ExpressionError as exc:
            raise spec.error(exc.message, "model", hint=exc.hint) from None
    try:
        vectors = VectorModel(form, loss, spec.model_expr)
    except ExpressionError as exc:
        raise spec.error(exc.message, "loss" if spec.loss_expr is not None and spec.model else where,
                         hint=exc.hint) from None
    shown = tuple(vectors.grad.shown(form, p.name) for p in spec.parameters)
    problem = SymbolicProblem(spec=spec, loss_expr=loss, grad_exprs=shown, derived_grad_exprs=shown, vectors=vectors)
    for what, tree in vectors.trees():
        problem.check(tree, what)
    return problem


def least_squares_form(loss: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr] | None:
    """``(c, r)`` with ``loss == c * r**2`` and ``c > 0`` constant, or None when the loss is not a
    square (SymPy writes ``((m - y)/s)**2`` as ``(m - y)**2 * s**-2``, so every factor's power is halved)."""
    coeff, rest = loss.as_coeff_Mul()
    if not coeff.is_positive:
        return None
    powers = rest.as_powers_dict()
    if not powers or any(not (e.is_Integer and e % 2 == 0 and e != 0) for e in powers.values()):
        return None
    return coeff, sympy.Mul(*[b ** (e / 2) for b, e in powers.items()])


def _weighted(spec: Spec, loss: sympy.Expr) -> sympy.Expr:
    """The per-sample loss ``c * (r / sigma)**2``: chi-square, as curve_fit minimizes with ``sigma``."""
    form = least_squares_form(loss)
    if form is None:
        raise spec.error("'sigma' weights a least-squares loss (per-sample r**2, such as mse); this loss is not one",
                         "sigma")
    coeff, residual = form
    return coeff * (residual / spec.symbols[spec.sigma]) ** 2


@dataclass(frozen=True, eq=False)
class SymbolicProblem:
    """A spec's loss and its derivatives as SymPy expressions, with the parameter layout.

    ``part(name)`` gives each group of expressions a backend evaluates (see :data:`PARTS`);
    ``extra`` adds groups of one's own (a gradient check adds the hand-written gradient).
    """

    spec: Spec
    loss_expr: sympy.Expr
    grad_exprs: tuple[sympy.Expr, ...]
    #: SymPy's derivative of the loss; differs from ``grad_exprs`` only when training with a hand gradient
    derived_grad_exprs: tuple[sympy.Expr, ...]
    #: what ``sympy.lambdify`` is to use as ``cse`` for ``[loss, *grad]`` (precomputed for large trees)
    cse: Any = True
    extra: Mapping[str, tuple[sympy.Expr, ...]] = field(default_factory=dict)
    #: the lifted form of a problem with vector parameters or sums; ``None`` for a scalar problem
    vectors: VectorModel | None = None

    # ---- layout ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self.spec.parameter_names

    @property
    def derivative_names(self) -> tuple[str, ...]:
        """What each of ``grad_exprs`` is the derivative by: a scalar's name, ``w[j]`` for a vector
        (whose derivative is written element-wise: in it ``w`` and ``x`` stand for their j-th elements)."""
        return tuple(p.name if p.shape is None else f"{p.name}[j]" for p in self.spec.parameters)

    @property
    def params(self) -> list[sympy.Symbol]:
        """The declared parameters' symbols (a vector parameter's stands for any of its elements)."""
        return [self.spec.symbols[p.name] for p in self.spec.parameters]

    @property
    def initial(self) -> tuple[float, ...]:
        return tuple(p.init for p in self.spec.flat_parameters)

    @property
    def lower(self) -> tuple[float, ...]:
        """Lower bounds, ``-inf`` where there is none."""
        return tuple(float("-inf") if p.min is None else p.min for p in self.spec.flat_parameters)

    @property
    def upper(self) -> tuple[float, ...]:
        return tuple(float("inf") if p.max is None else p.max for p in self.spec.flat_parameters)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The data columns the loss uses, in the spec's column order."""
        return self.columns_of(self.loss_expr)

    def columns_of(self, *exprs: sympy.Expr) -> tuple[str, ...]:
        """The data columns that ``exprs`` use, in the spec's column order."""
        used = {s.name for e in exprs for s in e.free_symbols}
        return tuple(c for c in self.spec.columns if c in used)

    def symbol(self, name: str) -> sympy.Symbol:
        return self.spec.symbols[name]

    # ---- expression groups ---------------------------------------------------------------
    def part(self, name: str) -> tuple[sympy.Expr, ...]:
        """The expressions of group ``name`` (one of :data:`PARTS`, or of ``extra``)."""
        if name in self.extra:
            return self.extra[name]
        if name == "loss":
            return (self.loss_expr,)
        if name == "grad":
            return self.grad_exprs
        if name == "derived":
            return self.derived_grad_exprs
        if name == "hessian":
            return tuple(h for row in self.hessian_exprs for h in row)
        if name == "residual":
            return (self.residual_expr,)
        if name == "jacobian":
            return self.jacobian_exprs
        if name == "model":
            return (self.model_expr,)
        raise KeyError(f"no expression group {name!r}; groups: {', '.join([*PARTS, *self.extra])}")

    def with_parts(self, **groups: tuple[sympy.Expr, ...]) -> SymbolicProblem:
        """A copy with more expression groups, e.g. ``with_parts(hand=(...))``."""
        return replace(self, extra={**self.extra, **{k: tuple(v) for k, v in groups.items()}})

    def check(self, tree: sympy.Expr, what: str, seen: dict | None = None) -> None:
        """Refuse a tree that cannot be evaluated numerically, blaming the model (or objective);
        ``seen`` as for :func:`optikit.expr.check_tree`."""
        try:
            expr.check_tree(tree, seen)
        except ExpressionError as exc:
            where = "model" if self.spec.model is not None else "objective"
            raise self.spec.error(f"the {what} cannot be evaluated numerically: {exc.message}", where) from None

    # ---- derived on demand ---------------------------------------------------------------
    @cached_property
    def hessian_exprs(self) -> tuple[tuple[sympy.Expr, ...], ...]:
        if self.vectors is not None:  # evaluated from self.vectors.second; as one tree per pair, they would be huge
            raise SpecError("second derivatives of a problem with vectors are evaluated, not written out",
                            field="--hessian")
        params = self.params
        rows = []
        for g in self.grad_exprs:
            # the second derivative of a kink (abs, max, the Huber loss) is a DiracDelta: zero
            # everywhere but on the kink, where no Hessian exists; Newton-type methods use the rest
            rows.append(tuple(h.replace(sympy.DiracDelta, lambda *a: sympy.S.Zero) for h in gradient(g, params)))
        for i, row in enumerate(rows):
            for j, h in enumerate(row):
                self.check(h, f"second derivative by {params[i]} and {params[j]}")
        return tuple(rows)

    @cached_property
    def residual_expr(self) -> sympy.Expr:
        """``r`` when the per-sample loss is ``c * r**2`` with ``c > 0`` constant (least squares)."""
        form = least_squares_form(self.loss_expr)
        if form is not None:
            return sympy.sqrt(form[0]) * form[1]
        raise self.spec.error("this optimizer needs a least-squares loss (per-sample r**2, such as mse)",
                              "loss" if self.spec.model is not None else "objective")

    @property
    def is_least_squares(self) -> bool:
        try:
            self.residual_expr
        except SpecError:
            return False
        return True

    @cached_property
    def jacobian_exprs(self) -> tuple[sympy.Expr, ...]:
        if self.vectors is not None:
            _, jac_form = self.vectors.residual(self.residual_expr)
            return tuple(jac_form.shown(self.vectors.form, p.name) for p in self.spec.parameters)
        jac = gradient(self.residual_expr, self.params)
        for p, j in zip(self.params, jac):
            self.check(j, f"derivative of the residual by {p}")
        return jac

    @property
    def model_expr(self) -> sympy.Expr:
        if self.spec.model_expr is None:
            raise SpecError("an objective spec has no model to predict with")
        return self.spec.model_expr

    @property
    def inputs(self) -> tuple[str, ...]:
        """The data columns the model reads (its inputs), in the spec's column order."""
        return self.columns_of(self.model_expr)
