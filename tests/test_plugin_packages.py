"""The example plugin packages, installed into a virtual environment and run through the CLI.

One venv per session, made ``--without-pip`` and filled by this interpreter's pip. A ``.pth`` file
gives it this interpreter's site-packages (those of the venv the tests run in, not of the Python
that venv was made from), so numpy, sympy, pytest and the build backend (setuptools, from the test
extras) are the ones installed here; ``pip install --no-deps --no-build-isolation --no-index`` of
optikit and the examples then works offline. Failing to build them is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("optikit-lookahead", "optikit-earlystop")
SPEC = ROOT / "specs" / "seed_gd.yaml"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPTIKIT_PLUGINS", "OPTIKIT_DISABLE_PLUGIN_AUTOLOAD",
                                                            "PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _site_dirs() -> list[str]:
    """This interpreter's site-packages folders, in its own order."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    dirs += [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


@pytest.fixture(scope="session")
def venv(tmp_path_factory) -> Path:
    """A venv with optikit and both example plugins installed; its ``bin`` folder."""
    if importlib.util.find_spec("venv") is None:
        pytest.skip("this Python has no venv module")
    where = tmp_path_factory.mktemp("plugin-venv") / "venv"
    # without pip: the venv's own (older) setuptools would shadow the one the build needs; and not
    # --system-site-packages: made from inside a venv, that would be the base Python's, not ours
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        pytest.fail(f"cannot create a virtual environment: {made.stderr.strip()[-1000:]}")
    bindir = where / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, timeout=60, env=_env(), check=True).stdout.strip()
    # after the venv's own site-packages, so what is installed into it comes first
    Path(purelib, "_optikit_test_parent_site.pth").write_text("".join(f"{d}\n" for d in _site_dirs()))
    build = tmp_path_factory.mktemp("plugin-build")
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-build-isolation",
           "--check-build-dependencies", "--no-index", str(ROOT), *[str(ROOT / "plugins" / name) for name in EXAMPLES]]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**_env(), "TMPDIR": str(build)},
                          cwd=build)
    if done.returncode != 0:
        pytest.fail(f"cannot build optikit and the example plugins offline: {done.stderr.strip()[-1500:]}")
    return bindir


def optikit(venv: Path, *args: object, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "optikit"), *map(str, args)], capture_output=True, text=True, timeout=120,
                          env={**_env(), **env}, cwd=ROOT)


def test_plugins_lists_the_installed_examples_with_versions(venv):
    done = optikit(venv, "plugins", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    look = next(o for o in data["optimizers"] if o["name"] == "lookahead")
    assert look["source"] == "optikit-lookahead 0.1.0 (entry point lookahead = optikit_lookahead)"
    assert [h["name"] for h in look["hyperparameters"]] == ["inner", "k", "alpha", "lr"]
    stop = next(p for p in data["plugins"] if p["plugin"] == "earlystop")
    assert stop["source"].startswith("optikit-earlystop 0.1.0") and "optikit_epoch_end" in stop["hooks"]
    text = optikit(venv, "plugins").stdout
    assert "lookahead  [optikit-lookahead 0.1.0" in text and "k = 5  Number of inner (fast) steps" in text


def test_a_spec_naming_the_installed_optimizer_runs(venv, tmp_path):
    spec = tmp_path / "look.yaml"
    spec.write_text(SPEC.read_text().replace("name: gd", "name: lookahead\n  inner: adam\n  k: 3")
                    .replace("lr: 0.01", "lr: 0.05"))
    done = optikit(venv, "run", spec, "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["optimizer"] == "lookahead" and abs(result["parameters"]["w"] - 2.0) < 1e-2


def test_the_installed_wrapper_wraps_an_optimizer_loaded_with_p(venv, tmp_path):
    spec = tmp_path / "look.yaml"
    spec.write_text(SPEC.read_text().replace("name: gd", "name: lookahead\n  inner: signgd\n  k: 3"))
    done = optikit(venv, "-p", ROOT / "tests" / "data" / "my_opt.py", "run", spec, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["optimizer"] == "lookahead"
    done = optikit(venv, "run", spec)
    assert done.returncode == 2 and "unknown inner optimizer 'signgd'" in done.stderr


def test_the_callback_plugin_adds_options_and_stops_early(venv):
    assert "--earlystop-patience" in optikit(venv, "run", "--help").stdout
    done = optikit(venv, "run", SPEC, "--lr", "0.05", "--epochs", "400", "--earlystop-patience", "3",
                   "--earlystop-min-delta", "1e-12")
    assert done.returncode == 0, done.stderr
    assert "stopped by a callback" in done.stdout
    plain = optikit(venv, "run", SPEC, "--lr", "0.05", "--epochs", "400")
    assert "ran 400 epochs" in plain.stdout and "stopped at the epoch limit" in plain.stdout


def test_an_installed_plugin_can_be_blocked(venv, tmp_path):
    assert "--earlystop-patience" not in optikit(venv, "-p", "no:earlystop", "run", "--help").stdout
    done = optikit(venv, "run", SPEC, "--epochs", "1", "-p", "no:earlystop", "--earlystop-patience", "3")
    assert done.returncode == 2 and "unrecognized arguments: --earlystop-patience" in done.stderr
    done = optikit(venv, "-p", "no:lookahead", "run", SPEC, "--optimizer", "lookahead")
    assert done.returncode == 2 and "unknown optimizer 'lookahead'" in done.stderr
    listed = json.loads(optikit(venv, "-p", "no:lookahead", "plugins", "--format", "json").stdout)
    assert [b["source"] for b in listed["blocked"]] == ["optikit-lookahead 0.1.0 (entry point lookahead = optikit_lookahead)"]


def test_autoload_can_be_disabled(venv):
    done = optikit(venv, "run", SPEC, "--optimizer", "lookahead", OPTIKIT_DISABLE_PLUGIN_AUTOLOAD="1")
    assert done.returncode == 2 and "unknown optimizer 'lookahead'" in done.stderr


def test_the_examples_own_tests_pass(venv):
    done = subprocess.run([str(venv / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *[f"plugins/{name}/tests" for name in EXAMPLES]],
                          capture_output=True, text=True, timeout=300, env=_env(), cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-1000:]
