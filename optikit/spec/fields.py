"""Typed reading of a loaded YAML document: each getter checks a value's type and, when it is wrong,
raises a :class:`SpecError` naming the field (dotted path) and its file:line:column."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..errors import did_you_mean
from ..errors import dotted
from .yamlsafe import SourceMap

__all__ = ["FieldReader", "describe_value"]


class FieldReader:
    """Typed getters over one document; ``path`` arguments are tuples of keys and list indices."""

    def __init__(self, raw: Any, source: SourceMap, path: Path | None) -> None:
        self.raw, self.source, self.path = raw, source, path

    def err(self, message: str, path: tuple, hint: str | None = None, key: bool = False) -> SpecError:
        loc = self.source.key(path) if key else self.source.value(path)
        return SpecError(message, field=dotted(path) or None, location=loc, hint=hint)

    # ---- typed getters -------------------------------------------------------------------
    def mapping(self, value: Any, path: tuple, what: str = "a mapping of keys to values") -> dict:
        if not isinstance(value, dict):
            raise self.err(f"expected {what}, got {describe_value(value)}", path)
        return value

    def known_keys(self, value: dict, path: tuple, allowed: tuple[str, ...]) -> None:
        for key in value:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"valid keys: {', '.join(allowed)}"
                raise self.err(f"unknown key {key!r}", path + (key,), hint=hint, key=True)

    def number(self, value: Any, path: tuple, *, finite: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.err(f"expected a number, got {describe_value(value)}", path)
        try:
            out = float(value)
        except OverflowError:
            raise self.err("number too large for float64", path) from None
        if finite and not math.isfinite(out):
            raise self.err(f"expected a finite number, got {value}", path)
        return out

    def integer(self, value: Any, path: tuple, minimum: int) -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.err(f"expected a whole number, got {describe_value(value)}", path)
        if value < minimum:
            raise self.err(f"must be at least {minimum}, got {value}", path)
        return value

    def text(self, value: Any, path: tuple) -> str:
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return repr(value)  # "model: 3" is a constant model; keep it as text
        if not isinstance(value, str) or not value.strip():
            raise self.err(f"expected text, got {describe_value(value)}", path)
        return value


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        short = value if len(value) <= 40 else value[:37] + "..."
        return f"text ({short!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
