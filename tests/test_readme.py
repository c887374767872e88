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
WALK_HEADING = "## A first fit, step by step"
_start = README.index(WALK_HEADING)
_end = README.index("\n## ", _start + len(WALK_HEADING))
#: the walk-through runs top to bottom in one folder; every other example runs on its own
WALK, REST = README[_start:_end], README[:_start] + README[_end:]


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S)


def _commands(body: str) -> list[str]:
    return [line[2:].split("  #")[0].strip() for line in body.splitlines() if line.startswith("$ optikit ")]


BLOCKS = _blocks(REST)
PYTHON = [body for lang, body in BLOCKS if lang == "python"]
COMMANDS = [c for lang, body in BLOCKS if lang == "console" for c in _commands(body)]


def run_command(command: str, capsys) -> int:
    """One ``$ optikit ...`` line as a shell would run it (globs, ``> FILE``)."""
    words = shlex.split(command)[1:]
    target = None
    if ">" in words:
        target = words[words.index(">") + 1]
        words = words[:words.index(">")]
    args = []
    for word in words:
        # a pattern that matches nothing stays as written, as in a shell ("a*x + b")
        args.extend((sorted(glob.glob(word)) or [word]) if "*" in word else [word])
    code = main(args)
    if target is not None:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(capsys.readouterr().out)
    return code


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
    code = run_command(command, capsys)
    expected = 1 if " check " in f" {command} " and "wrong" in command else 0
    assert code == expected, capsys.readouterr().err


def test_plugin_example_from_a_file(workdir, capsys):
    (workdir / "signgd.py").write_text(next(c for c in PYTHON if "hookimpl" in c))
    assert main(["-p", "signgd.py", "run", "specs/seed_gd.yaml", "--optimizer", "signgd", "--format", "json"]) == 0
    assert '"optimizer": "signgd"' in capsys.readouterr().out


def test_walk_through_from_a_csv_file_to_a_fit_plot(workdir, capsys):
    """The README's first fit, as a new user follows it: console lines and Python, in order."""
    steps = [(lang, body) for lang, body in _blocks(WALK) if lang in ("console", "python")]
    assert [lang for lang, _ in steps] == ["console", "python"]
    for command in _commands(steps[0][1]):
        assert run_command(command, capsys) == 0, (command, capsys.readouterr().err)
    out = capsys.readouterr().out
    assert "stopped at the epoch limit" in out and "standard error" in out.lower() and "R" in out
    assert (workdir / "fit.png").read_bytes()[:4] == b"\x89PNG"
    predictions = (workdir / "predictions.csv").read_text().splitlines()
    assert predictions[0] == "x,prediction,stderr,ci95_low,ci95_high,pi95_low,pi95_high" and len(predictions) == 26
    (workdir / "fit.png").unlink()
    exec(compile(steps[1][1], "README.md", "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    assert "line" in printed and "[" in printed
    assert (workdir / "fit.png").read_bytes()[:4] == b"\x89PNG"


def test_readme_images_exist():
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / image).read_bytes()[:4] == b"\x89PNG", image
