"""A spec compiled for a cluster: the symbolic problem derived on the client (to check the spec
and to give workers a digest to match), the rows placed on the workers as partitions.

Partitions: each file of a csv or parquet source (one file, a folder or a glob) is read by a
worker, with the reader a local run uses, and held in its memory while the run needs it (a
parquet file is cut by row groups when there are fewer files than workers). Rows
that only the client has (inline, generated, npy/npz, or ``data=`` from Python) are cut into one
partition per worker and scattered. A file a local run would stream (past ``memory_budget_mb``)
is streamed by a worker at every pass instead of held: full-batch sums only.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from ..backends import NumpyBackend
from ..backends.compile import Data, open_data
from ..data import DataError, DataRef, DataSource, open_source, open_validation
from ..data.kinds import streams
from ..data.parquet import row_group_rows
from ..errors import SpecError
from ..spec import Spec
from ..symbolic import SymbolicProblem, symbolic_problem
from .cluster import FIELD, Session, connect
from .evaluator import ClusterEvaluator, ClusterProblem
from .local_sgd import local_sgd
from .worker import (ProblemText, StreamedFile, expression_digest, load_partition, load_row_groups, partition_rows,
                     sigma_problem)

__all__ = ["compile_on_cluster", "prepare_on_cluster"]

_FILE_KINDS = ("csv", "parquet")


def _text(spec: Spec, symbolic: SymbolicProblem, losses: Mapping[str, str], hand: bool) -> ProblemText:
    if not spec.source.lines:
        raise spec.error("a spec runs on a cluster from its text; this one has none (load it with load_spec)")
    path = str(Path(spec.path).resolve()) if spec.path is not None else None
    return ProblemText("\n".join(spec.source.lines) + "\n", path, tuple(sorted(losses.items())), hand,
                       expression_digest(symbolic))


def _file_key(file: Path, columns: tuple[str, ...], options: Mapping[str, Any], sigma: str | None) -> str:
    """A Dask key naming a file's rows as read now with these options: a file edited since is read again."""
    info = file.stat()
    named = repr((str(file), info.st_size, info.st_mtime_ns, columns, sorted(options.items()), sigma))
    return "optikit-rows-" + hashlib.sha256(named.encode()).hexdigest()[:32]


def _file_partitions(ref: DataRef, session: Session, sigma: str | None) -> list[Any]:
    """A future per file held in worker memory, or, for a file a local run would stream (larger
    than ``memory_budget_mb``, or ``stream: true``), where to read it at every pass."""
    options = {k: v for k, v in ref.options.items() if k not in ("files", "validation", "split", "values")}
    files = ref.options.get("files") or (ref.path,)
    client = session.client
    pieces = -(-session.workers // len(files))  # fewer files than workers: parquet files split by row groups
    out = []
    for f in files:
        own = {**options, "file": f.name}
        if streams(DataRef(ref.kind, ref.columns, f, MappingProxyType(own))):
            out.append(StreamedFile(ref.kind, str(f), ref.columns, tuple(own.items()), sigma))
        elif ref.kind == "parquet" and pieces > 1 and len(sizes := _row_groups(f)) > 1:
            for groups, first in _split_groups(sizes, pieces):
                out.append(client.submit(load_row_groups, str(f), ref.columns, groups, first, own["missing"], sigma,
                                         key=_file_key(Path(f), ref.columns, {**own, "groups": groups}, sigma),
                                         pure=False))
        else:
            out.append(client.submit(load_partition, ref.kind, str(f), ref.columns, own, sigma,
                                     key=_file_key(Path(f), ref.columns, own, sigma), pure=False))
    return out


def _row_groups(file: Path) -> list[int]:
    try:
        return row_group_rows(file)
    except ValueError as exc:
        raise DataError(f"{file.name}: {exc}", ("data", "parquet")) from None


def _split_groups(sizes: list[int], pieces: int) -> list[tuple[tuple[int, ...], int]]:
    """Consecutive row groups cut into at most ``pieces`` runs of about equal rows: each run's
    groups and the file's row number of its first row."""
    total, before = sum(sizes), 0
    runs: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for i, rows in enumerate(sizes):
        piece = before * pieces // max(total, 1)
        runs.setdefault(piece, []).append(i)
        starts.setdefault(piece, before)
        before += rows
    return [(tuple(runs[k]), starts[k]) for k in sorted(runs)]


def _scattered(source: DataSource, session: Session, columns: tuple[str, ...], k: int) -> list[Any]:
    """The client's rows cut into ``k`` partitions of consecutive rows, sent to the workers."""
    rows = source.take(None)
    bounds = np.linspace(0, source.n_rows, k + 1).astype(int)
    chunks = [{c: np.asarray(rows[c][a:b]) for c in columns if c in rows} for a, b in zip(bounds[:-1], bounds[1:])]
    return session.client.scatter(chunks, hash=False)


def _evaluator(spec: Spec, symbolic: SymbolicProblem, text: ProblemText, session: Session,
               ref: DataRef | None, source: DataSource | None) -> ClusterEvaluator:
    rescatter = None
    if ref is not None and ref.kind in _FILE_KINDS:
        partitions = _file_partitions(ref, session, spec.sigma)
    else:
        assert source is not None
        problem = sigma_problem(source.take(None), spec.sigma)
        if problem is not None:
            raise spec.error(problem, "sigma")
        count = max(1, min(session.workers, source.n_rows))
        rescatter = partial(_scattered, source, session, tuple(spec.columns), count)
        partitions = rescatter()
    try:
        lengths = session.client.gather(session.client.map(partition_rows, partitions, pure=False))
    except DataError as exc:
        if exc.from_keyword:
            raise
        raise spec.error(exc.message, *exc.path, hint=exc.hint) from None
    if rescatter is None:  # a file or row groups whose rows were all dropped (missing: drop) add nothing
        kept = [i for i, n in enumerate(lengths) if n]
        if not kept:
            raise spec.error("no data rows", *(ref.field if ref is not None else ("data",)))
        partitions, lengths = [partitions[i] for i in kept], [lengths[i] for i in kept]
    return ClusterEvaluator(symbolic, session, text, partitions, lengths, rescatter)


def compile_on_cluster(spec: Spec, losses: Mapping[str, str], session: Session, *, data: Data | None = None,
                       use_hand_gradient: bool = False) -> ClusterProblem:
    """``spec``'s problem with its rows on the workers of ``session``'s cluster."""
    symbolic = symbolic_problem(spec, losses, use_hand_gradient=use_hand_gradient)
    if not symbolic.columns:
        raise spec.error("an objective without data has no rows to spread over a cluster; run it without --dask",
                         "objective")
    if symbolic.vectors is not None:
        raise spec.error("vector parameters and sum()/dot() are evaluated on one machine; run without --dask",
                         "model")
    ref = spec.data if data is None else None
    options = ref.options if ref is not None else {}
    if options.get("split") is not None:
        raise spec.error("a validation split is not drawn on a cluster; name a validation source instead "
                         "('validation: {parquet: ...}')", "data", "split")
    text = _text(spec, symbolic, losses, use_hand_gradient)
    in_files = ref is not None and ref.kind in _FILE_KINDS
    if in_files:  # the client reads files only if asked (a checkpoint's fingerprint, a report), a chunk at a time
        local: DataSource | None = open_source(DataRef(ref.kind, ref.columns, ref.path,
                                                       MappingProxyType({**ref.options, "stream": True})))
    else:
        local = open_data(spec, data)
    evaluator = _evaluator(spec, symbolic, text, session, ref, None if in_files else local)
    validation = None
    held_ref = options.get("validation")
    if held_ref is not None:
        held = None if held_ref.kind in _FILE_KINDS else open_validation(held_ref)
        validation = _evaluator(spec, symbolic, text, session, held_ref, held)
    return ClusterProblem(symbolic, evaluator, local, NumpyBackend(), validation=validation,
                          validation_source=None, session=session)


def prepare_on_cluster(spec: Spec, losses: Mapping[str, str], optimizer: Any, settings: Any, data: Data | None,
                       backend: str, address: Any, check: Callable[[ClusterProblem], None],
                       ) -> tuple[Session, ClusterProblem, Any, Any]:
    """Connect to ``address``, compile ``spec`` on the cluster, run ``check`` on the problem, and
    give the optimizer and settings the run uses (local SGD's with ``sync_every``); the session
    is closed again if any of it fails."""
    if backend != NumpyBackend.name:
        raise SpecError(f"on a Dask cluster the workers evaluate with the numpy backend, not {backend!r}",
                        field=f"--backend / backend= with {FIELD}")
    session = connect(address)
    try:
        problem = compile_on_cluster(spec, losses, session, data=data, use_hand_gradient=True)
        check(problem)
        if settings.sync_every is not None:
            optimizer, settings = local_sgd(problem, optimizer, settings)
    except BaseException:
        session.close()
        raise
    return session, problem, optimizer, settings
