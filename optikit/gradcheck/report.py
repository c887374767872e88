"""What a gradient check found: per parameter, per comparison, with a table and a JSON form.

Built by :mod:`optikit.gradcheck`; ``str(report)`` is what ``optikit check`` prints and
``report.to_dict()`` what ``--format json`` prints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import counted

__all__ = ["Comparison", "ParameterReport", "CheckReport", "OK", "DIFFERS", "DIFFERS_WITHIN_TOLERANCE",
           "FD_MISMATCH", "UNCHECKED"]

OK = "ok"
DIFFERS = "hand gradient differs"
#: SymPy proved ``hand - derived`` non-zero, yet every value agrees within atol/rtol: still a
#: different function (a mistyped constant, say), so it fails like DIFFERS, with its size shown.
DIFFERS_WITHIN_TOLERANCE = "hand gradient differs symbolically, within the numeric tolerance"
FD_MISMATCH = "derived gradient disagrees with finite differences"
UNCHECKED = "unchecked: every point was skipped"


def _num(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


#: The most parameter values a line of the report shows (the JSON report has them all).
SHOWN_VALUES = 6


_ELEMENT = re.compile(r"^(.+)\[(\d+)\]$")


def _vector_section(group: list[ParameterReport]) -> list[str]:
    """One section for the elements of a vector that all agree: each comparison over all of them."""
    first = group[0]
    base = _ELEMENT.match(first.name).group(1)  # type: ignore[union-attr]
    lines = ["", f"parameter {base}[0..{len(group) - 1}]: ok ({len(group)} elements, each checked)",
             f"  derived (element-wise): {first.derived}",
             f"  {'comparison':<44} {'n':>5} {'fail':>5} {'max abs':>9} {'max rel':>9}  worst point"]
    for j, c in enumerate(first.comparisons):
        cs = [q.comparisons[j] for q in group]
        element, worst = max(zip(group, cs), key=lambda qc: qc[1].max_rel_error)
        at = f"{element.name}, at " + _point(worst.worst["point"], worst.worst["row"]) if worst.worst else "-"
        lines.append(f"  {c.what:<44} {sum(x.compared for x in cs):>5} {sum(x.failed for x in cs):>5} "
                     f"{_num(max(x.max_abs_error for x in cs)):>9} {_num(worst.max_rel_error):>9}  {at}  agree")
    return lines


def _point(point: dict[str, float], row: int | str | None) -> str:
    items = list(point.items())
    where = ", ".join(f"{k}={v:.6g}" for k, v in items[:SHOWN_VALUES])
    if len(items) > SHOWN_VALUES:
        where += f", ... ({len(items)} values; --format json has them all)"
    if row is None:
        return where
    return f"{where}, {'batch mean' if row == 'mean' else f'row {row}'}"


@dataclass
class Comparison:
    """One comparison (``got`` against ``reference``) over every check point and data row."""

    what: str
    got: str
    reference: str
    compared: int = 0
    failed: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst: dict[str, Any] | None = None
    skipped: list[str] = field(default_factory=list)
    _worst_ratio: float = field(default=-1.0, repr=False)

    @property
    def agree(self) -> bool:
        return self.failed == 0

    def add(self, got: float, ref: float, atol: float, rtol: float, point: dict[str, float], row: int | str) -> None:
        """Count one value pair; the worst one is the pair furthest outside ``atol + rtol*|ref|``."""
        err = abs(got - ref)
        rel = err / abs(ref) if ref != 0 else (0.0 if err == 0 else math.inf)
        allowed = atol + rtol * abs(ref)
        self.compared += 1
        self.failed += err > allowed
        self.max_abs_error = max(self.max_abs_error, err)
        self.max_rel_error = max(self.max_rel_error, rel)
        ratio = err / allowed if allowed > 0 else (math.inf if err else 0.0)
        if ratio > self._worst_ratio:
            self._worst_ratio = ratio
            self.worst = {"point": dict(point), "row": row, self.got: got, self.reference: ref,
                          "abs_error": err, "rel_error": rel}

    def skip(self, reason: str) -> None:
        self.skipped.append(reason)

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "agree": self.agree, "compared": self.compared, "failed": self.failed,
                "max_abs_error": self.max_abs_error, "max_rel_error": self.max_rel_error,
                "worst": self.worst, "skipped": len(self.skipped), "skip_reasons": sorted(set(self.skipped))}


@dataclass
class ParameterReport:
    """Everything checked for one parameter and its verdict."""

    name: str
    derived: str
    hand: str | None = None
    equivalence: str | None = None
    difference: str | None = None
    #: ``"1/2"`` when the hand gradient is that constant times the derived one
    factor: str | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    verdict: str = OK

    @property
    def ok(self) -> bool:
        return self.verdict == OK

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.comparisons), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.comparisons), default=0.0)

    @property
    def hand_vs_derived(self) -> Comparison | None:
        """The comparison of the hand-written gradient with the derived one, if there is a hand gradient."""
        return self.comparisons[1] if self.hand is not None and len(self.comparisons) > 1 else None

    @property
    def worst(self) -> dict[str, Any] | None:
        """The worst point of the first failing comparison (of the first one if none fails)."""
        failing = [c for c in self.comparisons if not c.agree] or [c for c in self.comparisons if c.compared]
        return failing[0].worst if failing else None

    def to_dict(self) -> dict[str, Any]:
        hd = self.hand_vs_derived
        return {"name": self.name, "verdict": self.verdict, "ok": self.ok, "derived": self.derived,
                "hand": self.hand, "equivalence": self.equivalence, "difference": self.difference,
                "factor": self.factor, "difference_max_abs": hd.max_abs_error if hd and hd.compared else None,
                "difference_max_rel": hd.max_rel_error if hd and hd.compared else None,
                "max_abs_error": self.max_abs_error, "max_rel_error": self.max_rel_error, "worst": self.worst,
                "comparisons": [c.to_dict() for c in self.comparisons]}


@dataclass
class CheckReport:
    """A gradient check of one spec: tolerances, check points, and one report per parameter."""

    name: str
    atol: float
    rtol: float
    eps: float
    points: list[dict[str, float]]
    rows: int
    parameters: list[ParameterReport]
    source: str | None = None

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parameters)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def __getitem__(self, name: str) -> ParameterReport:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def _elements(self, p: ParameterReport) -> list[ParameterReport] | None:
        """For an element of a vector whose elements all agree (and have no hand gradient): the whole
        vector's reports at its first element, ``[]`` at the others; ``None`` for anything else,
        which gets a section of its own (a failing element is shown with all its details)."""
        found = _ELEMENT.match(p.name)
        if found is None:
            return None
        base = found.group(1)
        group = [q for q in self.parameters if (m := _ELEMENT.match(q.name)) and m.group(1) == base]
        if not all(q.ok and q.hand is None for q in group):
            return None
        return group if group[0] is p else []

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "ok": self.ok,
                "tolerance": {"atol": self.atol, "rtol": self.rtol, "eps": self.eps},
                "points": self.points, "rows": self.rows,
                "parameters": {p.name: p.to_dict() for p in self.parameters}}

    def __str__(self) -> str:
        lines = [f"{self.name}: gradient check at {counted(len(self.points), 'point')} x {counted(self.rows, 'row')} "
                 f"and the batch mean "
                 f"(atol={self.atol:g}, rtol={self.rtol:g}, eps={self.eps:g})"]
        for p in self.parameters:
            group = self._elements(p)
            if group is not None:
                if group:  # the first element of a vector whose elements all agree: one section for all
                    lines.extend(_vector_section(group))
                continue
            lines.append("")
            lines.append(f"parameter {p.name}: {p.verdict.upper() if not p.ok else 'ok'}")
            lines.append(f"  derived: {p.derived}")
            if p.hand is not None:
                lines.append(f"  hand:    {p.hand}   [{p.equivalence}]")
                if p.difference is not None:
                    lines.append(f"  hand - derived = {p.difference}")
                if p.factor is not None:
                    lines.append(f"  hand = {p.factor} * derived")
            if p.verdict == DIFFERS_WITHIN_TOLERANCE and p.hand_vs_derived is not None:
                hd = p.hand_vs_derived
                lines.append(f"  a different function, though its values stay within the tolerance: max relative "
                             f"difference {_num(hd.max_rel_error)}, max absolute {_num(hd.max_abs_error)} "
                             f"(rtol={self.rtol:g}, atol={self.atol:g})")
            lines.append(f"  {'comparison':<44} {'n':>5} {'fail':>5} {'max abs':>9} {'max rel':>9}  worst point")
            for c in p.comparisons:
                worst = _point(c.worst["point"], c.worst["row"]) if c.worst else "-"
                verdict = "agree" if c.agree else "DISAGREE"
                lines.append(f"  {c.what:<44} {c.compared:>5} {c.failed:>5} {_num(c.max_abs_error):>9} "
                             f"{_num(c.max_rel_error):>9}  {worst}  {verdict}")
                if c.worst and not c.agree:
                    lines.append(f"      at the worst point: {c.got} = {c.worst[c.got]!r}, "
                                 f"{c.reference} = {c.worst[c.reference]!r}")
            reasons = sorted({r for c in p.comparisons for r in c.skipped})
            for r in reasons[:5]:
                lines.append(f"  skipped: {r}")
            if len(reasons) > 5:
                lines.append(f"  skipped: ... and {len(reasons) - 5} more")
        bad = [p.name for p in self.parameters if not p.ok]
        lines.append("")
        lines.append("all gradients agree" if not bad else f"FAILED: {', '.join(bad)}")
        return "\n".join(lines)
