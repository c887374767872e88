"""The fit report as text, the way ``optikit run --report`` prints it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..engine import STOPPED

if TYPE_CHECKING:
    from .report import FitReport

__all__ = ["format_report"]


def _g(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    return f"{x:.{digits}g}"


def format_report(report: FitReport, level: float = 0.95) -> str:
    """Parameters with standard errors and intervals, then goodness of fit, correlations and notes."""
    ci = report.ci(level)
    width = max([len(n) for n in report.names] + [9])
    pct = f"{100 * level:g}%"
    lines = [f"fit report: {report.name} ({report.optimizer}), stopped {STOPPED.get(report.stop_reason, report.stop_reason)} "
             f"after {report.steps} steps in {report.elapsed:.3g} s",
             f"standard errors from {report.method}",
             f"{'parameter':<{width}}  {'value':>14}  {'stderr':>11}  {'rel.err':>8}  {pct + ' interval':>29}"]
    for name, value in report.values.items():
        rel = report.relerr[name]
        lo, hi = ci[name]
        flag = f"  at {report.at_bound[name]} bound" if name in report.at_bound else ""
        lines.append(f"{name:<{width}}  {value:>14.8g}  {_g(report.stderr[name], 4):>11}  "
                     f"{_g(100 * rel, 3) + '%' if math.isfinite(rel) else 'n/a':>8}  "
                     f"[{_g(lo, 8):>13}, {_g(hi, 8):>13}]{flag}")
    stats = [("n", report.n), ("dof", report.dof), ("RSS", _g(report.rss)), ("chi-square", _g(report.chisqr)),
             ("reduced chi-square", _g(report.redchi)), ("R^2", _g(report.r2, 8)), ("AIC", _g(report.aic)),
             ("BIC", _g(report.bic))]
    lines.append("  ".join(f"{k} {v}" for k, v in stats if v not in ("-", None)))
    if report.correlation is not None and len(report.names) > 1:
        names = report.names
        pairs = [(abs(report.correlation[i, j]), names[i], names[j], report.correlation[i, j])
                 for i in range(len(names)) for j in range(i + 1, len(names))
                 if math.isfinite(report.correlation[i, j])]
        if pairs:
            lines.append("correlations: " + ", ".join(f"{a}~{b} {c:+.4f}" for _, a, b, c in sorted(pairs, reverse=True)))
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)
