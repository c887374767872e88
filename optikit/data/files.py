"""Files a spec names: the path rules of docs/security.md, shared by every file kind."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

from .ref import DataError

__all__ = ["resolve_path", "check_file"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def resolve_path(ref: Any, base: Path | None, field: tuple[Any, ...] = ("data", "csv")) -> Path:
    """The file a spec names, which must lie in the spec's folder or below it (docs/security.md)."""
    if not isinstance(ref, str) or not ref.strip():
        raise DataError("expected a file path", field)
    if _URL.match(ref):
        raise DataError("URLs are not read; download the file and name its path", field)
    base = (base if base is not None else Path.cwd()).resolve()
    file = (base / ref).resolve()
    if not file.is_relative_to(base):  # a stranger's spec may not read files elsewhere
        raise DataError("data files must be in the spec's folder or below it", field,
                        hint="copy the file next to the spec and name it by a relative path")
    return file


def check_file(file: Path) -> int:
    """The size of ``file`` in bytes; ``ValueError`` if it is missing or not a regular file."""
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ValueError(f"no such file ({file})") from None
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file (devices, pipes and folders are not read)")
    return info.st_size
