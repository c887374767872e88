"""The plugin tutorial in docs/plugins.md works as written."""

from __future__ import annotations

import re
import sys

from optikit.cli import main

from .conftest import ROOT, SPECS

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(), flags=re.S)


def test_tutorial_optimizer_and_its_tests(tmp_path, monkeypatch, capsys):
    module, tests = BLOCKS[0], BLOCKS[1]
    (tmp_path / "signgd.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "signgd", raising=False)
    namespace: dict = {}
    exec(compile(tests, "docs/plugins.md", "exec"), namespace)
    namespace["test_signgd"]()
    monkeypatch.chdir(tmp_path)
    assert main(["-p", "signgd.py", "run", str(SPECS / "seed_gd.yaml"), "--optimizer", "signgd",
                 "--format", "json"]) == 0
    assert '"optimizer": "signgd"' in capsys.readouterr().out
