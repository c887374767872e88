"""The optimizer contract: pure update rules on float vectors, the engine owns the loop.

An optimizer is a class. Its constructor keywords are its hyperparameters (a spec's
``optimizer`` section passes them); ``init`` builds the state for a parameter vector and
``update`` turns a gradient into a step *to add* to the parameters, optax style::

    class Sign(Optimizer):
        name = "signgd"

        def __init__(self, lr: float = 0.01) -> None:
            self.lr = lr

        def init(self, params):
            return EmptyState()

        def update(self, grad, state, params, oracle=None):
            return -self.lr * np.sign(grad), state
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from ..plugins.registry import Registry

__all__ = [
    "Optimizer",
    "Kernel",
    "Oracle",
    "EmptyState",
    "Hyperparameter",
    "hyperparameters",
    "REQUIREMENTS",
    "check_real",
    "check_flag",
]

#: What an optimizer may ask the engine for beyond the gradient (``Optimizer.requires``).
REQUIREMENTS = frozenset({"loss", "hessian", "residuals"})


class EmptyState(NamedTuple):
    """State of an optimizer that keeps none."""


class Kernel(NamedTuple):
    """An optimizer's update rule as pure functions of arrays, numbers and a tuple of
    hyperparameters, which a compiled backend can compile and call inside its loop.

    ``init(params, hyper)`` returns the state (a NamedTuple of arrays and numbers, the same type
    ``Optimizer.init`` returns); ``update(grad, state, params, hyper)`` returns ``(step, state)``
    exactly as ``Optimizer.update`` does. They may use NumPy array arithmetic, ``math`` and
    other plain functions of the same kind, nothing else (no attributes of ``self``, no oracle).

    ``step(grad, state, params, hyper, out)``, optional, is ``update`` in place for compiled
    epochs, where allocations cost more than the arithmetic: it writes the step into ``out``,
    may change the state's arrays in place, returns the state, and must compute exactly what
    ``update`` does (element by element, the same operations) and keep no reference to
    ``grad``, ``params`` or ``out``. The backend gives it copies of the engine's state arrays;
    ``grad`` and ``params`` may come as any sequence of floats (``len`` and indexing: the numba
    backend's per-sample epochs pass tuples, the NumPy backend's lists), and a rule that needs
    arrays (their attributes or arithmetic) still runs, a little slower.
    """

    init: Callable[[np.ndarray, tuple], Any]
    update: Callable[[np.ndarray, Any, np.ndarray, tuple], tuple[np.ndarray, Any]]
    hyper: tuple
    step: Callable[[np.ndarray, Any, np.ndarray, tuple, np.ndarray], Any] | None = None


@runtime_checkable
class Oracle(Protocol):
    """Derivatives of the loss on the current batch, for optimizers that need more than a gradient.

    All functions take a parameter vector in spec order. ``loss`` is the batch mean of the
    per-sample loss. ``residuals``/``jacobian`` exist only for least-squares losses
    (per-sample loss ``r**2``), where ``loss == mean(residuals**2)``.

    An oracle whose rows are elsewhere (a Dask cluster's, see docs/scaling.md) may also offer
    ``gauss_newton(params) -> (JᵀJ, Jᵀr, Σr²)``, ``residual_cost(params) -> Σr²`` and
    ``geodesic(params, v, h) -> Jᵀ r_vv`` (the residuals' second directional derivative along ``v``
    by a forward difference of step ``h``), summed where the rows are; a least-squares method that
    finds them (``getattr``) need not fetch every residual.
    """

    def loss(self, params: np.ndarray) -> float: ...

    def grad(self, params: np.ndarray) -> np.ndarray: ...

    def hessian(self, params: np.ndarray) -> np.ndarray: ...

    def residuals(self, params: np.ndarray) -> np.ndarray: ...

    def jacobian(self, params: np.ndarray) -> np.ndarray: ...


class Optimizer:
    """Base class (and protocol) of every optimizer, built-in or from a plugin.

    Subclasses set ``name`` and define ``__init__`` (hyperparameters as keywords with defaults),
    ``init`` and ``update``. ``batch_size`` is the default batching (``None``: the full batch);
    a spec's ``optimizer.batch_size`` overrides it. ``requires`` names what ``update`` needs in
    its ``oracle`` argument (a subset of ``{"loss", "hessian", "residuals"}``); the engine
    compiles only what is asked for and passes ``oracle=None`` when nothing is.
    ``supports_bounds = False`` runs a spec whose parameters have ``min``/``max`` in unbounded
    internal coordinates (MINUIT's transform, :mod:`optikit.engine.bounds`) instead of
    projecting each step onto the bounds.
    ``setup(registry)`` is an optional step between construction and the run (see there).
    An optimizer that can tell it has converged says so through ``converged(state)``; the run
    then stops with stop reason ``converged``. ``default_epochs`` is the cap on epochs when a
    spec sets neither ``epochs`` nor ``steps`` (``None``: the run settings' default).
    """

    name: ClassVar[str]
    batch_size: ClassVar[int | None] = None
    requires: ClassVar[frozenset[str]] = frozenset()
    #: Whether projecting each step onto parameter bounds keeps the method sound. Methods that
    #: model curvature or search along a line (Newton, quasi-Newton) set False: a clipped step
    #: is no longer theirs, so the engine gives them internal coordinates in which every point
    #: is within the bounds (``p = lo + (hi - lo) * (sin u + 1) / 2`` and its one-sided kin).
    supports_bounds: ClassVar[bool] = True
    #: Epochs when the spec sets neither ``epochs`` nor ``steps``: methods that detect their own
    #: convergence set a generous cap and run until ``converged`` says so.
    default_epochs: ClassVar[int | None] = None

    def setup(self, registry: Registry) -> None:
        """Called by optikit once, right after construction, with the run's plugin registry.

        The default does nothing. An optimizer that wraps another by name looks it up here
        (``registry.optimizers[name].obj``), which finds every optimizer of the run, ``-p``
        plugins included; a fresh ``plugin_manager()`` would not. It may set ``requires`` or
        ``supports_bounds`` from what it finds. Raise ``ValueError("field: ...")`` for a bad
        hyperparameter: it is reported like a constructor's, against the spec's field. Outside a
        run (in unit tests), call it yourself:
        ``opt.setup(Registry.build(plugin_manager()))`` with both from :mod:`optikit.plugins`.
        """

    def init(self, params: np.ndarray) -> Any:
        """Return the initial state (a NamedTuple of arrays and numbers) for ``params``."""
        raise NotImplementedError

    def update(
        self, grad: np.ndarray, state: Any, params: np.ndarray, oracle: Oracle | None = None
    ) -> tuple[np.ndarray, Any]:
        """Return ``(step, new_state)``; the engine sets ``params = params + step``."""
        raise NotImplementedError

    def converged(self, state: Any) -> bool:
        """Whether the last ``update`` (which returned ``state``) found the parameters converged.

        The default never does; the engine stops the run after the epoch in which this is true.
        """
        return False

    def kernel(self) -> Kernel | None:
        """The update rule as pure functions (:class:`Kernel`), or ``None`` (the default).

        Optional. With a kernel, a compiled backend (``numba``) runs a whole epoch of mini-batch
        steps in compiled code; without one the engine calls :meth:`update` step by step. A
        kernel's ``update`` must give the same steps as :meth:`update`; the built-ins' ``update``
        calls their kernel's.
        """
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{h.name}={getattr(self, h.name, h.default)!r}" for h in hyperparameters(type(self)))
        return f"{type(self).__name__}({args})"


@dataclass(frozen=True)
class Hyperparameter:
    """One constructor keyword of an optimizer."""

    name: str
    default: Any
    required: bool
    annotation: str
    doc: str = ""


def hyperparameters(cls: type) -> list[Hyperparameter]:
    """The hyperparameters of optimizer class ``cls``, read from its ``__init__`` signature.

    One-line docs come from a ``Parameters``/``Args`` section of the class docstring
    (``name: text`` or numpy style ``name : type`` followed by an indented line), or of a base
    class's for keywords the class does not document itself.
    """
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # a subclass documents what it adds or changes
        docs.update({k: v for k, v in _param_docs(klass.__dict__.get("__doc__") or "").items() if v})
    out = []
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is inspect.Parameter.empty
        ann = p.annotation
        ann_text = "" if ann is inspect.Parameter.empty else (ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann)))
        out.append(Hyperparameter(p.name, None if required else p.default, required, ann_text, docs.get(p.name, "")))
    return out


_SECTION = re.compile(r"^(parameters|args|arguments|hyperparameters):?$", re.I)
_ENTRY = re.compile(r"^(\w+)(\s*):\s*(.*)$")


def _param_docs(doc: str) -> dict[str, str]:
    """``{name: first line of its doc}`` from a Google (``name: text``) or numpy
    (``name : type`` then an indented line) parameter section."""
    docs: dict[str, str] = {}
    in_section, base, pending = False, 0, None
    for raw in doc.splitlines():
        line = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if _SECTION.match(line):
            in_section, base, pending = True, None, None
            continue
        if not in_section or not line or set(line) <= {"-"}:
            continue
        base = indent if base is None else base
        m = _ENTRY.match(line)
        if m and indent == base:
            name, space, text = m.groups()
            docs[name], pending = ("", name) if space else (text, None)
        elif pending and indent > base:
            docs[pending], pending = line, None
        elif indent < base:
            in_section = False
    return docs


def check_real(name: str, value, *, low: float = 0.0, high: float = math.inf, high_open: bool = False) -> float:
    """``value`` as a float, or ValueError (torch's wording) when it is not a number in range."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = low <= value < high if high_open else low <= value <= high
    if not ok:
        raise ValueError(f"Invalid {name}: {value!r}")
    return value


def check_flag(name: str, value) -> bool:
    """``value`` as a bool, or ValueError when it is not ``true``/``false``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Invalid {name} value: {value!r} (expected true or false)")
    return bool(value)
