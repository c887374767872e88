"""The gate before training with a hand-written gradient: it must agree with the derived one."""

from __future__ import annotations

from dataclasses import replace

from ..backends import Problem
from ..errors import GradientMismatchError
from ..spec import Spec
from .checking import check_problem
from .report import DIFFERS, DIFFERS_WITHIN_TOLERANCE

__all__ = ["verify_training_gradient"]


def verify_training_gradient(problem: Problem) -> None:
    """Refuse a problem whose hand-written training gradient (top-level ``gradient``) disagrees with
    the derived one, symbolically or at the initial values and check points: raise
    :class:`GradientMismatchError` naming the parameter and both expressions."""
    spec = problem.spec
    if not spec.gradient:
        return
    trained = spec if spec.check is None else _replace_check(spec)
    report = check_problem(replace(problem, symbolic=replace(problem.symbolic, spec=trained)))
    for rep in report.parameters:
        if rep.verdict not in (DIFFERS, DIFFERS_WITHIN_TOLERANCE):
            continue
        hd = rep.hand_vs_derived
        worst = hd.worst if hd is not None else None
        at = row = ""
        if worst:
            at = ", ".join(f"{k}={v:.6g}" for k, v in worst["point"].items())
            row = "batch mean" if worst["row"] == "mean" else f"row {worst['row']}"
        diff = f" (hand - derived = {rep.difference})" if rep.difference else ""
        if rep.factor:
            diff = f" (hand = {rep.factor} * derived)"
        if rep.verdict == DIFFERS_WITHIN_TOLERANCE:
            message = (f"the hand-written gradient {rep.hand} differs symbolically from the derived {rep.derived}"
                       f"{diff}: a different function, although its values agree within the check's tolerance "
                       f"(max relative difference {hd.max_rel_error:.3g}" + (f"; worst at {at}, {row}" if worst else "")
                       + "); refusing to train with it")
        else:
            where = (f"; at {at} ({row}) the hand gradient is {worst[hd.got]!r}, the derived one "
                     f"{worst[hd.reference]!r}") if worst else ""
            message = (f"the hand-written gradient {rep.hand} differs from the derived {rep.derived}{diff}{where}; "
                       f"refusing to train with it")
        raise GradientMismatchError(message, parameter=rep.name, derived=rep.derived, hand=rep.hand or "",
                                    location=spec.where("gradient", rep.name))


def _replace_check(spec: Spec) -> Spec:
    # the training gradient is what matters here; check.gradient belongs to 'optikit check'
    return replace(spec, check=replace(spec.check, gradient={}, gradient_text={}))
