"""Early stopping for optikit: stop a run once the loss has not improved for ``patience`` epochs.

An optikit callback plugin. It adds ``--earlystop-patience N`` and ``--earlystop-min-delta D``
to ``optikit run`` and does nothing unless a patience is given: installing a plugin must not
change runs that did not ask for it. From Python, pass
``plugin_options={"earlystop_patience": N}`` to ``optikit.run``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import optikit

__version__ = "0.1.0"


class EarlyStop:
    """Per-run counters, reset by ``optikit_run_start``; the hooks are its methods."""

    def __init__(self) -> None:
        self.patience: int | None = None
        self.min_delta = 0.0
        self.best = math.inf
        self.waited = 0

    @optikit.hookimpl
    def optikit_add_options(self, parser) -> None:
        parser.add_argument("--earlystop-patience", type=int, default=None, metavar="N",
                            help="stop after N epochs without the loss improving (earlystop plugin)")
        parser.add_argument("--earlystop-min-delta", type=float, default=None, metavar="D",
                            help="an improvement is a drop of more than D (default 0)")

    @optikit.hookimpl
    def optikit_run_start(self, options: Mapping[str, Any]) -> None:
        patience = options.get("earlystop_patience")
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ValueError(f"earlystop_patience must be a positive integer, got {patience!r}")
        self.patience = patience
        self.min_delta = float(options.get("earlystop_min_delta") or 0.0)
        self.best, self.waited = math.inf, 0

    @optikit.hookimpl
    def optikit_epoch_end(self, record) -> bool | None:
        if self.patience is None:
            return None
        if record.loss < self.best - self.min_delta:
            self.best, self.waited = record.loss, 0
            return False
        self.waited += 1
        return self.waited >= self.patience


#: The object the entry point names; pluggy registers its decorated methods.
plugin = EarlyStop()
