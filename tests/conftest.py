"""Shared fixtures: paths to the bundled specs and test data, and a spec writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATA = Path(__file__).resolve().parent / "data"
#: The built-in optimizers with a kernel(), each with an option that takes another branch of its rule.
KERNEL_OPTIMIZERS = [
    {"name": "sgd", "lr": 0.001}, {"name": "sgd", "lr": 0.001, "momentum": 0.9, "nesterov": True},
    {"name": "adam", "lr": 0.01, "amsgrad": True}, {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
    {"name": "nadam", "lr": 0.01}, {"name": "radam", "lr": 0.01}, {"name": "rmsprop", "lr": 0.001, "centered": True},
    {"name": "adagrad", "lr": 0.1}, {"name": "adadelta"}, {"name": "lion", "lr": 0.001},
]


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
