"""Figures with matplotlib, imported only when a plot is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..engine import Result

__all__ = ["plot_loss", "check_plot_path", "check_can_show"]


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


def plot_loss(results: Result | Sequence[Result], path: str | Path | None = None, *, ylabel: str = "loss",
              title: str | None = None, logy: bool = False) -> Path | None:
    """Plot loss against epoch for one or more results; save to ``path``, or show a window if ``None``.

    Several results are overlaid with a legend of their optimizers (for comparisons).
    """
    results = [results] if isinstance(results, Result) else list(results)
    if path is not None:
        # a Figure without pyplot needs no display and leaves the user's backend alone
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for result in results:
        h = result.history
        ax.plot(h.epochs, h.loss, label=result.optimizer)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title or results[0].name)
    if len(results) > 1:
        ax.legend()
    if path is None:
        import matplotlib.pyplot as plt

        plt.show()
        return None
    path = Path(path)
    fig.savefig(path)
    return path
