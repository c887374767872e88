"""Where the numba backend's compiled loops live between runs: a private directory of Python
files that optikit wrote, each named by a hash of its own text and of the versions that compiled it.

A loop's source is printed from the canonical (vetted, renamed) expressions, so an unchanged spec
gives the same text and so the same file; numba's ``cache=True`` keeps the machine code next to
it, and a second run loads that instead of compiling. Nothing read back is trusted: the file is
imported only when its bytes equal the source just printed (the hash names it, the comparison
proves it), and only from a directory owned by the user and closed to everyone else; otherwise
the loop is compiled in memory as if there were no cache. docs/security.md has the full argument.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import Any, Callable

from ..symbolic.cache import ENV, private_dir
from ..version import __version__

__all__ = ["cache_dir", "cached_function", "ENV"]

def cache_dir() -> Path | None:
    """The cache directory, created private (0700) if missing; ``None`` when it is off or unsafe."""
    return private_dir("numba")


def _key(source: str, numba: Any) -> str:
    import numpy

    versions = f"{__version__}|{numba.__version__}|{numpy.__version__}|{platform.python_version()}|{sys.platform}"
    return hashlib.sha256(f"{versions}\n{source}".encode()).hexdigest()[:40]


def cached_function(source: str, name: str, numba: Any, compile_in_memory: Callable[[], Any]) -> Any:
    """Function ``name`` of ``source`` (a module's text that jits it with ``cache=True``), loaded
    from the cache directory; ``compile_in_memory()`` when there is no usable cache."""
    where = cache_dir()
    if where is None:
        return compile_in_memory()
    key = _key(source, numba)
    path = where / f"loop_{key}.py"
    data = source.encode()
    try:
        if not path.exists() or path.read_bytes() != data:
            tmp = where / f".{key}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: a concurrent run sees the old file or the new one
        if path.read_bytes() != data or path.stat().st_uid != os.getuid():
            return compile_in_memory()
        spec = importlib.util.spec_from_file_location(f"optikit_loop_{key}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # numba's cached code finds its globals by module name
        spec.loader.exec_module(module)  # the text compared equal to what was printed above
    except OSError:
        return compile_in_memory()
    return getattr(module, name)
