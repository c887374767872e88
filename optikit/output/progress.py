"""A live progress bar on a terminal (tqdm), updated after every optimizer step.

Shown only when the stream is a terminal, and only once a run has gone on for ``DELAY`` seconds,
so a quick run prints exactly what it printed before; when output is piped nothing of it is
written (no carriage returns, no escape codes). Lines the run prints meanwhile (the per-epoch
table) go through :meth:`Progress.stream`, which clears the bar around each one.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ..engine import EpochRecord
from ..data import steps_per_epoch

__all__ = ["Progress", "wanted", "DELAY"]

#: Seconds a run goes before its bar appears.
DELAY = 1.0


def wanted(stream: TextIO, quiet: bool = False) -> bool:
    """Whether a bar belongs on ``stream``: a terminal, and not asked to be quiet."""
    isatty = getattr(stream, "isatty", None)
    return not quiet and bool(isatty and isatty())


def total_steps(epochs: int | None, steps: int | None, n_rows: int, batch_size: int | None) -> int | None:
    """The steps a run will take when its limits say so (``None`` if only tol/gtol/max_time end it)."""
    per_epoch = steps_per_epoch(n_rows, batch_size)
    bounds = [b for b in (steps, epochs * per_epoch if epochs is not None else None) if b is not None]
    return min(bounds) if bounds else None


class Progress:
    """A bar of optimizer steps with the epoch and the last epoch's loss; ``step`` and ``epoch``
    are the run's ``on_step`` hook and epoch callback."""

    def __init__(self, total: int | None, *, stream: TextIO | None = None, delay: float | None = None) -> None:
        from tqdm import tqdm

        self.out = stream if stream is not None else sys.stderr
        self._tqdm = tqdm
        self.bar = tqdm(total=total, file=self.out, unit="step", dynamic_ncols=True,
                        delay=DELAY if delay is None else delay, leave=False, mininterval=0.1)
        self.done: int | None = None
        self._next, self._stride, self._since = 0, 1, time.monotonic()

    def step(self, step: int) -> None:
        if step < self._next:  # most steps stop here: a comparison, so the loop does not slow down
            return
        if self.done is None:  # a resumed run starts past 0: count from there, not as one huge step
            self.bar.n = self.bar.last_print_n = self.done = step - 1
        self.bar.update(step - self.done)
        self.done = step
        # hand tqdm about 20 updates a second whatever the speed of a step
        now = time.monotonic()
        elapsed, self._since = now - self._since, now
        rate = self._stride / elapsed if elapsed > 0 else float("inf")
        self._stride = max(1, min(int(rate * 0.05), 1_000_000))
        self._next = step + self._stride

    def epoch(self, record: EpochRecord) -> None:
        if self.done is not None and record.step > self.done:
            self.bar.update(record.step - self.done)
            self.done = record.step
        self.bar.set_postfix_str(f"epoch {record.epoch}, loss {record.loss:.6g}", refresh=False)

    def stream(self, inner: TextIO) -> TextIO:
        """``inner`` wrapped so that what is written to it does not tear the bar."""
        return _Cleared(inner, self._tqdm)

    def close(self) -> None:
        self.bar.close()


class _Cleared:
    """A text stream that writes whole lines, clearing the bar before and redrawing it after each batch."""

    def __init__(self, inner: TextIO, tqdm: Any) -> None:
        self.inner, self._tqdm, self._pending = inner, tqdm, ""

    def write(self, text: str) -> int:
        # print() writes its text and its newline separately: hold a partial line so the bar is
        # redrawn once per line, not between a line and its end
        self._pending += text
        head, sep, self._pending = self._pending.rpartition("\n")
        if sep:
            with self._tqdm.external_write_mode(file=self.inner):
                self.inner.write(head + sep)
                self.inner.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            with self._tqdm.external_write_mode(file=self.inner):
                self.inner.write(self._pending)
            self._pending = ""
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()
