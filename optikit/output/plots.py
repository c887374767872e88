"""Figures with matplotlib, imported only when a plot is asked for.

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure` made without pyplot, so it
needs no display and leaves the user's backend alone; :func:`save` writes one. The figures that
need the model and its data (surface, fit, residuals) are in :mod:`optikit.output.fitplots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..engine import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOT_KINDS", "plot_loss", "loss_figure", "new_figure", "save", "check_plot_path", "check_can_show",
           "spans_decades"]

#: What ``result.plot(kind)`` draws; the command line's ``--plot`` / ``--plot-KIND`` options.
PLOT_KINDS = ("loss", "surface", "fit", "residuals")


def check_can_show(option: str = "--plot") -> None:
    """Refuse to show a window where matplotlib has no interactive backend (no display)."""
    import matplotlib.pyplot as plt

    from ..errors import SpecError

    backend = plt.get_backend().lower()
    if backend in {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}:
        raise SpecError(f"no display to show the plot on (matplotlib backend {backend!r}); give a file: "
                        f"{option} loss.png", field=option)


def check_plot_path(path: str | Path, option: str = "--plot") -> None:
    """Refuse a plot path whose folder does not exist or whose format matplotlib cannot write,
    before a run spends its time (raises :class:`~optikit.errors.SpecError`)."""
    from matplotlib.backend_bases import FigureCanvasBase

    from ..errors import Location, SpecError

    path = Path(path)
    if not path.parent.is_dir():
        raise SpecError("the folder does not exist", field=option, location=Location(str(path)))
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise SpecError(f"cannot write {suffix or 'a file without an extension'!r}; use one of "
                        f"{', '.join(sorted(formats))}", field=option, location=Location(str(path)))


def new_figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.2), layout="constrained")


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (the format from its extension) and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def spans_decades(values: Any, decades: float = 2.0) -> bool:
    """Whether positive ``values`` span at least ``decades`` powers of ten (then a log axis reads better)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(v > 0)) and float(np.log10(v.max() / v.min())) >= decades


def loss_figure(results: Result | Sequence[Result], *, ylabel: str = "loss", title: str | None = None,
                logy: bool | None = None, fig: Figure | None = None) -> Figure:
    """Loss against epoch for one or more results (several are overlaid with a legend of their
    optimizers); the axis is logarithmic when the losses span two decades or more (``logy=None``).
    Drawn on ``fig`` when given (a pyplot figure, to show in a window)."""
    results = [results] if isinstance(results, Result) else list(results)
    fig = fig if fig is not None else new_figure()
    ax = fig.add_subplot()
    for result in results:
        h = result.history
        ax.plot(h.epochs, h.loss, label=result.optimizer)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy or (logy is None and spans_decades(np.concatenate([r.history.loss for r in results] or [[]]))):
        ax.set_yscale("log")
    ax.set_title(title or results[0].name)
    if len(results) > 1:
        ax.legend()
    return fig


def plot_loss(results: Result | Sequence[Result], path: str | Path | None = None, *, ylabel: str = "loss",
              title: str | None = None, logy: bool | None = None) -> Path | None:
    """Plot loss against epoch for one or more results; save to ``path``, or show a window if ``None``."""
    if path is None:
        import matplotlib.pyplot as plt

        loss_figure(results, ylabel=ylabel, title=title, logy=logy,
                    fig=plt.figure(figsize=(6.4, 4.2), layout="constrained"))
        plt.show()
        return None
    return save(loss_figure(results, ylabel=ylabel, title=title, logy=logy), path)
