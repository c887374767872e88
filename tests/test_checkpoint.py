"""No lost work: history files, checkpoints, exact resume, Ctrl-C, non-finite steps, bounded derivation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import sympy

import optikit
from optikit.symbolic import bounded
from optikit.engine.checkpoint import RunControl, load_checkpoint, spec_identity
from optikit.cli import main
from optikit.engine import run_problem

LONG = """
model: w*x + b
parameters:
  w: 1.0
  b: 0.0
data:
  x: [1.0, 2.0, 3.0, 4.0, 5.0]
  y: [2.1, 3.9, 6.2, 7.8, 10.1]
optimizer:
  name: {opt}
  lr: 0.001
  batch_size: 2
  epochs: {epochs}
  seed: 3
"""


def _spec(write_spec, opt="adam", epochs=40):
    return write_spec(LONG.format(opt=opt, epochs=epochs))


def _trajectory(result):
    return [(r.epoch, r.step, r.loss.hex(), tuple(v.hex() for v in r.parameters.values())) for r in result.history]


@pytest.mark.parametrize("opt", ["adam", "sgd", "lbfgs"])
def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(write_spec, tmp_path, opt):
    path = _spec(write_spec, opt)
    full = optikit.run(path)
    ck = tmp_path / "ck.json"
    stopped = optikit.run(path, checkpoint=ck, checkpoint_every=7, callbacks=[lambda r: r.epoch == 16])
    assert stopped.stop_reason == "callback"
    saved = json.loads(ck.read_text())["payload"]
    assert saved["epoch"] == 14  # the last boundary that was due
    resumed = optikit.run(path, resume=ck)
    assert _trajectory(resumed) == _trajectory(full)
    assert resumed.parameters == full.parameters and resumed.steps == full.steps


def test_history_file_is_written_as_the_run_goes(write_spec, tmp_path):
    path = _spec(write_spec, "sgd", 5)
    seen = []
    out = tmp_path / "h.csv"
    optikit.run(path, history=out, callbacks=[lambda r: seen.append(out.read_text().count("\n"))])
    assert seen == [2, 3, 4, 5, 6]  # header + one flushed line per epoch, before the next epoch
    rows = out.read_text().splitlines()
    assert rows[0] == "epoch,step,loss,w,b"
    jl = tmp_path / "h.jsonl"
    result = optikit.run(path, history=jl)
    lines = [json.loads(line) for line in jl.read_text().splitlines()]
    assert [d["loss"] for d in lines] == [r.loss for r in result.history]


def test_damaged_or_foreign_checkpoints_are_refused(write_spec, tmp_path, capsys):
    path = _spec(write_spec, "adam", 6)
    ck = tmp_path / "ck.json"
    assert main(["run", str(path), "--checkpoint", str(ck), "--no-plot"]) == 0
    text = ck.read_text()
    cases = {
        "tampered": text.replace('"epoch":6', '"epoch":5'),
        "truncated": text[: len(text) // 2],
        "empty": "",
        "not json": "\x00\x01garbage",
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name.replace(' ', '_')}.json"
        bad.write_text(content)
        assert main(["run", str(path), "--resume", str(bad), "--no-plot"]) == 2, name
        err = capsys.readouterr().err
        assert "cannot resume" in err and str(bad) in err and "Traceback" not in err
    other = write_spec(LONG.format(opt="adam", epochs=6).replace("lr: 0.001", "lr: 0.002"), "other.yaml")
    assert main(["run", str(other), "--resume", str(ck), "--no-plot"]) == 2
    assert "another spec" in capsys.readouterr().err


class _Spiky(optikit.Optimizer):
    """Plain gradient steps, except that the third update is infinite."""

    name = "spiky"

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def init(self, params):
        return optikit.EmptyState()

    def update(self, grad, state, params, oracle=None):
        self.calls = getattr(self, "calls", 0) + 1
        return (np.full_like(params, np.inf) if self.calls == 3 else -self.lr * grad), state


def test_on_nonfinite_skip_keeps_parameters_and_counts(write_spec):
    prepared = optikit.prepare(_spec(write_spec, "gd", 10))
    with pytest.raises(optikit.DivergenceError) as info:
        run_problem(prepared.problem, _Spiky(), prepared.settings)
    assert info.value.step == 2 and "lower the learning rate" in str(info.value)
    result = run_problem(prepared.problem, _Spiky(), prepared.settings, control=RunControl(on_nonfinite="skip"))
    assert result.stop_reason == "epochs" and result.steps == 10 * 3 - 1
    with pytest.raises(optikit.DivergenceError, match="after 0 skipped steps"):
        run_problem(prepared.problem, _Spiky(), prepared.settings,
                    control=RunControl(on_nonfinite="skip", max_skips=0))


def test_divergence_warnings_never_leak(write_spec, tmp_path):
    path = write_spec("""
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0, 2.0, 3.0], y: [2.0, 4.0, 6.0]}
        optimizer: {name: gd, lr: 1.0, epochs: 5000}
        predict: {x: 4}
    """)
    for extra in ([], ["--on-nonfinite", "skip", "--max-skips", "3"]):
        proc = subprocess.run([sys.executable, "-W", "error", "-m", "optikit", "run", str(path), "--no-plot", *extra],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert "not finite" in proc.stderr and "lower the learning rate" in proc.stderr
        assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr
    assert "after 3 skipped steps" in proc.stderr


SCRIPT = """
import sys, optikit
sys.exit(optikit.cli.main(sys.argv[1:]))
"""


def test_sigint_stops_cleanly_and_resume_matches(write_spec, tmp_path):
    path = _spec(write_spec, "adam", 1500)
    ref_hist, ck, hist, plot = tmp_path / "ref.csv", tmp_path / "ck.json", tmp_path / "h.csv", tmp_path / "loss.png"
    assert main(["run", str(path), "--no-plot", "--format", "json", "--history", str(ref_hist)]) == 0
    cmd = [sys.executable, "-c", "import sys, optikit.cli; sys.exit(optikit.cli.main(sys.argv[1:]))", "run", str(path),
           "--format", "seed", "--checkpoint", str(ck), "--checkpoint-every", "50", "--history", str(hist),
           "--plot", str(plot)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (hist.exists() and hist.read_text().count("\n") > 100) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert ck.exists() and plot.exists()
    done = hist.read_text().splitlines()
    assert 100 < len(done) < 1501
    assert done == ref_hist.read_text().splitlines()[: len(done)]  # what was written is the true trajectory
    resumed = subprocess.run([*cmd[:5], "--format", "seed", "--resume", str(ck), "--history", str(hist)],
                             capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert hist.read_text() == ref_hist.read_text()


KILLER = """
import os, sys, time
import numpy as np
from optikit.engine import checkpoint
from optikit.engine import EpochRecord
state = checkpoint.RunState(np.array([1.0, 2.0]), (), {{}}, 1, 3, 3, 0.5, 0.7,
                            [EpochRecord(i, i, 0.1, {{"w": 0.1}}) for i in range(3)], 3, 0.0)
checkpoint.save_checkpoint({path!r}, state, "id")
real = os.fsync
def slow(fd):
    print("writing", flush=True)
    time.sleep(30)
os.fsync = slow
state.epoch = 99
state.history = state.history * 20000
state.n_history = len(state.history)
checkpoint.save_checkpoint({path!r}, state, "id")
"""


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    ck = tmp_path / "ck.json"
    proc = subprocess.Popen([sys.executable, "-c", KILLER.format(path=str(ck))], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait(10)
    state = load_checkpoint(ck, "id", ())
    assert state.epoch == 3 and state.params.tolist() == [1.0, 2.0] and len(state.history) == 3


def test_identity_depends_on_the_spec_text(write_spec):
    a = optikit.load_spec(_spec(write_spec))
    b = optikit.load_spec(write_spec(LONG.format(opt="adam", epochs=40) + "# edited\n", "b.yaml"))
    assert spec_identity(a) != spec_identity(b)
    assert spec_identity(a) == spec_identity(optikit.load_spec(a.path))


def test_large_trees_are_derived_under_a_time_limit(write_spec, monkeypatch):
    spec = optikit.load_spec(write_spec(LONG.format(opt="gd", epochs=1)))
    xs = sympy.symbols("a0:300", real=True)
    big = sympy.Mul(*[sympy.sin(s) + s for s in xs]) ** 2
    start = time.monotonic()
    with bounded.limits(0.5), pytest.raises(optikit.SpecError, match="took longer than 0.5 s; simplify the model"):
        bounded.derive(spec, big, list(xs))
    assert time.monotonic() - start < 10  # hang guard
    monkeypatch.setattr(bounded, "NODE_THRESHOLD", 0)
    monkeypatch.setattr(bounded, "WORK_LIMIT", -1)  # the worker, not the in-process attempt
    grads, cse = bounded.derive(spec, sympy.Add(*[(s - 1) ** 2 for s in xs[:3]]), list(xs[:3]))
    assert isinstance(cse, bounded.PrecomputedCSE) and grads[0] == 2 * xs[0] - 2


def test_skipped_steps_are_counted_in_english():
    assert RunControl(on_nonfinite="skip", skips=1).note() == " after 1 skipped step"
    assert RunControl(on_nonfinite="skip", skips=2).note() == " after 2 skipped steps"
