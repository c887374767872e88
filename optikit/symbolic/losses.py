"""Built-in named losses: per-sample expressions in ``model`` (the prediction) and ``target``.

They register through the public ``optikit_register_losses`` hook, like a plugin's would.
"""

from __future__ import annotations

from ..hookspecs import hookimpl

#: name -> (expression in ``model`` and ``target``, one-line doc)
BUILTIN_LOSSES: dict[str, tuple[str, str]] = {
    "mse": ("(model - target)**2", "squared error; the batch loss is the mean squared error"),
    "mae": ("abs(model - target)", "absolute error; the batch loss is the mean absolute error"),
    "huber": (
        "min(abs(model - target), 1)**2/2 + (abs(model - target) - min(abs(model - target), 1))",
        "Huber loss with delta 1: quadratic within 1 of the target, linear beyond",
    ),
    "logloss": (
        "-(target*log(model) + (1 - target)*log(1 - model))",
        "binary cross-entropy for a model that predicts a probability in (0, 1)",
    ),
}


@hookimpl
def optikit_register_losses(register) -> None:
    for name, (text, doc) in BUILTIN_LOSSES.items():
        register(name, text, doc)
