"""Plugin discovery, the ``optikit plugins`` listing, failures that name the plugin, the testing kit."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

import optikit
from optikit import hookspecs
from optikit.cli import main
from optikit.plugins import OptikitPluginManager, Provenance, plugin_manager
from optikit.plugins.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "seed_gd.yaml"
MY_OPT = Path(__file__).resolve().parent / "data" / "my_opt.py"


@pytest.fixture
def plugin_file(tmp_path):
    """Write a plugin module to a file and return its path."""

    def write(body: str, name: str = "plug.py") -> Path:
        path = tmp_path / name
        path.write_text("import numpy as np\nimport optikit\n" + textwrap.dedent(body), encoding="utf-8")
        return path

    return write


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- discovery ------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_single_file_plugin_runs_a_spec(capsys, where):
    argv = ["-p", MY_OPT, "run", SPEC, "--optimizer", "signgd", "--epochs", "3"]
    if where == "after":
        argv = ["run", SPEC, "--optimizer", "signgd", "--epochs", "3", "-p", MY_OPT]
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    assert "optimizer signgd" in out and "ran 3 epochs (3 steps)" in out and "stopped at the epoch limit" in out


def test_module_plugin_and_environment_variable(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(MY_OPT.parent))
    assert "signgd" in Registry.build(plugin_manager(["my_opt"])).optimizers
    monkeypatch.setenv("OPTIKIT_PLUGINS", str(MY_OPT))
    entry = Registry.build(plugin_manager()).optimizers["signgd"]
    assert entry.source == f"OPTIKIT_PLUGINS={MY_OPT}"
    code, out, _ = cli(capsys, "plugins")
    assert code == 0 and "signgd" in out


def test_builtins_come_through_the_same_hooks():
    pm = plugin_manager(autoload=False)
    names = {name for name, _ in pm.list_name_plugin()}
    assert names == {"builtin:optikit.optimizers", "builtin:optikit.symbolic.losses", "builtin:optikit.optimizers.schedules",
                     "builtin:optikit.backends"}
    reg = Registry.build(pm)
    assert reg.optimizers["gd"].source == "built-in" and reg.losses["mse"].source == "built-in"


def test_the_manager_keeps_each_plugins_provenance_and_failures(monkeypatch, plugin_file):
    monkeypatch.syspath_prepend(str(MY_OPT.parent))
    fake_entry_point(monkeypatch, "signgd", "my_opt")
    broken = plugin_file("raise RuntimeError('boom')\n")
    pm = plugin_manager(["json", str(broken)], strict=False)
    assert isinstance(pm, OptikitPluginManager)
    prov = {name: pm.provenance(plugin) for name, plugin in pm.list_name_plugin()}
    assert prov["builtin:optikit.optimizers"] == Provenance("built-in", "optikit.optimizers")
    assert prov["signgd"] == Provenance("entry point", "my_opt", "optikit-fake", "9.1", "signgd")
    assert prov["module:json"] == Provenance("-p", "json")
    assert str(prov["signgd"]) == "optikit-fake 9.1 (entry point signgd = my_opt)"
    assert [(f.plugin, f.message) for f in pm.failures] == [(f"-p {broken}", "failed to load: RuntimeError: boom")]
    with pytest.raises(optikit.PluginError, match=f"^plugin -p {re.escape(str(broken))}: failed to load"):
        pm.raise_failures()
    pm.register(types.SimpleNamespace(), name="by-hand")  # registered without provenance: named by its name
    assert pm.describe(pm.get_plugin("by-hand")) == "by-hand" and pm.provenance(pm.get_plugin("by-hand")) is None


def fake_entry_point(monkeypatch, name: str, value: str, dist: str = "optikit-fake", version: str = "9.1"):
    ep = types.SimpleNamespace(name=name, value=value, dist=types.SimpleNamespace(name=dist, version=version),
                               load=lambda: __import__(value))
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [ep] if group == "optikit" else [])


def test_entry_points_and_disabling_autoload(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(MY_OPT.parent))
    fake_entry_point(monkeypatch, "signgd", "my_opt")
    entry = Registry.build(plugin_manager()).optimizers["signgd"]
    assert entry.source.startswith("optikit-fake 9.1 (entry point signgd")
    monkeypatch.setenv("OPTIKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "signgd" not in Registry.build(plugin_manager()).optimizers


def test_a_spec_cannot_load_a_plugin(write_spec, capsys):
    spec = write_spec(f"""
        model: w*x
        parameters: {{w: 1.0}}
        data: {{x: [1.0], y: [2.0]}}
        plugins: ["{MY_OPT}"]
        optimizer: {{name: signgd, epochs: 1}}
        """)
    code, _, err = cli(capsys, "run", spec)
    assert code == 2 and "signgd" not in sys.modules.get("my_opt", types.SimpleNamespace()).__dict__


# ---- registration hooks: any subset of arguments, return values ----------------------------------

RETURNING = """
    class Half(optikit.Optimizer):
        "Half a gradient step."
        name = "half"
        def __init__(self, lr=0.1):
            self.lr = lr
        def init(self, p):
            return optikit.EmptyState()
        def update(self, g, s, p, o=None):
            return -0.5 * self.lr * g, s

    @optikit.hookimpl
    def optikit_register_optimizers():
        return Half

    @optikit.hookimpl
    def optikit_register_losses():
        return {"cubic": "abs(model - target)**3"}

    @optikit.hookimpl
    def optikit_register_schedules(register):
        register("halve", lambda total: lambda epoch: 0.5)
        return [("third", lambda total: lambda epoch: 1 / 3)]
    """


def test_zero_argument_implementations_register_what_they_return(plugin_file, write_spec, capsys):
    path = plugin_file(RETURNING)
    reg = Registry.build(plugin_manager([str(path)], autoload=False))
    source = f"-p {path}"
    assert reg.optimizers["half"].source == source and reg.optimizers["half"].doc == "Half a gradient step."
    assert reg.losses["cubic"].obj == "abs(model - target)**3" and reg.losses["cubic"].source == source
    assert {n: e.source for n, e in reg.schedules.items() if n in ("halve", "third")} == {"halve": source, "third": source}
    assert reg.schedules["third"].obj(None)(0) == pytest.approx(1 / 3)
    spec = write_spec("""
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0, 2.0], y: [2.0, 4.0]}
        loss: cubic
        optimizer: {name: half, epochs: 3, schedule: {name: third}}
        """)
    code, out, err = cli(capsys, "-p", path, "run", spec, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["optimizer"] == "half" and result["initial_loss"] == pytest.approx(4.5)  # mean(1**3, 2**3)


def test_losses_returned_as_tuples_keep_their_doc(plugin_file):
    path = plugin_file("""
        @optikit.hookimpl
        def optikit_register_losses():
            return [("quartic", "(model - target)**4", "fourth power"), ("sq", "(model - target)**2")]
        """)
    reg = Registry.build(plugin_manager([str(path)], autoload=False))
    assert (reg.losses["quartic"].doc, reg.losses["sq"].doc) == ("fourth power", "")


BAD_REGISTRATION = {
    "argument the spec lacks": ("@optikit.hookimpl\ndef optikit_register_losses(register, config):\n    pass\n",
                                "Argument(s) {'config'} are declared in the hookimpl"),
    "returns a string": ("@optikit.hookimpl\ndef optikit_register_losses():\n    return 'abs(model)'\n",
                         "optikit_register_losses returned str; return a mapping name -> expression text"),
    "returns a bad tuple": ("@optikit.hookimpl\ndef optikit_register_schedules():\n    return [('x',)]\n",
                            "optikit_register_schedules returned the item ('x',); expected (name, factory)"),
    "returns an instance": ("class G(optikit.Optimizer):\n    name = 'g2'\n    def init(self, p): return ()\n"
                            "    def update(self, g, s, p, o=None): return -g, s\n"
                            "@optikit.hookimpl\ndef optikit_register_optimizers():\n    return [G()]\n",
                            "register the class itself"),
    "returns a duplicate": ("@optikit.hookimpl\ndef optikit_register_losses():\n    return {'mse': 'model'}\n",
                            "loss 'mse' is registered twice: by built-in and by -p"),
    "bad register call": ("@optikit.hookimpl\ndef optikit_register_losses(register):\n    register('x')\n",
                          "bad call to register() in optikit_register_losses: register() missing 1 required"),
    "wrapper": ("@optikit.hookimpl(wrapper=True)\ndef optikit_register_losses():\n    return (yield)\n",
                "optikit_register_losses is declared as a wrapper"),
}


@pytest.mark.parametrize("kind", BAD_REGISTRATION)
def test_a_bad_registration_is_a_plugin_error_naming_the_plugin(kind, plugin_file, capsys):
    path = plugin_file(BAD_REGISTRATION[kind][0])
    with pytest.raises(optikit.PluginError) as info:
        Registry.build(plugin_manager([str(path)], autoload=False))
    assert info.value.plugin == f"-p {path}" and BAD_REGISTRATION[kind][1] in str(info.value)
    assert "\n" not in str(info.value)
    code, _, err = cli(capsys, "-p", path, "validate", SPEC)
    assert code == 2 and err.startswith(f"optikit: error: plugin -p {path}: ") and BAD_REGISTRATION[kind][1] in err


# ---- -p no:NAME blocks a plugin -----------------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_blocking_a_file_plugin(capsys, where):
    blocks = ["-p", MY_OPT, "-p", f"no:{MY_OPT}"]
    argv = [*blocks, "run", SPEC, "--optimizer", "signgd"] if where == "before" else \
        ["run", SPEC, "--optimizer", "signgd", *blocks]
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == "" and "unknown optimizer 'signgd'" in err
    assert cli(capsys, "-p", MY_OPT, "run", SPEC, "--optimizer", "signgd", "--epochs", "1")[0] == 0


def test_a_blocked_plugin_is_never_imported(monkeypatch, plugin_file, capsys):
    path = plugin_file("raise RuntimeError('imported')\n", name="noisy.py")
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.setenv("OPTIKIT_PLUGINS", f"noisy,{path}")
    assert cli(capsys, "validate", SPEC)[0] == 2
    code, _, err = cli(capsys, "-p", "no:noisy", "-p", f"no:{path}", "validate", SPEC)
    assert code == 0, err
    pm = plugin_manager(["no:noisy", f"no:{path}"])
    assert [(b.name, str(b.provenance), b.by) for b in pm.blocked] == [
        ("module:noisy", "OPTIKIT_PLUGINS=noisy", "-p no:noisy"),
        (f"file:{path}", f"OPTIKIT_PLUGINS={path}", f"-p no:{path}")]


def test_blocking_an_entry_point_plugin(monkeypatch, capsys, plugin_file):
    monkeypatch.syspath_prepend(str(MY_OPT.parent))
    fake_entry_point(monkeypatch, "signgd", "my_opt")
    assert cli(capsys, "run", SPEC, "--optimizer", "signgd", "--epochs", "1")[0] == 0
    code, _, err = cli(capsys, "run", SPEC, "--optimizer", "signgd", "-p", "no:signgd")
    assert code == 2 and "unknown optimizer 'signgd'" in err
    assert "signgd" not in optikit.prepare(SPEC, plugins=["no:signgd"]).registry.optimizers
    data = json.loads(cli(capsys, "-p", "no:signgd", "plugins", "--format", "json")[1])
    assert data["blocked"] == [{"plugin": "signgd", "source": "optikit-fake 9.1 (entry point signgd = my_opt)",
                                "by": "-p no:signgd"}]
    assert "signgd" not in [o["name"] for o in data["optimizers"]] and data["failed"] == []
    # the way out of a broken installed plugin, besides OPTIKIT_DISABLE_PLUGIN_AUTOLOAD
    broken = plugin_file("raise RuntimeError('boom')\n", name="broken_plugin.py")
    monkeypatch.syspath_prepend(str(broken.parent))
    fake_entry_point(monkeypatch, "broken", "broken_plugin")
    assert cli(capsys, "run", SPEC, "--epochs", "1")[0] == 2
    assert cli(capsys, "-p", "no:broken", "run", SPEC, "--epochs", "1")[0] == 0


@pytest.mark.parametrize("name", ["optikit.optimizers.schedules", "schedules", "builtin:optikit.optimizers.schedules"])
def test_blocking_a_builtin(name, write_spec, capsys):
    spec = write_spec("""
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0], y: [2.0]}
        optimizer: {name: gd, epochs: 2, schedule: {name: cosine}}
        """)
    assert cli(capsys, "run", spec)[0] == 0
    code, _, err = cli(capsys, "-p", f"no:{name}", "run", spec)
    assert code == 2 and "unknown schedule 'cosine'" in err
    with pytest.raises(optikit.SpecError, match=r"unknown optimizer 'gd'; registered: none"):
        optikit.run(SPEC, plugins=["no:optimizers"])
    assert optikit.run(SPEC, plugins=[str(MY_OPT), "no:optimizers"], optimizer="signgd", epochs=1).epochs == 1


def test_a_plugin_registered_under_a_name_can_be_blocked():
    pm = OptikitPluginManager()
    pm.block("mine")
    assert pm.register(types.SimpleNamespace(), name="mine") is None and pm.get_plugin("mine") is None
    pm.register(types.SimpleNamespace(), name="other")
    pm.block("other")  # already registered: unregistered, and listed as blocked
    assert pm.get_plugin("other") is None and [b.name for b in pm.blocked] == ["other"]


def test_a_block_that_matches_nothing_is_an_error(capsys):
    code, _, err = cli(capsys, "-p", "no:schedles", "run", SPEC)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("optikit: error: plugin -p no:schedles: blocks nothing:") and "did you mean 'schedules'?" in err
    code, out, err = cli(capsys, "-p", "no:schedles", "plugins")
    assert code == 0 and "failed:\n  -p no:schedles: blocks nothing" in out


# ---- backends --------------------------------------------------------------------------------

BACKEND = """
    class Twice:
        "Evaluates twice as fast (not really)."
        name = "twice"
        @classmethod
        def compile(cls, problem, source):
            return lambda *args: None
"""


def test_backends_are_registered_with_their_plugin_and_listed(plugin_file, capsys):
    path = plugin_file(BACKEND + """
    @optikit.hookimpl
    def optikit_register_backends(register):
        register(Twice)
    """)
    reg = Registry.build(plugin_manager([str(path)], autoload=False))
    entry = reg.backends["twice"]
    assert (entry.obj.__name__, entry.source, entry.doc) == ("Twice", f"-p {path}", "Evaluates twice as fast (not really).")
    code, out, _ = cli(capsys, "-p", path, "plugins")
    assert code == 0 and (f"backends:\n  numpy  [built-in]  Vectorised NumPy over columns held in memory; the "
                          f"reference every other backend is held to.\n  numba  [built-in]  Fused loops compiled with "
                          "numba: loss and gradient in one pass, whole SGD epochs in compiled code.\n"
                          f"  twice  [-p {path}]  Evaluates twice as fast "
                          "(not really).\n") in out
    data = json.loads(cli(capsys, "-p", path, "plugins", "--format", "json")[1])
    assert data["backends"][2:] == [{"name": "twice", "source": f"-p {path}", "doc": "Evaluates twice as fast (not really)."}]
    assert data["backends"][0]["name"] == "numpy" and data["backends"][0]["source"] == "built-in"


def test_a_backend_may_be_returned(plugin_file):
    path = plugin_file(BACKEND + """
    @optikit.hookimpl
    def optikit_register_backends():
        return [Twice]
    """)
    assert Registry.build(plugin_manager([str(path)], autoload=False)).backends["twice"].source == f"-p {path}"


BAD_BACKENDS = {
    "no name": ("class B:\n    def compile(self, problem, source): pass\n", "backend class B has no 'name'"),
    "empty name": ("class B:\n    name = ''\n    def compile(self, problem, source): pass\n", "backend class B has no 'name'"),
    "no compile": ("class B:\n    name = 'b'\n", "backend 'b' (B) has no compile(problem, source) method"),
    "compile not callable": ("class B:\n    name = 'b'\n    compile = 'numpy'\n", "backend 'b' (B) has no compile("),
    "an instance": ("class C:\n    name = 'b'\n    def compile(self, problem, source): pass\nB = C()\n",
                    "registered an instance of C; register the class itself"),
    "not a class": ("B = 'numpy'\n", "registered 'numpy', which is not a backend class"),
}


@pytest.mark.parametrize("kind", BAD_BACKENDS)
def test_a_bad_backend_is_a_plugin_error_naming_the_plugin(kind, plugin_file):
    path = plugin_file(BAD_BACKENDS[kind][0] + "@optikit.hookimpl\ndef optikit_register_backends(register):\n"
                                               "    register(B)\n")
    with pytest.raises(optikit.PluginError) as info:
        Registry.build(plugin_manager([str(path)], autoload=False))
    assert info.value.plugin == f"-p {path}" and BAD_BACKENDS[kind][1] in str(info.value)


def test_a_backend_name_registered_twice_names_both_plugins(plugin_file, capsys):
    hook = "    @optikit.hookimpl\n    def optikit_register_backends():\n        return Twice\n"
    first = plugin_file(BACKEND + hook, name="first.py")
    second = plugin_file(BACKEND + hook, name="second.py")
    with pytest.raises(optikit.PluginError, match=re.escape(
            f"plugin -p {second}: backend 'twice' is registered twice: by -p {first} and by -p {second}")):
        Registry.build(plugin_manager([str(first), str(second)], autoload=False))
    data = json.loads(cli(capsys, "-p", first, "-p", second, "plugins", "--format", "json")[1])
    assert [b["source"] for b in data["backends"]] == ["built-in", "built-in", f"-p {first}"]
    assert data["failed"][0]["plugin"] == f"-p {second}"


# ---- a wrapper optimizer gets its inner optimizer from the run's registry ----------------------

LOOKAHEAD = ROOT / "plugins" / "optikit-lookahead" / "optikit_lookahead.py"


def test_a_wrapper_wraps_an_optimizer_loaded_with_p(write_spec, capsys):
    spec = write_spec("""
        model: w*x
        parameters: {w: 1.0}
        data: {x: [1.0], y: [2.0]}
        optimizer: {name: lookahead, inner: signgd, lr: 0.05, k: 2, alpha: 0.5, epochs: 3}
        """)
    code, out, err = cli(capsys, "-p", LOOKAHEAD, "-p", MY_OPT, "run", spec, "--format", "json")
    assert code == 0, err
    # signgd steps +0.05 (the gradient is negative); every 2nd step the slow weights move half-way
    assert json.loads(out)["parameters"]["w"] == pytest.approx(1.10)
    code, _, err = cli(capsys, "-p", LOOKAHEAD, "run", spec)
    assert code == 2 and err.count("\n") == 2
    assert f"{spec}:4:" in err and "optimizer.inner: invalid hyperparameters for 'lookahead': inner: unknown inner " \
                                   "optimizer 'signgd'; registered: adadelta" in err


def test_setup_is_called_with_the_runs_registry_and_its_errors_are_named(plugin_file, capsys):
    path = plugin_file("""
        class Probe(optikit.Optimizer):
            name = "probe"
            seen = None
            def __init__(self, fail=False):
                self.fail = fail
            def setup(self, registry):
                if self.fail:
                    raise KeyError("oops")
                Probe.seen = sorted(registry.optimizers)
            def init(self, p):
                return optikit.EmptyState()
            def update(self, g, s, p, o=None):
                return -0.1 * g, s

        @optikit.hookimpl
        def optikit_register_optimizers():
            return Probe
        """)
    prepared = optikit.prepare(SPEC, plugins=[str(path), str(MY_OPT)], optimizer="probe")
    assert "signgd" in type(prepared.optimizer).seen and "probe" in type(prepared.optimizer).seen
    code, _, err = cli(capsys, "-p", path, "run", SPEC, "--optimizer", "probe", "--set", "fail=true")
    assert code == 2 and err.startswith(f"optikit: error: plugin -p {path}: optimizer 'probe' raised KeyError while "
                                        "being set up: 'oops'")


# ---- optikit plugins -----------------------------------------------------------------------

def test_listing_names_sources_hooks_and_hyperparameters(capsys):
    code, out, _ = cli(capsys, "-p", MY_OPT, "plugins")
    assert code == 0
    assert re.search(rf"-p {re.escape(str(MY_OPT))} .*hooks: optikit_register_optimizers", out)
    assert f"signgd  [-p {MY_OPT}]  Step against the sign of the gradient." in out
    assert "      lr = 0.01  Step length." in out
    code, out, _ = cli(capsys, "-p", MY_OPT, "plugins", "--format", "json")
    data = json.loads(out)
    sign = next(o for o in data["optimizers"] if o["name"] == "signgd")
    assert sign["hyperparameters"] == [{"name": "lr", "default": 0.01, "required": False, "doc": "Step length."}]
    assert {"plugins", "optimizers", "losses", "schedules", "backends", "blocked", "failed"} <= set(data)
    assert data["failed"] == [] and data["blocked"] == []


# ---- failures name the plugin ----------------------------------------------------------------

BROKEN = {
    "import": ("raise ImportError('no module named scipy')\n", "failed to load: ImportError: no module named scipy"),
    "misspelled": ("@optikit.hookimpl\ndef optikit_register_optimizer(register):\n    pass\n",
                   "did you mean optikit_register_optimizers?"),
    "undecorated": ("def optikit_register_optimizers(register):\n    pass\n", "not decorated with @optikit.hookimpl"),
    "duplicate": ("class G(optikit.Optimizer):\n    name = 'gd'\n    def init(self, p): return ()\n"
                  "    def update(self, g, s, p, o=None): return -g, s\n"
                  "@optikit.hookimpl\ndef optikit_register_optimizers(register):\n    register(G)\n",
                  "optimizer 'gd' is registered twice: by built-in and by -p"),
    "not an optimizer": ("@optikit.hookimpl\ndef optikit_register_optimizers(register):\n    register(dict)\n",
                         "not a subclass of optikit.Optimizer"),
    "instance": ("class G(optikit.Optimizer):\n    name = 'g2'\n    def init(self, p): return ()\n"
                 "    def update(self, g, s, p, o=None): return -g, s\n"
                 "@optikit.hookimpl\ndef optikit_register_optimizers(register):\n    register(G())\n",
                 "register the class itself"),
    "bad argument": ("@optikit.hookimpl\ndef optikit_run_start(spec, config):\n    pass\n", "config"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_plugin_is_one_message_exit_2(kind, plugin_file, capsys):
    path = plugin_file(BROKEN[kind][0])
    code, out, err = cli(capsys, "-p", path, "run", SPEC, "--epochs", "1")
    assert code == 2 and out == ""
    assert err.startswith(f"optikit: error: plugin -p {path}: ") and BROKEN[kind][1] in err
    assert "Traceback" not in err and err.count("\n") == 1
    code, _, err = cli(capsys, "-p", path, "--traceback", "run", SPEC, "--epochs", "1")
    assert code == 2 and "Traceback" in err


def test_misspelled_hook_lists_the_valid_names(plugin_file, capsys):
    code, _, err = cli(capsys, "-p", plugin_file(BROKEN["misspelled"][0]), "validate", SPEC)
    assert code == 2 and all(name in err for name in hookspecs.HOOKS)


def test_broken_entry_point_is_listed_and_stops_other_commands(monkeypatch, capsys, plugin_file):
    path = plugin_file("raise RuntimeError('boom')\n", name="broken_plugin.py")
    monkeypatch.syspath_prepend(str(path.parent))
    fake_entry_point(monkeypatch, "broken", "broken_plugin", dist="optikit-broken", version="0.3")
    code, out, err = cli(capsys, "plugins")
    assert code == 0 and "gd  [built-in]" in out
    assert "failed:\n  optikit-broken 0.3 (entry point broken = broken_plugin): failed to import" in out
    assert "1 plugin failed" in err
    code, out, err = cli(capsys, "run", SPEC)
    assert code == 2 and "optikit-broken 0.3" in err and "RuntimeError: boom" in err
    assert "OPTIKIT_DISABLE_PLUGIN_AUTOLOAD=1" in err and "Traceback" not in err
    monkeypatch.setenv("OPTIKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert cli(capsys, "run", SPEC, "--epochs", "1")[0] == 0


def test_duplicate_is_listed_by_plugins_and_the_rest_still_shows(plugin_file, capsys):
    path = plugin_file(BROKEN["duplicate"][0])
    code, out, _ = cli(capsys, "-p", path, "plugins", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["failed"][0]["plugin"] == f"-p {path}"
    assert [o["source"] for o in data["optimizers"] if o["name"] == "gd"] == ["built-in"]


def test_update_that_raises_names_the_plugin_exit_1(plugin_file, capsys):
    path = plugin_file("""
        class Bad(optikit.Optimizer):
            name = "bad"
            def __init__(self, lr=0.1):
                self.lr = lr
            def init(self, p):
                return ()
            def update(self, g, s, p, o=None):
                return 1 / 0, s

        @optikit.hookimpl
        def optikit_register_optimizers(register):
            register(Bad)
        """)
    code, _, err = cli(capsys, "-p", path, "run", SPEC, "--optimizer", "bad", "--epochs", "3")
    assert code == 1 and "ZeroDivisionError" in err and f"comes from -p {path}" in err and "Traceback" not in err


SHAPES = """
    class Bad(optikit.Optimizer):
        name = "bad"
        def __init__(self, lr=0.1):
            self.lr = lr
        def init(self, p):
            return {init}
        def update(self, g, s, p, o=None):
            return {update}

    @optikit.hookimpl
    def optikit_register_optimizers(register):
        register(Bad)
    """
TWO = ROOT / "specs" / "line_bias.yaml"


@pytest.mark.parametrize("spec, init, update, expected", [
    (SPEC, "()", "-self.lr * g", "update() must return (step, state)"),      # one parameter: unpacking failed
    (TWO, "()", "-self.lr * g", "update() must return (step, state)"),       # two: silently unpacked before
    (TWO, "()", "-self.lr * g[:1], s", "a step of shape (2,)"),
    (TWO, "()", "[0.1, 'x'], s", "a step of numbers"),
    (SPEC, "None", "-self.lr * g, s", "init() returned None"),
])
def test_optimizer_return_values_are_checked_naming_the_plugin(plugin_file, capsys, spec, init, update, expected):
    path = plugin_file(SHAPES.format(init=init, update=update))
    code, out, err = cli(capsys, "-p", path, "run", spec, "--optimizer", "bad", "--epochs", "3")
    assert code == 2 and f"plugin -p {path}: optimizer 'bad'" in err and expected in err, err
    assert "Traceback" not in err and not any(line.split()[:1] == ["0"] for line in out.splitlines())  # refused before any step
    with pytest.raises(optikit.PluginError) as info:
        optikit.run(spec, plugins=[str(path)], optimizer="bad", epochs=3, callbacks=[pytest.fail])
    assert info.value.plugin == f"-p {path}"


def test_callback_that_raises_names_the_plugin_exit_1(plugin_file, capsys):
    path = plugin_file("""
        @optikit.hookimpl
        def optikit_epoch_end(record):
            raise KeyError("loss_history")
        """)
    code, _, err = cli(capsys, "-p", path, "run", SPEC, "--epochs", "3")
    assert code == 1 and err.startswith(f"optikit: error: plugin -p {path}: a hook raised KeyError")


def test_plugin_options_reach_run_start(plugin_file, capsys):
    path = plugin_file("""
        @optikit.hookimpl
        def optikit_add_options(parser):
            parser.add_argument("--stop-at", type=int, default=None)

        class Stopper:
            at = None

        @optikit.hookimpl
        def optikit_run_start(options):
            Stopper.at = options["stop_at"]

        @optikit.hookimpl
        def optikit_epoch_end(record):
            return Stopper.at is not None and record.epoch + 1 >= Stopper.at
        """)
    code, out, _ = cli(capsys, "-p", path, "run", SPEC, "--stop-at", "4")
    assert code == 0 and "ran 4 epochs" in out and "stopped by a callback" in out
    with pytest.raises(SystemExit):
        main(["-p", str(path), "run", "--help"])
    assert "plugin options:" in capsys.readouterr().out
    clash = plugin_file("@optikit.hookimpl\ndef optikit_add_options(parser):\n    parser.add_argument('--lr')\n", "clash.py")
    code, _, err = cli(capsys, "-p", clash, "run", SPEC)
    assert code == 2 and f"plugin -p {clash}: optikit_add_options raised ArgumentError" in err


# ---- every hook is documented ------------------------------------------------------------------

def test_every_hook_is_documented_with_its_signature():
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    pm = plugin_manager(autoload=False)
    hooks = [name for name in vars(pm.hook) if name.startswith("optikit_")]
    assert sorted(hooks) == sorted(hookspecs.HOOKS)
    for name in hooks:
        import inspect

        args = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"{name}({args})" in docs, f"docs/plugins.md does not document {name}({args})"
        assert getattr(hookspecs, name).__doc__.strip(), name


# ---- the testing kit ---------------------------------------------------------------------------

def test_testing_kit_on_the_single_file_optimizer(monkeypatch):
    from optikit import testing

    monkeypatch.syspath_prepend(str(MY_OPT.parent))
    sign = Registry.build(plugin_manager([str(MY_OPT)])).optimizers["signgd"].obj
    run = testing.run_optimizer(sign(lr=0.001), "bowl", steps=3000, tol=1e-2)
    assert run.converged and run.points[0].tolist() == [1.0, 1.0] and len(run.losses) == run.steps + 1
    assert not testing.run_optimizer(sign(lr=0.5), "rosenbrock", steps=50).converged
    testing.check_state_finite(sign())
    testing.check_pure(sign())
    testing.check_step(sign(lr=0.1), grad=[2.0, -3.0, 0.0], params=[0.0, 0.0, 0.0], expected=[-0.1, 0.1, 0.0])
    with pytest.raises(AssertionError, match="hand computation"):
        testing.check_step(sign(lr=0.1), grad=[1.0], params=[0.0], expected=[0.1])


def test_testing_kit_catches_a_mutating_update():
    from optikit import testing

    class Mutating(optikit.Optimizer):
        name = "mutating"

        def init(self, params):
            return (params.copy() * 0,)

        def update(self, grad, state, params, oracle=None):
            state[0][:] += grad  # a bug: the state passed in changes
            return -0.1 * grad, state

    with pytest.raises(AssertionError, match="changed the state"):
        testing.check_pure(Mutating())
