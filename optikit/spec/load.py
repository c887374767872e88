"""Reading spec files: YAML text to a validated :class:`~optikit.spec.Spec`.

The format is documented key by key in ``docs/spec.md``. Loading parses every expression
(through :mod:`optikit.expr`, never ``eval``) so unknown symbols are reported with their line;
it does not import plugins or run anything the file names.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Location, SpecError
from .builder import build
from .document import Spec
from .yamlsafe import load as load_yaml

__all__ = ["load_spec", "loads_spec"]


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", location=Location(str(path))) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", location=Location(str(path))) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", location=Location(str(path))) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", location=Location(str(path))) from None
    return loads_spec(text, path=path)


def loads_spec(text: str, *, path: str | Path | None = None) -> Spec:
    """Validate spec ``text``; ``path`` (if given) names it in errors and anchors relative data paths."""
    path = Path(path) if path is not None else None
    raw, source = load_yaml(text, str(path) if path else "<spec>")
    return build(raw, source, path)
