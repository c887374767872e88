"""Bounded symbolic work: differentiation and common-subexpression elimination with a time and memory limit.

A spec's expressions are small by construction (:mod:`optikit.expr` caps their size), but the
derivative of a product of many factors grows quadratically and ``cse`` on a large tree can take
long. Trees larger than :data:`NODE_THRESHOLD` nodes are therefore differentiated in a worker
process (a fresh interpreter) that runs under ``RLIMIT_AS`` and is killed after the
timeout; exceeding either is a :class:`~optikit.errors.SpecError`, not a hang. Smaller trees are
differentiated in-process: starting a worker costs more than their whole derivation. So is a
larger tree whose derivative is predictably cheap (at most :data:`WORK_LIMIT` steps of
:func:`optikit.symbolic.derivative.work`, such as a wide linear model), under an alarm of
:data:`IN_PROCESS_SECONDS`: past it, or in a thread where no alarm can be set, the worker takes over.

Limits: ``OPTIKIT_SYMBOLIC_TIMEOUT`` (seconds, default 30), ``OPTIKIT_SYMBOLIC_MEMORY`` (MiB,
default 2048), or :func:`limits` / ``optikit run --symbolic-timeout``. What travels between the
processes are SymPy trees that optikit itself built, never spec text.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import Any, Iterator, Sequence

import sympy

from ..errors import SpecError
from . import derivative
from .shared import shared_subexpressions

__all__ = ["NODE_THRESHOLD", "WORK_LIMIT", "IN_PROCESS_SECONDS", "derive", "limits", "set_timeout", "timeout", "memory_bytes", "tree_size",
           "PrecomputedCSE"]

#: Trees with more nodes than this are differentiated in a bounded worker process.
NODE_THRESHOLD = 400
#: Larger trees are tried in-process when their derivative takes at most this many steps
#: (:func:`optikit.symbolic.derivative.work`; about 0.2 s here, a worker's start costs 0.5 s).
WORK_LIMIT = 100_000
#: The alarm on that in-process attempt (main thread only); past it the worker starts.
IN_PROCESS_SECONDS = 1.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY_MIB = 2048

_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar("optikit_symbolic_timeout", default=None)


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def timeout() -> float:
    """The time limit in seconds: :func:`limits` / :func:`set_timeout`, else the environment, else 30."""
    value = _timeout.get()
    return value if value is not None else _env_float("OPTIKIT_SYMBOLIC_TIMEOUT", DEFAULT_TIMEOUT)


def memory_bytes() -> int:
    """The worker's address-space limit in bytes (``OPTIKIT_SYMBOLIC_MEMORY`` MiB)."""
    return int(_env_float("OPTIKIT_SYMBOLIC_MEMORY", DEFAULT_MEMORY_MIB) * 2**20)


def set_timeout(seconds: float) -> None:
    """Set the time limit for the current context (the ``--symbolic-timeout`` option)."""
    if not seconds > 0:
        raise SpecError(f"--symbolic-timeout must be positive, got {seconds}")
    _timeout.set(float(seconds))


@contextlib.contextmanager
def limits(timeout: float | None = None) -> Iterator[None]:
    """Within the block, symbolic work is limited to ``timeout`` seconds."""
    if timeout is not None and not timeout > 0:
        raise SpecError(f"the symbolic time limit must be positive, got {timeout}")
    token = _timeout.set(timeout)
    try:
        yield
    finally:
        _timeout.reset(token)


def tree_size(exprs: Sequence[sympy.Expr], stop: int | None = None) -> int:
    """Nodes in ``exprs`` (counting stops early past ``stop``)."""
    n = 0
    for e in exprs:
        for _ in sympy.preorder_traversal(e):
            n += 1
            if stop is not None and n > stop:
                return n
    return n


class PrecomputedCSE:
    """A ``cse`` callable for ``sympy.lambdify`` that returns a result computed in the worker."""

    def __init__(self, exprs: list[sympy.Expr], result: tuple[Any, Any]) -> None:
        self.exprs, self.result = exprs, result

    def __call__(self, exprs: Any) -> tuple[Any, Any]:
        if list(exprs) == self.exprs:
            return self.result
        return shared_subexpressions(exprs)


def _work(receive: Connection, conn: Connection) -> None:
    """The worker: receive ``(loss, params, memory)``, send back the derivatives and their cse."""
    loss, params, memory = receive.recv()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):  # no RLIMIT_AS on this platform: the timeout still holds
        pass
    try:
        grads = list(derivative.gradient(loss, params))
        conn.send(("ok", grads, shared_subexpressions([loss, *grads])))
    except MemoryError:
        conn.send(("memory", None, None))
    except RecursionError:
        conn.send(("deep", None, None))
    except Exception as exc:  # reported to the parent, which decides
        conn.send(("error", f"{type(exc).__name__}: {exc}", None))


def _start_worker() -> tuple[subprocess.Popen, Connection, Connection]:
    # A fresh interpreter running this module: unlike multiprocessing's spawn, it never re-imports
    # the caller's __main__ (a user script without a main guard would run twice).
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    # The worker needs SymPy and this module, not the package: bare parent packages keep
    # optikit/__init__ (the API, backends, NumPy) from being imported, a third of its start-up
    code = ("import sys, types\n"
            "for name, path in (('optikit', sys.argv[3]), ('optikit.symbolic', sys.argv[4])):\n"
            "    sys.modules[name] = module = types.ModuleType(name)\n"
            "    module.__path__ = [path]\n"
            "from optikit.symbolic.bounded import _main\n"
            "_main(sys.argv[1:3])")
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.Popen([sys.executable, "-c", code, str(to_child_r), str(from_child_w), os.path.dirname(here),
                             here],
                            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_child_r)
    os.close(from_child_w)
    return proc, Connection(to_child_w), Connection(from_child_r)


def derive(spec: Any, loss: sympy.Expr, params: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], Any]:
    """``(gradient expressions, cse)`` of ``loss`` by ``params``; ``cse`` is for ``sympy.lambdify``.

    Large trees are handled in a bounded worker, unless their derivative is predictably cheap and
    done here within :data:`IN_PROCESS_SECONDS`; a timeout or memory exhaustion raises a
    :class:`SpecError` located at the spec's model (or objective).
    """
    if tree_size([loss], stop=NODE_THRESHOLD) <= NODE_THRESHOLD:
        return derivative.gradient(loss, params), True
    limit = configured = timeout()
    steps = derivative.work(loss, params)
    if steps is not None and steps <= WORK_LIMIT:
        began = time.monotonic()
        found = _in_process(loss, params, min(IN_PROCESS_SECONDS, limit))
        if found is not None:
            return found
        limit = max(limit - (time.monotonic() - began), 0.0)  # the attempt here counts against the limit
    where = "model" if getattr(spec, "model", None) is not None else "objective"
    proc, send, receive = _start_worker()
    status, grads, cse = "crash", None, None
    try:
        send.send((loss, list(params), memory_bytes()))
        if not receive.poll(limit):
            raise spec.error(f"deriving the gradient took longer than {configured:g} s; simplify the model", where,
                             hint="or raise the limit with --symbolic-timeout / OPTIKIT_SYMBOLIC_TIMEOUT")
        try:
            status, grads, cse = receive.recv()
        except EOFError:  # the worker died without answering
            status = "memory" if proc.wait(5) in (-9, 1) else "crash"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        send.close()
        receive.close()
    if status == "memory":
        raise spec.error(f"deriving the gradient needed more than {memory_bytes() // 2**20} MiB; simplify the model",
                         where, hint="or raise the limit with OPTIKIT_SYMBOLIC_MEMORY (MiB)")
    if status == "deep":
        raise spec.error("the model is nested too deeply to differentiate; simplify it", where)
    if status != "ok":
        raise spec.error(f"the gradient could not be derived ({grads or 'the worker process failed'})", where)
    return tuple(grads), PrecomputedCSE([loss, *grads], cse)


def _in_process(loss: sympy.Expr, params: Sequence[sympy.Symbol], seconds: float) -> tuple[tuple[sympy.Expr, ...],
                                                                                          PrecomputedCSE] | None:
    """The gradient and its cse computed here under an alarm of ``seconds``; None when no alarm can
    be set (not the main thread) or the work did not finish in time."""
    from ..expr.build import _Timeout, _deadline, alarm_available  # here: the worker has no use for it

    if not alarm_available():
        return None
    try:
        with _deadline(seconds) as end:
            grads = derivative.gradient(loss, params, deadline=end)
            cse = shared_subexpressions([loss, *grads])
    except (_Timeout, derivative.Expired, RecursionError, MemoryError):  # the worker decides, under its limits
        return None
    return grads, PrecomputedCSE([loss, *grads], cse)


def _main(argv: list[str]) -> None:
    """Entry point of the worker process started by :func:`derive`."""
    _work(Connection(int(argv[0])), Connection(int(argv[1])))
