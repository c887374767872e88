"""The Python API: load a spec, prepare it against the installed plugins, run it.

The ``optikit`` command is a thin shell over these functions.
"""

from __future__ import annotations

import inspect
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .backends import DEFAULT_BACKEND, Data, Problem, compile_problem, find_backend, open_data
from .data import DataSource, gather
from .engine import EpochRecord, Result, Settings, run_problem
from .errors import OptikitError, PluginError, SpecError, did_you_mean
from .optimizers.base import Optimizer, hyperparameters
from .plugins import OptikitPluginManager, Registry, plugin_manager
from .settings import ENGINE_KEYS
from .spec import Spec, load_spec
from .symbolic import SymbolicProblem, symbolic_problem

__all__ = ["Prepared", "prepare", "run", "compile_spec", "load_data", "validate", "make_optimizer", "as_spec", "RUN_OPTIONS"]

#: Keywords of :func:`run` that configure the run itself rather than the spec.
RUN_OPTIONS = ("history", "checkpoint", "checkpoint_every", "resume", "on_nonfinite", "max_skips")


def as_spec(spec_or_path: Spec | str | Path, **overrides: Any) -> Spec:
    """A :class:`Spec` from a spec or a path, with ``overrides`` applied."""
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load_spec(spec_or_path)
    return spec.with_overrides(**overrides) if overrides else spec


def _compile(spec: Spec, registry: Registry, data: Data | None, backend: str, use_hand_gradient: bool,
             validation: Data | None = None) -> Problem:
    return compile_problem(spec, registry.loss_texts(), find_backend(backend, registry.backends), data=data,
                           validation=validation, use_hand_gradient=use_hand_gradient)


def load_data(spec_or_path: Spec | str | Path, data: Data | None = None) -> DataSource | None:
    """The rows a run of the spec would train on, as a read-only :class:`~optikit.data.DataSource`
    (``source["x"]`` is a column); ``None`` for an objective without data."""
    return open_data(as_spec(spec_or_path), data)


def compile_spec(spec_or_path: Spec | str | Path, *, data: Data | None = None, backend: str = DEFAULT_BACKEND,
                 plugins: Iterable[str] = ()) -> Problem:
    """A spec's :class:`~optikit.backends.Problem` (loss, gradient, Hessian over its data) without an
    optimizer: what ``optikit grad`` and a gradient check look at, e.g.
    ``compile_spec("specs/exp_decay.yaml").grad(p)``."""
    spec = as_spec(spec_or_path)
    return _compile(spec, Registry.build(plugin_manager(plugins)), data, backend, use_hand_gradient=False)


def make_optimizer(spec: Spec, registry: Registry) -> Optimizer:
    """Instantiate the spec's optimizer with its hyperparameters; errors name the spec's lines, or the
    option or keyword that overrode a value (see :func:`~optikit.spec.overrides.apply_overrides`)."""
    opt = spec.optimizer
    entry = registry.optimizers.get(opt.name)
    if entry is None:
        names = sorted(registry.optimizers)
        raise spec.error(f"unknown optimizer {opt.name!r}; registered: {', '.join(names) or 'none'}", "optimizer", "name",
                         hint=did_you_mean(opt.name, names) or "see 'optikit plugins'")
    cls = entry.obj
    known = {h.name: h for h in hyperparameters(cls)}
    accepted = ", ".join(f"{h.name}={h.default!r}" if not h.required else h.name for h in known.values()) or "none"
    for key in opt.hyperparameters:
        if key not in known:
            raise spec.error(f"optimizer {opt.name!r} has no hyperparameter {key!r}; accepted: {accepted}",
                             "optimizer", key, key=True, hint=did_you_mean(key, [*known, *ENGINE_KEYS]))
    missing = [h.name for h in known.values() if h.required and h.name not in opt.hyperparameters]
    if missing:
        raise spec.error(f"optimizer {opt.name!r} needs {', '.join(missing)}; accepted: {accepted}", "optimizer")
    kwargs = {k: (list(v) if isinstance(v, tuple) and not isinstance(known[k].default, tuple) else v)
              for k, v in opt.hyperparameters.items()}
    for key, value in kwargs.items():
        default = known[key].default
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (isinstance(default, bool) and not isinstance(value, bool)) or \
                (isinstance(default, (int, float)) and not isinstance(default, bool) and not number):
            kind = "true or false" if isinstance(default, bool) else "a number"
            raise spec.error(f"expected {kind}, got {value!r}", "optimizer", key, hint=f"default: {default!r}")
    try:
        optimizer = cls(**kwargs)
        optimizer.setup(registry)  # a wrapper finds its inner optimizer among this run's plugins
    except (ValueError, TypeError) as exc:
        bad = next((k for k in kwargs if _fails_alone(cls, k, kwargs[k], registry)), None)
        path = ("optimizer", bad) if bad else ("optimizer",)
        raise spec.error(f"invalid hyperparameters for {opt.name!r}: {exc}", *path, hint=f"accepted: {accepted}") from None
    except OptikitError:
        raise
    except Exception as exc:  # a bug in the optimizer's code rather than in the spec: say whose code it is
        raise PluginError(f"optimizer {opt.name!r} raised {type(exc).__name__} while being set up: {exc} "
                          "(--traceback shows where)", plugin=entry.source) from exc
    return optimizer


def _fails_alone(cls: type, key: str, value: Any, registry: Registry) -> bool:
    """Whether ``cls(key=value)`` alone is refused: pins a constructor error on one spec field."""
    try:
        cls(**{key: value}).setup(registry)
    except (ValueError, TypeError):
        return True
    return False


def _schedule(spec: Spec, registry: Registry) -> Callable[[int], float] | None:
    sched = spec.optimizer.schedule
    if sched is None:
        return None
    name = sched["name"]
    entry = registry.schedules.get(name)
    if entry is None:
        raise spec.error(f"unknown schedule {name!r}; registered: {', '.join(sorted(registry.schedules))}",
                         "optimizer", "schedule", "name")
    kwargs = {k: v for k, v in sched.items() if k != "name"}
    try:
        inspect.signature(entry.obj).bind(spec.optimizer.epochs, **kwargs)
        return entry.obj(spec.optimizer.epochs, **kwargs)
    except (TypeError, ValueError) as exc:
        raise spec.error(f"invalid schedule {name!r}: {exc}", "optimizer", "schedule") from None


@dataclass
class Prepared:
    """A spec ready to run: its plugin manager, registry, compiled problem, optimizer and settings."""

    spec: Spec
    pm: OptikitPluginManager
    registry: Registry
    problem: Problem
    optimizer: Optimizer
    settings: Settings
    #: what plugins' ``optikit_run_start`` receives as ``options`` (the parsed command line)
    plugin_options: Mapping[str, Any] = field(default_factory=dict)
    #: the Dask session the problem's rows are on (``dask=``), closed by :meth:`close`
    session: Any = None

    def close(self) -> None:
        """Close the Dask client and local cluster :func:`prepare` opened (a client handed over stays open)."""
        if self.session is not None:
            self.session.close()

    def run(self, callbacks: Iterable[Callable[[EpochRecord], bool | None]] = (), control: Any = None) -> Result:
        """Run once; plugin run hooks are called around it. ``control``: see :mod:`optikit.engine.checkpoint`.
        The result is a :class:`~optikit.output.fitted.FitResult`: it predicts, plots and saves.

        An exception raised in a plugin's hook or in the optimizer's ``update`` becomes a
        :class:`~optikit.errors.RunError` naming the plugin it came from.
        """
        from .output.fitted import FitResult, fit_reporter
        from .plugins.blame import blame

        hook = self.pm.hook

        def plugin_callbacks(record: EpochRecord) -> bool:
            return any(bool(r) for r in hook.optikit_epoch_end(record=record))

        with blame(self):
            hook.optikit_run_start(spec=self.spec, problem=self.problem, optimizer=self.optimizer,
                                   options=dict(self.plugin_options))
            result = run_problem(self.problem, self.optimizer, self.settings,
                                 callbacks=[*callbacks, plugin_callbacks], control=control)
            result.reporter = fit_reporter(self.problem)
            hook.optikit_run_end(result=result)
        return FitResult.of(result, self.problem)


def prepare(spec_or_path: Spec | str | Path, *, plugins: Iterable[str] = (), pm: OptikitPluginManager | None = None,
            plugin_options: Mapping[str, Any] | None = None, trust_gradient: bool = False,
            data: Data | None = None, backend: str = DEFAULT_BACKEND, validation: Data | None = None,
            dask: Any = None, **overrides: Any) -> Prepared:
    """Load (if needed), validate against the registry, and compile a spec without running it.

    ``data`` (a mapping of column names to arrays, 2-D for a vector input) replaces the spec's
    ``data`` section, or supplies the data of a spec that has none, the way lmfit takes data at
    fit time. ``validation`` (the same kind) is held-out data whose loss each epoch records, in
    place of the spec's split or validation source. ``backend`` names the evaluator (``numpy``, or
    one a plugin registers).

    ``plugin_options`` reach the plugins' ``optikit_run_start`` hook as ``options``. A spec with a
    top-level ``gradient`` trains with it; one that disagrees with the derived gradient raises
    :class:`~optikit.errors.GradientMismatchError` unless ``trust_gradient``.

    ``dask`` puts the rows on a Dask cluster (``optikit[dask]``): ``"local"`` starts one on this
    machine, ``"tcp://host:8786"`` joins a scheduler, a ``distributed.Client`` is used as it is;
    the returned :class:`Prepared` holds the session until :meth:`Prepared.close`.
    """
    spec = as_spec(spec_or_path, **overrides)
    pm = pm or plugin_manager(plugins)
    registry = Registry.build(pm)
    optimizer, settings = _runnable(spec, registry)
    if dask is not None:
        if validation is not None:
            raise SpecError("held-out rows from Python are not sent to a cluster", field="validation= with dask=")
        return _on_cluster(spec, pm, registry, optimizer, settings, data, backend, dask, trust_gradient,
                           plugin_options)
    problem = _compile(spec, registry, data, backend, use_hand_gradient=True, validation=validation)
    _gate(spec, optimizer, trust_gradient, problem)
    _check_sigma(spec, problem)
    return Prepared(spec, pm, registry, problem, optimizer, settings, dict(plugin_options or {}))


def _on_cluster(spec: Spec, pm: OptikitPluginManager, registry: Registry, optimizer: Optimizer, settings: Settings,
                data: Data | None, backend: str, dask: Any, trust_gradient: bool,
                plugin_options: Mapping[str, Any] | None) -> Prepared:
    """:func:`prepare` with the rows on a Dask cluster (imported only here: ``import optikit`` stays light)."""
    from .distributed import prepare_on_cluster

    session, problem, optimizer, settings = prepare_on_cluster(spec, registry.loss_texts(), optimizer, settings, data,
                                                               backend, dask, partial(_gate, spec, optimizer,
                                                                                      trust_gradient))
    return Prepared(spec, pm, registry, problem, optimizer, settings, dict(plugin_options or {}), session)


def validate(spec_or_path: Spec | str | Path, *, plugins: Iterable[str] = (),
             pm: OptikitPluginManager | None = None) -> Prepared | Spec:
    """Check a spec as :func:`prepare` does, without running it or judging a hand-written gradient
    (that is :func:`optikit.check`'s job). A spec whose rows come at run time is checked as far
    as it can be without them and returned as it is; any other is returned prepared."""
    spec = as_spec(spec_or_path)
    if spec.model is None or spec.data is not None:
        return prepare(spec, plugins=plugins, pm=pm, trust_gradient=True)
    registry = Registry.build(pm or plugin_manager(plugins))
    optimizer, _ = _runnable(spec, registry)
    _can_run(optimizer, symbolic_problem(spec, registry.loss_texts(), use_hand_gradient=True))
    return spec


def _runnable(spec: Spec, registry: Registry) -> tuple[Optimizer, Settings]:
    """The spec's optimizer and run settings, or the error that keeps it from running."""
    optimizer = make_optimizer(spec, registry)
    settings = Settings.from_spec(spec.optimizer, optimizer, _schedule(spec, registry))
    if not settings.stops():
        raise spec.error("the run has no stopping criterion; set optimizer.epochs or optimizer.steps", "optimizer")
    return optimizer, settings


def _gate(spec: Spec, optimizer: Optimizer, trust_gradient: bool, problem: Problem) -> None:
    """What stops a compiled problem before it trains: a hand-written gradient (unless trusted) or the loss."""
    if spec.gradient and not trust_gradient:
        from .gradcheck import verify_training_gradient  # imported only for a hand-written gradient
        verify_training_gradient(problem)
    _can_run(optimizer, problem.symbolic)


def _can_run(optimizer: Optimizer, symbolic: SymbolicProblem) -> None:
    if "residuals" in getattr(optimizer, "requires", ()):
        symbolic.jacobian_exprs  # a non-least-squares loss is a spec error before the run, not during it


def _check_sigma(spec: Spec, problem: Problem) -> None:
    """Standard deviations must be positive and finite: a zero would weight its row infinitely."""
    if spec.sigma is None or problem.data is None:
        return
    sigma = np.asarray(gather(problem.data, [spec.sigma])[spec.sigma], dtype=float)
    bad = np.flatnonzero(~(np.isfinite(sigma) & (sigma > 0)))
    if len(bad):
        raise spec.error(f"sigma column {spec.sigma!r} must be positive and finite; row {int(bad[0]) + 1} is "
                         f"{float(sigma[bad[0]])!r}" + (f" ({len(bad)} such rows)" if len(bad) > 1 else ""), "sigma")


def run(spec_or_path: Spec | str | Path, *, plugins: Iterable[str] = (),
        callbacks: Iterable[Callable[[EpochRecord], bool | None]] = (),
        plugin_options: Mapping[str, Any] | None = None, trust_gradient: bool = False,
        data: Data | None = None, backend: str = DEFAULT_BACKEND, validation: Data | None = None,
        dask: Any = None, **overrides: Any) -> Result:
    """Load, compile and run a spec; return its :class:`~optikit.engine.Result`.

    ``overrides`` replace parts of the spec's optimizer section, e.g.
    ``optikit.run("specs/seed_gd.yaml", lr=0.05, epochs=20)`` or ``optimizer="adam"``;
    ``parameters={"w": 0.0}`` replaces initial values. Run options (see
    :func:`optikit.engine.runio.run_controlled`): ``history=``, ``checkpoint=``, ``checkpoint_every=``,
    ``resume=``, ``on_nonfinite="skip"``, ``max_skips=``. ``trust_gradient=True`` trains with a
    spec's hand-written ``gradient`` even when it disagrees with the derived one. ``data``,
    ``validation``, ``backend`` and ``dask`` (run on a Dask cluster): see :func:`prepare`.

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> result = run("specs/seed_gd.yaml", data={"x": x, "y": 2 * x})     # doctest: +SKIP
    """
    if not isinstance(spec_or_path, (Spec, str, Path)):
        raise SpecError(f"expected a Spec or a path, got {type(spec_or_path).__name__}")
    options = {k: overrides.pop(k) for k in RUN_OPTIONS if k in overrides}
    prepared = prepare(spec_or_path, plugins=plugins, plugin_options=plugin_options,
                       trust_gradient=trust_gradient, data=data, backend=backend, validation=validation,
                       dask=dask, **overrides)
    try:
        if not options:
            return prepared.run(callbacks)
        from .engine.runio import run_controlled

        return run_controlled(prepared, callbacks, catch_sigint=False, **options)
    finally:
        prepared.close()
