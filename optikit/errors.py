"""The exceptions optikit raises, each carrying what a person needs to act on it.

Every error a user can cause derives from :class:`OptikitError`; its ``exit_code`` is what the
``optikit`` command exits with (2: bad input or usage, 1: a run or check that failed).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

__all__ = [
    "did_you_mean",
    "dotted",
    "counted",
    "Location",
    "OptikitError",
    "SpecError",
    "ExpressionError",
    "PluginError",
    "RunError",
    "DivergenceError",
    "GradientMismatchError",
]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'x'?"`` for the choice closest to a misspelled ``word``, or None."""
    choices = list(choices)
    # difflib scores 'X' against 'x' as 0: a name that differs only in case must still be found
    close = [c for c in choices if c.lower() == word.lower() and c != word][:1]
    close = close or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def dotted(path: tuple) -> str:
    """A field path as people write it: ``("data", "x", 2)`` is ``data.x[2]``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 epoch"``, ``"3 epochs"``: a count with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


@dataclass(frozen=True)
class Location:
    """Where in a spec file something stands: ``file:line:column`` (1-based)."""

    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<spec>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class OptikitError(Exception):
    """Base class of every error optikit reports to a user."""

    exit_code: int = 2


class SpecError(OptikitError):
    """A spec (or an override of one) is invalid.

    ``str()`` reads ``file:line:column: field: message`` followed by an optional hint.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.field = field
        self.location = location
        self.hint = hint
        super().__init__(self._render())

    @property
    def file(self) -> str | None:
        return self.location.file if self.location else None

    @property
    def line(self) -> int | None:
        return self.location.line if self.location else None

    @property
    def column(self) -> int | None:
        return self.location.column if self.location else None

    def _render(self) -> str:
        head = []
        if self.location is not None:
            head.append(str(self.location))
        if self.field:
            head.append(self.field)
        text = ": ".join(head + [self.message])
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def at(self, location: Location | None, field: str | None = None) -> SpecError:
        """Return a copy of this error placed at ``location`` (and ``field``, if not set)."""
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        err.location = location or self.location
        err.field = self.field or field
        Exception.__init__(err, err._render())
        return err

    def __reduce__(self):  # keep errors picklable across worker processes
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type, state: dict) -> SpecError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class ExpressionError(SpecError):
    """An expression in a spec is not valid optikit expression syntax.

    ``piece`` is the offending fragment of the text; ``offset`` its 0-based position in it.
    """

    def __init__(
        self,
        message: str,
        *,
        piece: str | None = None,
        offset: int | None = None,
        field: str | None = None,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        self.piece = piece
        self.offset = offset
        super().__init__(message, field=field, location=location, hint=hint)


class PluginError(OptikitError):
    """A plugin failed to load, registered something invalid, or clashed with another.

    ``optimizer`` names an optimizer that broke its contract during a run (``update`` returned
    something other than ``(step, state)``); the plugin it came from is then filled in by the
    caller that knows the registry.
    """

    def __init__(self, message: str, *, plugin: str | None = None, optimizer: str | None = None) -> None:
        self.message = message
        self.plugin = plugin
        self.optimizer = optimizer
        super().__init__(f"plugin {plugin}: {message}" if plugin else message)


class RunError(OptikitError):
    """A run could not complete (an optimizer raised, a stop was requested with no result)."""

    exit_code = 1


class DivergenceError(RunError):
    """The loss, gradient or a parameter stopped being finite during a run."""

    def __init__(
        self,
        message: str,
        *,
        epoch: int,
        step: int,
        parameters: dict[str, float],
        what: str = "loss",
        hint: str | None = "lower the learning rate (optimizer.lr) or check the model's domain",
        result: object | None = None,
    ) -> None:
        self.epoch = epoch
        self.step = step
        self.parameters = parameters
        self.what = what
        self.hint = hint
        self.result = result
        params = ", ".join(f"{k}={v!r}" for k, v in parameters.items())
        text = f"{message} at epoch {epoch} (step {step}); parameters: {params}"
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class GradientMismatchError(RunError):
    """A spec's hand-written training gradient disagrees with the derived one; the run is refused.

    ``parameter`` names the parameter, ``derived`` and ``hand`` are the two expressions as text.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        derived: str,
        hand: str,
        location: Location | None = None,
        hint: str | None = "fix the gradient, remove 'gradient' to train with the derived one, "
        "or pass --trust-gradient (trust_gradient=True) to train with it anyway",
    ) -> None:
        self.parameter = parameter
        self.derived = derived
        self.hand = hand
        self.location = location
        self.hint = hint
        head = f"{location}: gradient.{parameter}: " if location is not None else f"gradient.{parameter}: "
        text = head + message
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)
