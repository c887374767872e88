"""Runs that lose no work: history written as it goes, checkpoints, resume, and a clean Ctrl-C.

:func:`run_controlled` wraps :meth:`optikit.api.Prepared.run`. The first SIGINT asks the loop to
stop after the current step; the run then ends normally with ``stop_reason == "interrupted"``
so its result, history file, checkpoint and plot are all written. A second SIGINT aborts.
"""

from __future__ import annotations

import contextlib
import csv
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from .checkpoint import RunControl, load_checkpoint, save_checkpoint, spec_identity
from .records import EpochRecord, Result
from ..errors import Location, RunError, SpecError

__all__ = ["HistoryWriter", "catch_interrupt", "make_control", "run_controlled"]


class HistoryWriter:
    """Append each epoch's record to a CSV (``.csv``) or JSON Lines (any other suffix) file, flushed."""

    def __init__(self, path: str | Path, names: Iterable[str]) -> None:
        self.path = Path(path)
        self.names = tuple(names)
        self.csv = self.path.suffix.lower() == ".csv"
        try:
            self.handle: TextIO = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"cannot write the history file: {exc.strerror}", field="--history",
                            location=Location(str(path))) from None
        self.validation: bool | None = None  # known at the first record: a validation column or not
        if self.csv:
            self.writer = csv.writer(self.handle)

    def __call__(self, record: EpochRecord) -> None:
        if self.csv:  # repr: floats read back exactly
            if self.validation is None:
                self.validation = record.validation_loss is not None
                held = ["validation_loss"] if self.validation else []
                self.writer.writerow(["epoch", "step", "loss", *held, *self.names])
            held = [repr(record.validation_loss)] if self.validation else []
            self.writer.writerow([record.epoch, record.step, repr(record.loss), *held,
                                  *(repr(record.parameters[n]) for n in self.names)])
        else:
            held = {"validation_loss": record.validation_loss} if record.validation_loss is not None else {}
            self.handle.write(json.dumps({"epoch": record.epoch, "step": record.step, "loss": record.loss, **held,
                                          "parameters": dict(record.parameters)}) + "\n")
        self.handle.flush()

    def close(self) -> None:
        if self.csv and self.validation is None:  # a run without epochs still leaves the header
            self.writer.writerow(["epoch", "step", "loss", *self.names])
        self.handle.close()


@contextlib.contextmanager
def catch_interrupt(control: RunControl, out: TextIO | None = None) -> Iterator[None]:
    """While active, the first SIGINT sets ``control.interrupted``; a second one raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if control.interrupted:
            raise KeyboardInterrupt
        control.interrupted = True
        print("optikit: interrupted; stopping after the current step (Ctrl-C again to abort)",
              file=out or sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def make_control(prepared: Any, *, checkpoint: str | Path | None = None, checkpoint_every: int = 1,
                 resume: str | Path | None = None, on_nonfinite: str = "stop", max_skips: int = 10) -> RunControl:
    """A :class:`RunControl` for ``prepared`` (an :class:`~optikit.api.Prepared`): checks paths, loads ``resume``."""
    identity = spec_identity(prepared.spec, prepared.optimizer, prepared.problem.source)
    state = None
    if resume is not None:
        fresh = prepared.optimizer.init(prepared.spec.initial.copy())
        state = load_checkpoint(resume, identity, fresh)
    save: Callable | None = None
    if checkpoint is not None:
        target = Path(checkpoint)
        if not target.parent.is_dir():
            raise SpecError("the checkpoint's folder does not exist", field="--checkpoint", location=Location(str(target)))
        if target.exists() and not target.is_file():
            raise SpecError("not a regular file", field="--checkpoint", location=Location(str(target)))

        def save(run_state: Any) -> None:
            try:
                save_checkpoint(target, run_state, identity)
            except OSError as exc:
                raise RunError(f"cannot write the checkpoint {target}: {exc.strerror or exc}") from None

    return RunControl(resume=state, save=save, every=checkpoint_every, on_nonfinite=on_nonfinite, max_skips=max_skips)


def run_controlled(prepared: Any, callbacks: Iterable[Callable[[EpochRecord], Any]] = (), *,
                   history: str | Path | None = None, checkpoint: str | Path | None = None,
                   checkpoint_every: int = 1, resume: str | Path | None = None, on_nonfinite: str = "stop",
                   max_skips: int = 10, catch_sigint: bool = True,
                   on_start: Callable[[], Any] | None = None, on_step: Callable[[int], Any] | None = None) -> Result:
    """Run ``prepared`` with a history file, checkpoints, resumption, a non-finite policy and a clean Ctrl-C.

    A resumed run's history file starts with the epochs of the checkpoint, so it matches the file
    an uninterrupted run writes. ``on_start`` is called once the files and the checkpoint to
    resume have been checked, right before the first step (a report's header goes there).
    ``on_step(step)`` is called after every optimizer step (a progress bar).
    """
    control = make_control(prepared, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                           on_nonfinite=on_nonfinite, max_skips=max_skips)
    control.on_step = on_step
    writer = HistoryWriter(history, prepared.problem.parameter_names) if history is not None else None
    callbacks = list(callbacks)
    if writer is not None:
        if control.resume is not None:
            for record in control.resume.history[:control.resume.n_history]:
                writer(record)
        callbacks.insert(0, writer)  # on disk before anything else sees the epoch
    if on_start is not None:
        on_start()
    try:
        with catch_interrupt(control) if catch_sigint else contextlib.nullcontext():
            result = prepared.run(callbacks, control=control)
        if result.stop_reason == "interrupted":
            control.flush()
        return result
    finally:
        if writer is not None:
            writer.close()
