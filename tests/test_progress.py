"""The progress bar: on a terminal it appears and moves within epochs; piped or --quiet, nothing of it."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest

from optikit.cli import main
from optikit.output import progress

from .conftest import ROOT, SPECS

# the bar appears after progress.DELAY seconds; the child sets it to 0 so a short run shows it
CHILD = ("import sys; import optikit.output.progress as p; p.DELAY = 0.0; from optikit.cli import main; "
         "sys.exit(main(sys.argv[1:]))")
ARGS = ["run", str(SPECS / "seed_sgd.yaml"), "--epochs", "400", "--every", "100"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}


def _run_in_pty(args: list[str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    # a new pseudo-terminal is 0 columns wide, where tqdm draws nothing: give it a real size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdin=slave, stdout=slave, stderr=slave,
                            env=_env(), close_fds=True)
    os.close(slave)
    chunks = []
    while True:  # drain while it runs: a full terminal buffer would block the child
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=60)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_the_bar_appears_on_a_terminal():
    code, text = _run_in_pty(ARGS)
    assert code == 0, text
    assert "step/s" in text and "\r " in text  # tqdm redraws in place and shows a rate
    # 400 epochs of 3 one-row steps: the total is known, so is the time left
    done = [int(n) for n in re.findall(r"(\d+)/1200 \[", text)]
    assert done and max(done) >= 300  # redrawn as the run went, not only at the start
    assert re.search(r"step/s, epoch \d+, loss [0-9.e+-]+\]", text)  # the bar's own epoch and loss
    assert "ran 400 epochs" in text  # the table's summary is still there


def test_quiet_shows_no_bar_on_a_terminal():
    code, text = _run_in_pty([*ARGS, "--quiet"])
    assert code == 0, text
    assert "step/s" not in text and "ran 400 epochs" in text


def test_nothing_of_it_when_piped():
    proc = subprocess.run([sys.executable, "-c", CHILD, *ARGS], capture_output=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert b"\r" not in stream and b"\x1b" not in stream
    assert b"step/s" not in proc.stderr and b"ran 400 epochs" in proc.stdout


def test_updated_within_an_epoch(monkeypatch):
    """An epoch of several minibatch steps reports each step before the epoch ends (a whole epoch
    run by the backend reports after each chunk of steps: here one step)."""
    from optikit.api import prepare
    from optikit.engine import fused
    from optikit.engine.runio import run_controlled

    monkeypatch.setattr(fused, "CHUNK_STEPS", 1)
    prepared = prepare(SPECS / "seed_sgd.yaml", epochs=2)
    seen: list[int] = []
    epochs_seen = []
    run_controlled(prepared, [lambda r: epochs_seen.append((r.epoch, len(seen)))], catch_sigint=False,
                   on_step=seen.append)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert epochs_seen == [(0, 3), (1, 6)]  # three steps were reported before the first epoch ended


def test_bar_clears_for_lines_printed_meanwhile():
    out, err = io.StringIO(), io.StringIO()
    bar = progress.Progress(10, stream=err, delay=0.0)
    stream = bar.stream(out)
    bar.step(5)
    bar.bar.refresh()
    stream.write("a table row\n")
    bar.close()
    assert out.getvalue() == "a table row\n" and "5/10" in err.getvalue()


@pytest.mark.parametrize("epochs, steps, rows, batch, total", [
    (100, None, 3, None, 100), (100, None, 10, 3, 400), (100, 50, 10, 3, 50), (None, None, 10, 3, None)])
def test_total_steps(epochs, steps, rows, batch, total):
    assert progress.total_steps(epochs, steps, rows, batch) == total


def test_not_wanted_off_a_terminal(capsys):
    assert not progress.wanted(io.StringIO())
    assert main(["run", str(SPECS / "seed_gd.yaml"), "--format", "seed"]) == 0
    assert "\r" not in capsys.readouterr().err
