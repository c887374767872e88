"""The README's examples run as written."""

from __future__ import annotations

import glob
import re
import shlex
import shutil

import pytest

from optikit.cli import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)
PYTHON = [body for lang, body in BLOCKS if lang == "python"]
COMMANDS = [line[2:].split("  #")[0].strip() for lang, body in BLOCKS if lang == "console"
            for line in body.splitlines() if line.startswith("$ optikit ")]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_examples():
    assert PYTHON and len(COMMANDS) >= 5


@pytest.mark.parametrize("code", [c for c in PYTHON if "hookimpl" not in c], ids=lambda c: c.splitlines()[0][:40])
def test_python_example(code, workdir, capsys):
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})


@pytest.mark.parametrize("command", COMMANDS)
def test_console_example(command, workdir, capsys):
    if "signgd" in command:  # the plugin example below writes this file
        (workdir / "signgd.py").write_text(next(c for c in PYTHON if "hookimpl" in c))
    args = []
    for word in shlex.split(command)[1:]:
        args.extend(sorted(glob.glob(word)) if "*" in word else [word])
    code = main(args)
    expected = 1 if " check " in f" {command} " and "wrong" in command else 0
    assert code == expected, capsys.readouterr().err


def test_plugin_example_from_a_file(workdir, capsys):
    (workdir / "signgd.py").write_text(next(c for c in PYTHON if "hookimpl" in c))
    assert main(["-p", "signgd.py", "run", "specs/seed_gd.yaml", "--optimizer", "signgd", "--format", "json"]) == 0
    assert '"optimizer": "signgd"' in capsys.readouterr().out
