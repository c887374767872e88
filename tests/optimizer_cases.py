"""The first-order optimizers under test, with a grid of their options (optax's test style).

``CASES`` is the one list both test modules parametrize over: ``(case_id, cls, kwargs)``.
``TORCH_CASES`` adds torch.optim's class name and constructor keywords for each case torch can
run (everything but ``lion``). ``BOWL`` and ``ROSENBROCK`` state the convergence budgets.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from optikit.optimizers.adam import Adam, AdamW, NAdam, RAdam
from optikit.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from optikit.optimizers.averaged import ASGD, Rprop
from optikit.optimizers.infinity import Adafactor, Adamax
from optikit.optimizers.base import hyperparameters
from optikit.optimizers.lion import Lion
from optikit.optimizers.sgd import GD, SGD

# Learning rates here suit the exp-fit problem of the torch comparison (100 steps that move
# the parameters visibly); BOWL overrides them for the convergence tests.
CASES: list[tuple[str, type, dict[str, Any]]] = [
    ("gd", GD, {"lr": 0.1}),
    ("gd-momentum", GD, {"lr": 0.05, "momentum": 0.9}),
    ("gd-dampening", GD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("gd-nesterov", GD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("gd-weight_decay", GD, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    ("gd-maximize", GD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("sgd", SGD, {"lr": 0.1}),
    ("sgd-momentum-weight_decay", SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.02}),
    ("adagrad", Adagrad, {"lr": 0.3}),
    ("adagrad-lr_decay", Adagrad, {"lr": 0.3, "lr_decay": 0.01}),
    ("adagrad-weight_decay", Adagrad, {"lr": 0.3, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("adagrad-maximize", Adagrad, {"lr": 0.3, "eps": 1e-6, "maximize": True}),
    ("rmsprop", RMSprop, {"lr": 0.01}),
    ("rmsprop-centered", RMSprop, {"lr": 0.01, "centered": True}),
    ("rmsprop-momentum", RMSprop, {"lr": 0.01, "momentum": 0.9}),
    ("rmsprop-centered-momentum", RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("rmsprop-weight_decay", RMSprop, {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.01, "centered": True}),
    ("rmsprop-maximize", RMSprop, {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("adadelta", Adadelta, {}),
    ("adadelta-weight_decay", Adadelta, {"lr": 2.0, "rho": 0.95, "weight_decay": 0.01}),
    ("adadelta-maximize", Adadelta, {"eps": 1e-5, "maximize": True}),
    ("adam", Adam, {"lr": 0.05}),
    ("adam-amsgrad", Adam, {"lr": 0.05, "amsgrad": True}),
    ("adam-weight_decay", Adam, {"lr": 0.05, "weight_decay": 0.01}),
    ("adam-decoupled", Adam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adam-maximize", Adam, {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-6, "maximize": True}),
    ("adamw", AdamW, {"lr": 0.05}),
    ("adamw-amsgrad", AdamW, {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw-no_decay", AdamW, {"lr": 0.05, "weight_decay": 0.0, "amsgrad": True}),
    ("adamw-maximize", AdamW, {"lr": 0.05, "betas": [0.85, 0.995], "maximize": True}),
    ("nadam", NAdam, {"lr": 0.05}),
    ("nadam-weight_decay", NAdam, {"lr": 0.05, "weight_decay": 0.01}),
    ("nadam-decoupled", NAdam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("nadam-maximize", NAdam, {"lr": 0.05, "momentum_decay": 0.01, "maximize": True}),
    ("radam", RAdam, {"lr": 0.05}),
    ("radam-weight_decay", RAdam, {"lr": 0.05, "weight_decay": 0.01}),
    ("radam-decoupled", RAdam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("radam-maximize", RAdam, {"lr": 0.05, "betas": [0.9, 0.99], "maximize": True}),
    ("adamax", Adamax, {"lr": 0.05}),
    ("adamax-weight_decay", Adamax, {"lr": 0.05, "weight_decay": 0.01}),
    ("adamax-maximize", Adamax, {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-6, "maximize": True}),
    ("rprop", Rprop, {"lr": 0.01}),
    ("rprop-etas", Rprop, {"lr": 0.05, "etas": [0.3, 1.5], "step_sizes": [1e-4, 0.2]}),
    ("rprop-maximize", Rprop, {"lr": 0.01, "maximize": True}),
    ("asgd", ASGD, {"lr": 0.1}),
    ("asgd-averaging", ASGD, {"lr": 0.1, "lambd": 0.01, "alpha": 0.5, "t0": 20.0, "weight_decay": 0.01}),
    ("asgd-maximize", ASGD, {"lr": 0.1, "maximize": True}),
    ("adafactor", Adafactor, {"lr": 0.05}),
    ("adafactor-eps-d", Adafactor, {"lr": 0.05, "eps": [1e-12, 1e-2], "d": 2.0, "beta2_decay": -0.6}),
    ("adafactor-weight_decay", Adafactor, {"lr": 0.05, "weight_decay": 0.1}),
    ("adafactor-maximize", Adafactor, {"lr": 0.05, "maximize": True}),
    ("lion", Lion, {"lr": 0.01}),
    ("lion-betas", Lion, {"lr": 0.01, "betas": [0.95, 0.98]}),
    ("lion-weight_decay", Lion, {"lr": 0.01, "weight_decay": 0.1}),
]

#: optikit name -> torch.optim class name (Lion is not in torch.optim).
TORCH_NAMES = {
    "gd": "SGD",
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adamax": "Adamax",
    "rprop": "Rprop",
    "asgd": "ASGD",
    "adafactor": "Adafactor",
}


def torch_kwargs(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of ``cls(**kwargs)`` as torch's constructor keywords."""
    opt = cls(**kwargs)
    return {h.name: getattr(opt, h.name) for h in hyperparameters(cls)}


#: ``(case_id, cls, kwargs, torch_class_name, torch_kwargs)``
TORCH_CASES: list[tuple[str, type, dict[str, Any], str, dict[str, Any]]] = [
    (case_id, cls, kwargs, TORCH_NAMES[cls.name], torch_kwargs(cls, kwargs))
    for case_id, cls, kwargs in CASES
    if cls.name in TORCH_NAMES
]


class Budget(NamedTuple):
    """Keyword overrides, step budget and tolerance (max abs distance to the minimizer)."""

    overrides: dict[str, Any]
    steps: int
    tol: float


#: Quadratic bowl ``0.5 * sum(d * (p - t)**2)``, d = [1, 10, 100], from BOWL_START. Applies to
#: every case of the optimizer. L2 weight decay moves the minimizer (``bowl_minimizer``); cases
#: with decoupled weight decay have no closed-form one and are left out.
BOWL = {
    "gd": Budget({"lr": 0.01}, 2000, 1e-6),
    "sgd": Budget({"lr": 0.01}, 2000, 1e-6),
    "adagrad": Budget({"lr": 0.5}, 1000, 1e-6),
    "rmsprop": Budget({"lr": 0.01}, 1500, 1e-6),
    "adadelta": Budget({"lr": 2.0}, 1500, 1e-6),
    "adam": Budget({"lr": 0.05}, 1000, 1e-6),
    "adamw": Budget({"lr": 0.05}, 1000, 1e-6),
    "nadam": Budget({"lr": 0.05}, 1000, 1e-6),
    "radam": Budget({"lr": 0.05}, 2500, 1e-6),
    "adamax": Budget({"lr": 0.05}, 1000, 1e-6),
    # the step sizes may shrink to 1e-7 (one case floors them at 1e-4, too coarse for 1e-6)
    "rprop": Budget({"step_sizes": [1e-7, 50.0]}, 500, 1e-6),
    # lambd shrinks the parameters like an L2 penalty scaled by the step: off, to keep the minimizer
    "asgd": Budget({"lr": 0.01, "lambd": 0.0}, 2500, 1e-6),
    "adafactor": Budget({"lr": 0.01}, 1500, 1e-6),
    # fixed-size sign steps: Lion ends in a cycle a few lr wide around the minimum
    "lion": Budget({"lr": 0.01}, 1000, 0.03),
}
BOWL_D = np.array([1.0, 10.0, 100.0])
BOWL_T = np.array([1.0, -2.0, 0.5])
BOWL_START = np.array([3.1416, 0.5772, -1.4142])

#: 2-D Rosenbrock ``(1 - x)**2 + 100 * (y - x**2)**2`` from (-1.5, 2.0) to (1, 1):
#: ``(case_id, cls, kwargs, steps, tol)``. Not listed: plain rmsprop (cycles ~3e-4 from the
#: minimum at every lr tried), adadelta (stalls), radam at lr >= 0.02 (its first, unadapted
#: steps are lr * gradient and leave the valley).
ROSENBROCK = [
    ("gd-momentum", GD, {"lr": 1e-3, "momentum": 0.9}, 3000, 1e-4),
    ("gd-nesterov", GD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, 3000, 1e-4),
    ("adagrad", Adagrad, {"lr": 1.0}, 20000, 1e-4),
    ("rmsprop-momentum", RMSprop, {"lr": 1e-3, "momentum": 0.9}, 2000, 1e-4),
    ("rmsprop-centered-momentum", RMSprop, {"lr": 1e-3, "momentum": 0.9, "centered": True}, 2000, 1e-4),
    ("adam", Adam, {"lr": 0.02}, 4000, 1e-4),
    ("adam-amsgrad", Adam, {"lr": 0.02, "amsgrad": True}, 7000, 1e-4),
    ("adamw", AdamW, {"lr": 0.02, "weight_decay": 0.0}, 4000, 1e-4),
    ("nadam", NAdam, {"lr": 5e-3}, 6000, 1e-3),
    ("radam", RAdam, {"lr": 5e-3}, 12000, 1e-4),
    ("lion", Lion, {"lr": 1e-3}, 5000, 5e-3),
]


def decoupled(cls: type, kwargs: dict[str, Any]) -> bool:
    """Whether ``cls(**kwargs)`` shrinks the parameters directly (no closed-form minimizer)."""
    opt = cls(**kwargs)
    wd = getattr(opt, "weight_decay", 0.0)
    return wd != 0 and (cls in (AdamW, Lion, Adafactor) or getattr(opt, "decoupled_weight_decay", False))


def bowl_minimizer(cls: type, kwargs: dict[str, Any]) -> np.ndarray | None:
    """Minimizer of the bowl plus the L2 penalty of coupled weight decay; None if decoupled."""
    if decoupled(cls, kwargs):
        return None
    wd = getattr(cls(**kwargs), "weight_decay", 0.0)
    return BOWL_D * BOWL_T / (BOWL_D + wd)


def gradient_sign(kwargs: dict[str, Any]) -> float:
    """-1 for ``maximize`` cases: they ascend the negated objective, so they still converge."""
    return -1.0 if kwargs.get("maximize") else 1.0
