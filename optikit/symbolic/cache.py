"""The derivation cache: a second run of an unchanged spec reads its gradient and common
subexpressions from disk instead of asking SymPy again.

Files live in ``$OPTIKIT_CACHE_DIR/symbolic`` (default ``~/.cache/optikit/symbolic``, beside the
numba backend's compiled loops; ``OPTIKIT_CACHE_DIR=off`` turns both off). A file is named by a
SHA-256 of the canonical loss, the parameters and data columns (names and assumptions, in
order) and the optikit, SymPy and Python versions; it holds the trees as JSON node tables
(:mod:`optikit.symbolic.treecodec`), read back through an allowlist of SymPy classes, never
``eval``, ``sympify`` or pickle. A file that is not valid JSON, names another key, fails its
checksum, holds a node outside the allowlist, or does not fit the problem is ignored and
rewritten; a table is written only when it reads back as exactly the trees derived.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
from pathlib import Path
from typing import Any, Sequence

import sympy

from ..version import __version__
from . import bounded, treecodec
from .shared import shared_subexpressions
from .treecodec import CodecError

__all__ = ["ENV", "private_dir", "derive", "FORMAT", "MAX_BYTES"]

#: Environment variable naming the cache directory; ``off`` disables every cache.
ENV = "OPTIKIT_CACHE_DIR"
#: Version of the file layout; files of another layout are ignored.
FORMAT = 2
#: Files larger than this are not read (nothing optikit writes comes near it).
MAX_BYTES = 64 * 2**20


def private_dir(name: str) -> Path | None:
    """Subdirectory ``name`` of the cache directory, created private (0700) if missing; ``None``
    when the cache is off or the directory is not safe to read from."""
    setting = os.environ.get(ENV)
    if setting == "off":
        return None
    base = Path(setting) if setting else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "optikit"
    path = base / name
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    # someone else's directory, or one others may write to, could hold files we did not write
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or not stat.S_ISDIR(info.st_mode):
        return None
    return path


def derive(spec: Any, loss: sympy.Expr, params: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], Any]:
    """``(gradient, cse)`` of ``loss`` by ``params`` as :func:`optikit.symbolic.bounded.derive`
    gives them, with the common subexpressions of ``[loss, *gradient]`` always precomputed (so
    every backend shares one elimination); from the cache when it holds them."""
    where = private_dir("symbolic")
    columns = [spec.symbols[c] for c in getattr(spec, "columns", ()) if c in getattr(spec, "symbols", {})]
    key = None
    if where is not None:
        try:
            key = _key(loss, params, columns)
        except CodecError:  # a tree with no stored form: derived every time
            where = None
    if where is not None and key is not None:
        path = where / f"derive_{key[:40]}.json"
        found = _read(path, key, len(params))
        if found is not None:
            grads, subs, reduced = found
            return grads, bounded.PrecomputedCSE([loss, *grads], (subs, reduced))
    grads, cse = bounded.derive(spec, loss, params)
    if not isinstance(cse, bounded.PrecomputedCSE):
        cse = bounded.PrecomputedCSE([loss, *grads], shared_subexpressions([loss, *grads]))
    if where is not None and key is not None:
        _write(path, key, grads, cse.result)
    return grads, cse


def _key(loss: sympy.Expr, params: Sequence[sympy.Symbol], columns: Sequence[sympy.Symbol]) -> str:
    nodes, roots = treecodec.encode([loss, *params, *columns])
    text = json.dumps({"format": FORMAT, "optikit": __version__, "sympy": sympy.__version__,
                       "python": platform.python_version(), "nodes": nodes, "roots": roots,
                       "params": len(params)}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _checksum(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _write(path: Path, key: str, grads: Sequence[sympy.Expr], cse: tuple[Any, Any]) -> None:
    subs, reduced = cse
    try:
        trees = [*grads, *(t for pair in subs for t in pair), *reduced]
        nodes, roots = treecodec.encode(trees)
        # write only what reads back as exactly these trees: a cached run must equal a derived one
        if treecodec.encode(treecodec.decode(json.loads(json.dumps(nodes)), roots)) != (nodes, roots):
            return
    except CodecError:
        return
    payload = {"format": FORMAT, "key": key, "nodes": nodes, "grads": len(grads), "subs": len(subs),
               "reduced": len(reduced), "roots": roots}
    data = json.dumps({**payload, "checksum": _checksum(payload)}, separators=(",", ":")).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # atomic: a concurrent run reads the old file or the new one
    except OSError:
        tmp.unlink(missing_ok=True)


def _read(path: Path, key: str, n_params: int) -> tuple[tuple[sympy.Expr, ...], list[Any], list[Any]] | None:
    """``(gradient, cse replacements, reduced expressions)`` from ``path``, or None for a missing,
    foreign or damaged file."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > MAX_BYTES:
            return None
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != key:
        return None
    checksum = doc.pop("checksum", None)
    counts = [doc.get(k) for k in ("grads", "subs", "reduced")]
    if checksum != _checksum(doc) or any(type(c) is not int or c < 0 for c in counts) or counts[0] != n_params:
        return None
    n_grads, n_subs, n_reduced = counts
    roots = doc.get("roots")
    if not isinstance(roots, list) or len(roots) != n_grads + 2 * n_subs + n_reduced:
        return None
    try:
        trees = treecodec.decode(doc.get("nodes"), roots)
    except CodecError:
        return None
    grads = tuple(trees[:n_grads])
    pairs = trees[n_grads:n_grads + 2 * n_subs]
    subs = [(pairs[2 * i], pairs[2 * i + 1]) for i in range(n_subs)]
    if any(type(s) is not sympy.Symbol for s, _ in subs):
        return None
    return grads, subs, list(trees[n_grads + 2 * n_subs:])
