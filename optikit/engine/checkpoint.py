"""Resumable runs: the loop's mutable state, checkpoints written atomically, exact resumption.

A checkpoint is one JSON file: the parameters, the optimizer's state (a NamedTuple of arrays and
numbers, saved field by field), the sampler's RNG state, the epoch, the step and the history so
far. Every float is stored as ``float.hex`` so a resumed run repeats the uninterrupted one bit for
bit. The file carries a SHA-256 of its content and the identity of the spec it belongs to; a
tampered, truncated or foreign checkpoint is refused. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data import DataSource, open_source
from ..errors import RunError, SpecError, Location, counted
from .records import EpochRecord

__all__ = ["RunState", "RunControl", "save_checkpoint", "load_checkpoint", "spec_identity", "FORMAT"]

FORMAT = "optikit-checkpoint/1"
ON_NONFINITE = ("stop", "skip")


@dataclass
class RunState:
    """The loop's state at an epoch boundary (before the epoch ``epoch`` starts)."""

    params: np.ndarray
    opt_state: Any
    rng_state: dict
    seed: int
    epoch: int
    step: int
    prev_loss: float | None
    initial_loss: float | None
    history: list  # EpochRecords; only the first ``n_history`` belong to this state
    n_history: int
    elapsed: float
    skips: int = 0

    def unpack(self, fresh_state: Any, rng: np.random.Generator, history: Any, start: float) -> tuple:
        """Restore into a run: ``(p, opt_state, step, epoch, prev_loss, initial_loss, seed, start)``."""
        if type(self.opt_state) is not type(fresh_state):
            raise RunError(f"the checkpoint holds optimizer state {type(self.opt_state).__name__}, "
                           f"but this run's optimizer uses {type(fresh_state).__name__}")
        if rng.bit_generator.state.get("bit_generator") != self.rng_state.get("bit_generator"):
            raise RunError("the checkpoint's random generator differs from this run's")
        rng.bit_generator.state = self.rng_state
        history.records.extend(self.history[:self.n_history])
        return (self.params.copy(), self.opt_state, self.step, self.epoch, self.prev_loss, self.initial_loss,
                self.seed, start - self.elapsed)


@dataclass
class RunControl:
    """What a run does besides its arithmetic: resume, checkpoint, non-finite policy, interruption.

    ``on_nonfinite="skip"`` skips a step whose gradient or new parameters are not finite (params
    and optimizer state kept), at most ``max_skips`` times; then the run stops with
    :class:`~optikit.errors.DivergenceError` as with ``"stop"``. ``interrupted`` (set from a
    signal handler) stops the run after the current step. ``on_step(step)`` is called after each
    optimizer step (a progress bar within long epochs); it must be cheap and never stops the run.
    """

    resume: RunState | None = None
    save: Callable[[RunState], None] | None = None
    every: int = 1
    on_nonfinite: str = "stop"
    max_skips: int = 10
    interrupted: bool = False
    skips: int = 0
    last: RunState | None = field(default=None, repr=False)
    saved_epoch: int | None = None
    on_step: Callable[[int], Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.on_nonfinite not in ON_NONFINITE:
            raise SpecError(f"on_nonfinite must be one of {', '.join(ON_NONFINITE)}, got {self.on_nonfinite!r}")
        if isinstance(self.max_skips, bool) or not isinstance(self.max_skips, int) or self.max_skips < 0:
            raise SpecError(f"max_skips must be a whole number >= 0, got {self.max_skips!r}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise SpecError(f"checkpoint_every must be a whole number >= 1, got {self.every!r}")
        if self.resume is not None:
            self.skips = self.resume.skips
            self.saved_epoch = self.resume.epoch

    @property
    def active(self) -> bool:
        return self.save is not None

    def skip(self, what: str) -> bool:
        """Count a non-finite ``what``; True if the step is to be skipped rather than the run stopped."""
        if self.on_nonfinite != "skip" or self.skips >= self.max_skips:
            return False
        self.skips += 1
        return True

    def note(self) -> str:
        return f" after {counted(self.skips, 'skipped step')}" if self.on_nonfinite == "skip" else ""

    def boundary(self, state: RunState) -> None:
        """Called at each epoch boundary; writes a checkpoint when one is due (or on interruption)."""
        state.skips = self.skips
        state.opt_state = _copy(state.opt_state)  # optimizers may update their arrays in place later
        self.last = state
        due = state.epoch % self.every == 0 or self.interrupted
        if self.save is not None and due and state.epoch != self.saved_epoch:
            self.save(state)
            self.saved_epoch = state.epoch

    def flush(self) -> None:
        """Write the last epoch boundary if it is not on disk yet (a run stopped mid-epoch)."""
        if self.save is not None and self.last is not None and self.last.epoch != self.saved_epoch:
            self.save(self.last)
            self.saved_epoch = self.last.epoch


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_copy(v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(v) for v in value)
    return value


# ---- encoding: floats as hex, arrays field by field, never pickle -----------------------------
def _enc(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise RunError(f"cannot checkpoint an array of dtype {value.dtype}")
        flat = [float(v).hex() for v in value.astype(float).ravel()]
        return {"array": flat, "shape": list(value.shape), "dtype": value.dtype.str}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"float": float(value).hex()}
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"namedtuple": type(value).__name__, "fields": {k: _enc(v) for k, v in zip(value._fields, value)}}
    if isinstance(value, (tuple, list)):
        return {"list": [_enc(v) for v in value], "tuple": isinstance(value, tuple)}
    raise RunError(f"cannot checkpoint optimizer state of type {type(value).__name__}; "
                   "states must be NamedTuples of arrays and numbers")


def _dec(value: Any, like: Any = None) -> Any:
    if isinstance(value, dict):
        if "float" in value:
            return float.fromhex(value["float"])
        if "array" in value:
            arr = np.array([float.fromhex(v) for v in value["array"]], dtype=float).reshape(value["shape"])
            return arr.astype(np.dtype(value["dtype"]))
        if "namedtuple" in value:
            cls = type(like)
            if like is None or not hasattr(like, "_fields") or cls.__name__ != value["namedtuple"] \
                    or list(cls._fields) != list(value["fields"]):
                raise ValueError(f"optimizer state {value['namedtuple']} does not match this optimizer's "
                                 f"{type(like).__name__}")
            return cls(*(_dec(value["fields"][k], getattr(like, k)) for k in cls._fields))
        if "list" in value:
            items = [_dec(v, like[i] if isinstance(like, (tuple, list)) and i < len(like) else None)
                     for i, v in enumerate(value["list"])]
            return tuple(items) if value["tuple"] else items
        raise ValueError("unknown value encoding")
    return value


def _f(x: float | None) -> str | None:
    return None if x is None else float(x).hex()


def _uf(x: str | None) -> float | None:
    return None if x is None else float.fromhex(x)


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def spec_identity(spec: Any, optimizer: Any = None, data: DataSource | None = None) -> str:
    """What fixes a run's trajectory, as ``"SPEC/DATA"``: SHA-256s of the spec (file text, model,
    optimizer and its options) and of the data the spec uses (a CSV file the spec names can change
    on its own; ``data`` is the run's source, else the spec's own is opened)."""
    h = hashlib.sha256()
    path = getattr(spec, "path", None)
    if path is not None and Path(path).is_file():
        h.update(Path(path).read_bytes())
    h.update(repr((spec.model, spec.objective, spec.loss, spec.target)).encode())
    opt = spec.optimizer
    h.update(repr((opt.name, sorted(opt.hyperparameters.items()), opt.batch_size, opt.shuffle,
                   sorted((opt.schedule or {}).items()), [(p.name, p.init.hex(), p.min, p.max) for p in spec.flat_parameters],
                   getattr(optimizer, "name", None))).encode())
    if data is None and spec.data is not None:
        data = open_source(spec.data)
    used = [c for c in spec.used_columns if data is not None and c in data.columns]
    return f"{h.hexdigest()}/{data.fingerprint(used) if data is not None else 'no data'}"


def save_checkpoint(path: str | Path, state: RunState, identity: str) -> None:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    history = [{"epoch": r.epoch, "step": r.step, "loss": _f(r.loss),
                "parameters": {k: _f(v) for k, v in r.parameters.items()},
                **({"validation_loss": _f(r.validation_loss)} if r.validation_loss is not None else {})}
               for r in state.history[:state.n_history]]
    payload = {"spec": identity, "params": _enc(np.asarray(state.params, dtype=float)),
               "opt_state": _enc(state.opt_state), "rng_state": state.rng_state, "seed": state.seed,
               "epoch": state.epoch, "step": state.step, "prev_loss": _f(state.prev_loss),
               "initial_loss": _f(state.initial_loss), "elapsed": _f(state.elapsed), "skips": state.skips,
               "history": history}
    text = json.dumps({"format": FORMAT, "sha256": _digest(payload), "payload": payload}, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def load_checkpoint(path: str | Path, identity: str, fresh_state: Any) -> RunState:
    """Read and verify a checkpoint; :class:`SpecError` (exit 2) if it is damaged or foreign."""
    where = Location(str(path))

    def bad(why: str) -> SpecError:
        return SpecError(f"cannot resume: {why}", field="--resume", location=where)

    try:
        text = Path(path).read_text(encoding="utf-8")
        doc = json.loads(text)
    except FileNotFoundError:
        raise bad("no such file") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("payload"), dict):
        raise bad(f"not an optikit checkpoint (expected format {FORMAT})")
    payload = doc["payload"]
    if _digest(payload) != doc.get("sha256"):
        raise bad("the checksum does not match its content (the file was changed or damaged)")
    theirs, ours = str(payload.get("spec")).partition("/")[2], identity.partition("/")[2]
    if theirs and theirs != ours:
        raise bad("the data differs from the checkpointed run's (a data file changed, or other data= arrays)")
    if payload.get("spec") != identity:
        raise bad("the checkpoint belongs to another spec or other optimizer settings",)
    try:
        history = [EpochRecord(int(r["epoch"]), int(r["step"]), _uf(r["loss"]),
                               {k: _uf(v) for k, v in r["parameters"].items()}, _uf(r.get("validation_loss")))
                   for r in payload["history"]]
        return RunState(params=_dec(payload["params"]), opt_state=_dec(payload["opt_state"], fresh_state),
                        rng_state=payload["rng_state"], seed=int(payload["seed"]), epoch=int(payload["epoch"]),
                        step=int(payload["step"]), prev_loss=_uf(payload["prev_loss"]),
                        initial_loss=_uf(payload["initial_loss"]), history=history, n_history=len(history),
                        elapsed=_uf(payload["elapsed"]) or 0.0, skips=int(payload.get("skips", 0)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad(f"malformed content ({exc})") from None
