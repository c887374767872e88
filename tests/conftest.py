"""Shared fixtures: paths to the bundled specs and test data, and a spec writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Caches (derivations, compiled loops) go to a folder of this test session, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("OPTIKIT_CACHE_DIR", str(tmp_path_factory.mktemp("optikit-cache")))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _isolated_plugins(monkeypatch):
    """Tests see only the plugins they load themselves, whatever the environment has."""
    monkeypatch.delenv("OPTIKIT_PLUGINS", raising=False)
    monkeypatch.delenv("OPTIKIT_DISABLE_PLUGIN_AUTOLOAD", raising=False)


@pytest.fixture
def write_spec(tmp_path):
    """Write dedented YAML text to a spec file in a temporary folder and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
