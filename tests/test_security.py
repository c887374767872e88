"""Specs from strangers: no code runs, hostile input fails fast with a located error, nothing is written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optikit
from optikit.cli import main
from optikit.plugins import plugin_manager

PACKAGE = Path(optikit.__file__).resolve().parent

FORBIDDEN = re.compile(r"\beval\(|\bexec\(|sympify\(|parse_expr\(|yaml\.load\(|unsafe_load|full_load|"
                       r"pickle\.loads?\(|UnsafeLoader|yaml\.Loader\b|marshal\.loads?\(")


def test_package_source_never_evaluates_text():
    hits = []
    for file in sorted(PACKAGE.rglob("*.py")):
        rel = str(file.relative_to(PACKAGE.parent))
        for no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{rel}:{no}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_generated_functions_are_built_without_running_their_module():
    from optikit.backends.codegen import define_function

    source = "import os\nos.environ['OPTIKIT_RAN'] = '1'\ndef f(a):\n    return a + k\n"
    f = define_function(source, "f", {"k": 2}, "<test>")
    assert f(1) == 3 and "OPTIKIT_RAN" not in __import__("os").environ


BASE = """\
model: w*x
parameters:
  w: 1.0
data:
  x: [1.0, 2.0, 3.0]
  y: [2.0, 4.0, 6.0]
optimizer:
  name: gd
  lr: 0.01
  epochs: 3
"""


def model(text: str) -> str:
    return BASE.replace("model: w*x", f"model: {text}")


def opt(name: str) -> str:
    return BASE.replace("name: gd", f"name: {name}")


def csv_data(ref: str) -> str:
    return BASE.replace("  x: [1.0, 2.0, 3.0]\n  y: [2.0, 4.0, 6.0]", f"  csv: {ref}")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))

HOSTILE = {
    "import call": model("\"__import__('os').system('touch pwned')\""),
    "dunder attribute": model("w.__class__.__mro__"),
    "attribute": model("x.real*w"),
    "lambda": model("\"(lambda: w)()*x\""),
    "comprehension": model("\"sum([w for q in x])\""),
    "walrus": model("(z := w)*x"),
    "conditional": model("w*x if x else w"),
    "subscript": model("w*x[0]"),
    "keyword argument": model("max(w, x, key=w)"),
    "unknown function": model("open(w)*x"),
    "statement": model("w*x; import os"),
    "huge exponent": model("w*x**99999999"),
    "power tower": model("w*x*9**9**9"),
    "factorial": model("factorial(100000)*w*x"),
    "huge integer": model("w*x*1" + "0" * 200),
    "huge exp": model("w*x*exp(100000)"),
    "long input": model("w*x" + "+w" * 5000),
    "deep nesting": model("(" * 300 + "w*x" + ")" * 300),
    "cyrillic look-alike": model("w*\u0445"),
    "fullwidth parameter": BASE.replace("  w: 1.0", "  \uff57: 1.0"),
    "dunder parameter": BASE.replace("  w: 1.0", "  __class__: 1.0").replace("model: w*x", "model: __class__*x"),
    "python tag": model("!!python/object/apply:os.system [\"touch pwned\"]"),
    "binary tag": model("!!binary aGVsbG8="),
    "alias bomb": BASE + BOMB,
    "anchor": BASE.replace("  lr: 0.01", "  lr: &r 0.01\n  momentum: *r"),
    "duplicate key": BASE + "model: w*x*2\n",
    "bad number": BASE.replace("lr: 0.01", "lr: 1e999"),
    "nan number": BASE.replace("lr: 0.01", "lr: .nan"),
    "misspelled key": BASE.replace("optimizer:", "optimiser:"),
    "two documents": BASE + "---\nname: second\n",
    "deep YAML": BASE + "description: " + "[" * 100 + "]" * 100 + "\n",
    "import-path optimizer": opt("os.system"),
    "file-path optimizer": opt("../../x.py"),
    "loss injection": BASE + "loss: \"__import__('os').getcwd()\"\n",
    "negative seed": BASE.replace("epochs: 3", "epochs: 3\n  seed: -1"),
    "device file": csv_data("/dev/zero"),
    "URL": csv_data("http://example.com/data.csv"),
    "outside the folder": csv_data("../outside.csv"),
    "fifo": csv_data("pipe.csv"),
    "ragged CSV": csv_data("ragged.csv"),
    "non-numeric CSV": csv_data("words.csv"),
    "non-finite CSV": csv_data("inf.csv"),
}

FILES = {"ragged.csv": "x,y\n1,2\n3\n", "words.csv": "x,y\n1,2\n2,<script>alert(1)</script>and much more text\n",
         "inf.csv": "x,y\n1,inf\n"}


@pytest.fixture
def hostile_dir(tmp_path, monkeypatch):
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    for name, text in FILES.items():
        (spec_dir / name).write_text(text)
    os.mkfifo(spec_dir / "pipe.csv")
    (tmp_path / "outside.csv").write_text("x,y\n1,2\n2,4\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return spec_dir


def _listing(*dirs: Path) -> list[str]:
    return sorted(str(p) for d in dirs for p in d.rglob("*"))


def test_the_table_is_large_enough():
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_spec_exits_2_with_a_location_and_writes_nothing(case, hostile_dir, capsys):
    spec = hostile_dir / "spec.yaml"
    spec.write_text(HOSTILE[case], encoding="utf-8")
    before = _listing(hostile_dir.parent)
    start = time.monotonic()
    code = main(["run", str(spec), "--no-plot"])
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert re.search(re.escape(str(spec)) + r":\d+", err), err  # file:line
    assert "Traceback" not in err and len(err) < 2000
    assert _listing(hostile_dir.parent) == before and list(Path.cwd().iterdir()) == []
    assert elapsed < 2, f"{case} took {elapsed:.2f} s"  # hang guard


def test_bad_cells_are_quoted_short_with_row_and_column(hostile_dir, capsys):
    spec = hostile_dir / "spec.yaml"
    spec.write_text(HOSTILE["non-numeric CSV"])
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "row 3, column 'y'" in err and "'<script>alert(1)<...'" in err and "much more" not in err


@pytest.mark.parametrize("case", ["import call", "python tag", "fifo"])
def test_hostile_spec_through_the_console(case, hostile_dir):
    spec = hostile_dir / "spec.yaml"
    spec.write_text(HOSTILE[case])
    proc = subprocess.run([sys.executable, "-m", "optikit", "run", str(spec), "--no-plot"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and f"{spec}:" in proc.stderr and "Traceback" not in proc.stderr
    assert list(Path.cwd().iterdir()) == [] and not (hostile_dir / "pwned").exists()


# ---- fuzzing: every document loads or raises OptikitError, quickly --------------------------
VALID = [BASE, model("a*exp(-b*x) + c").replace("  w: 1.0", "  a: 1.0\n  b: 0.5\n  c: 0.0"),
         "objective: (1 - a)**2 + 100*(b - a**2)**2\nparameters: {a: -1.0, b: 1.0}\noptimizer: {name: adam, epochs: 5}\n"]
PIECES = ["!!python/name:os.system", "&a", "*a", "!!str", "!!binary", "{", "}", "[", "]", ":", "- ", "\t", "---",
          "__import__('os')", "lambda: 0", "x.__class__", "9**9**9", "exp(1e9)", "w**w**w", "1e999", ".nan", "~",
          "\u0445", "\x00", "\ufeff", "model: w", "name: ../x.py", "csv: /dev/zero", "csv: http://x", "# c",
          "[" * 40, "(" * 80, "max(w, x)", "sigmoid(w*x)", "log(-w)", "w/0", "0/0", "y", "epochs: 0", "lr: -1"]
KEYS = ["model", "objective", "parameters", "data", "loss", "optimizer", "predict", "gradient", "check", "target",
        "name", "lr", "epochs", "batch_size", "seed", "schedule", "w", "x", "y", "csv", "columns", "bogus", "__init__"]


@st.composite
def documents(draw):
    text = draw(st.sampled_from(VALID))
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 4))
        i = draw(st.integers(0, len(lines)))
        if kind == 0 and lines:  # delete a line
            del lines[min(i, len(lines) - 1)]
        elif kind == 1:  # insert a key with a value
            indent = draw(st.sampled_from(["", "  "]))
            lines.insert(i, f"{indent}{draw(st.sampled_from(KEYS))}: {draw(st.sampled_from(PIECES))}")
        elif kind == 2 and lines:  # splice a piece into a line
            j = min(i, len(lines) - 1)
            at = draw(st.integers(0, len(lines[j])))
            lines[j] = lines[j][:at] + draw(st.sampled_from(PIECES)) + lines[j][at:]
        elif kind == 3 and lines:  # replace a value with random text
            j = min(i, len(lines) - 1)
            key = lines[j].split(":")[0]
            lines[j] = f"{key}: {draw(st.text(max_size=12))}"
        else:  # deep nesting
            depth = draw(st.integers(1, 60))
            lines.insert(i, "description: " + "[" * depth + "1" + "]" * depth)
    return "\n".join(lines) + "\n"


class _Hang(Exception):
    pass


@pytest.fixture(scope="module")
def shared_pm():
    return plugin_manager(())


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=documents())
def test_fuzzed_specs_load_or_fail_cleanly(text, shared_pm):
    def alarm(signum, frame):
        raise _Hang(text)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 5.0)  # per-example hang guard
    try:
        spec = optikit.loads_spec(text)
        optikit.prepare(spec, pm=shared_pm)
    except optikit.OptikitError:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_data_paths_stay_under_the_spec_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("x,y\n1,2\n2,4\n")
    spec = optikit.loads_spec(csv_data("sub/d.csv"), path=tmp_path / "spec.yaml")
    assert spec.data.columns == ("x", "y")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("x,y\n1,2\n")
    (tmp_path / "link.csv").symlink_to(outside)
    for ref in ["link.csv", str(outside), f"../{outside.name}", "sub/../../x.csv"]:
        with pytest.raises(optikit.SpecError, match="spec's folder") as info:
            optikit.loads_spec(csv_data(ref), path=tmp_path / "spec.yaml")
        assert info.value.line == 5 and info.value.field == "data.csv"
    outside.unlink()
