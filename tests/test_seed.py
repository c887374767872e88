"""The seed program's batch gradient descent, reproduced digit for digit."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from optikit.cli import main

from .conftest import DATA, SPECS

GOLDEN = (DATA / "blog_gd_output.txt").read_text().splitlines()


def test_seed_format_reproduces_the_blog_output(capsys):
    assert main(["run", str(SPECS / "seed_gd.yaml"), "--format", "seed", "--no-plot"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(GOLDEN) == 102
    assert out == GOLDEN


def test_python_api_matches_the_last_line():
    import optikit

    result = optikit.run(SPECS / "seed_gd.yaml")
    assert repr(result.parameters["w"]) == "1.9999999125232637"
    assert [repr(r.loss) for r in result.history][:2] == ["7.5", "5.418750000000001"]
    assert repr(result.history[-1].loss) == "7.943438830326513e-14"
    assert result.epochs == 100 and result.steps == 100 and result.stop_reason == "epochs"


@pytest.mark.skipif(shutil.which("optikit") is None, reason="console script not installed")
def test_console_script(tmp_path):
    proc = subprocess.run(["optikit", "run", str(SPECS / "seed_gd.yaml"), "--format", "seed", "--no-plot"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == GOLDEN
    assert list(tmp_path.iterdir()) == []  # --no-plot writes nothing


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "optikit", "run", str(SPECS / "seed_gd.yaml"), "--format", "seed"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == GOLDEN
