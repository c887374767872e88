"""Files a spec names: the path rules of docs/security.md, shared by every file kind."""

from __future__ import annotations

import glob
import re
import stat
from pathlib import Path
from typing import Any

from .ref import DataError

__all__ = ["resolve_path", "resolve_files", "check_file", "is_pattern"]

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


def is_pattern(ref: str) -> bool:
    """Whether a data path is a glob pattern (``parts/*.parquet``) rather than one file or folder."""
    return any(ch in ref for ch in "*?[")


def resolve_files(ref: Any, base: Path | None, field: tuple[Any, ...], suffix: str) -> list[Path] | None:
    """The files a glob pattern or a folder names, in sorted order (a folder: its ``*.suffix``
    files, not its subfolders); ``None`` when ``ref`` names a single file. Each file obeys the
    path rules of :func:`resolve_path`."""
    named = resolve_path(ref, base, field)  # URLs and paths outside the spec's folder are refused first
    if not (is_pattern(ref) or named.is_dir()):
        return None
    if is_pattern(ref):
        root = (base if base is not None else Path.cwd()).resolve()
        found = sorted(Path(p) for p in glob.glob(str(root / ref)) if Path(p).is_file())
    else:
        found = sorted(p for p in named.glob(f"*.{suffix}") if p.is_file())
    files = [resolve_path(str(p), base, field) for p in found]  # each one inside the spec's folder
    if not files:
        raise DataError(f"no {suffix} files match {ref!r}" if is_pattern(ref) else f"the folder {ref!r} holds no "
                        f".{suffix} files", field)
    return files


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
