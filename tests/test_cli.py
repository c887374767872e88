"""The optikit command: formats, exit codes, plots and error messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from optikit.cli import main

from .conftest import SPECS

SEED = str(SPECS / "seed_gd.yaml")


def test_table_format(capsys):
    assert main(["run", SEED]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("blog-gd: model w*x; loss mse; optimizer gd (lr=0.01)")
    assert lines[1].split() == ["epoch", "step", "loss", "w"]
    assert lines[2].split() == ["0", "1", "7.5", "1.15"]
    assert "ran 100 epochs (100 steps) in " in out and "; stopped at the epoch limit" in out
    assert "w = 1.9999999125232637" in out and "predict(x=4) = 7.999999650093055" in out


def test_table_every(capsys):
    assert main(["run", SEED, "--every", "25"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:] if line.split()[0].isdigit()]
    assert rows == ["0", "25", "50", "75", "99"]


def test_json_format(capsys):
    assert main(["run", str(SPECS / "seed_sgd.yaml"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"]["w"] == pytest.approx(2.0)
    assert data["loss"] < 1e-20 and data["stop_reason"] == "epochs" and data["seed"] == 0
    assert len(data["history"]) == 100 and data["history"][0]["loss"] == pytest.approx(14 / 3)
    assert data["predictions"][0]["inputs"] == {"x": 4}


def test_plot_is_saved(tmp_path, capsys):
    path = tmp_path / "loss.png"
    assert main(["run", SEED, "--plot", str(path), "--format", "json"]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["run", SEED, "--plot", str(tmp_path / "no.png"), "--no-plot"]) == 0
    assert not (tmp_path / "no.png").exists()


def test_overrides_from_the_command_line(capsys):
    assert main(["run", SEED, "--format", "json", "--optimizer", "sgd", "--lr", "0.005", "--epochs", "7",
                 "--seed", "2", "--set", "momentum=0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["optimizer"] == "sgd" and data["epochs"] == 7 and data["steps"] == 28 and data["seed"] == 2


def test_grad_prints_the_symbolic_gradient(capsys):
    assert main(["grad", SEED]) == 0
    out = capsys.readouterr().out
    assert "loss = (w*x - y)**2" in out and "d loss / d w = 2*x*(w*x - y)" in out
    assert main(["grad", SEED, "--hessian", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gradient"] == {"w": "2*x*(w*x - y)"} and data["hessian"] == {"w": {"w": "2*x**2"}}


def test_bad_spec_exits_2_with_location(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((SPECS / "seed_gd.yaml").read_text().replace("lr: 0.01", "lr: fast"))
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"optikit: error: {bad}:14:7: optimizer.lr:") and "Traceback" not in err
    assert main(["validate", SEED, str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"ok {SEED}" in captured.out and "optimizer.lr" in captured.err


def test_divergence_exits_1_after_printing_what_was_computed(capsys):
    assert main(["run", SEED, "--lr", "1", "--epochs", "10000", "--every", "1"]) == 1
    captured = capsys.readouterr()
    assert "the loss is not finite" in captured.err and "epoch" in captured.err
    rows = [line for line in captured.out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert len(rows) > 10 and "nan" not in captured.out


def test_divergence_json_keeps_the_history(capsys):
    assert main(["run", SEED, "--lr", "1", "--epochs", "10000", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["error"]["type"] == "DivergenceError" and len(data["history"]) > 10


def test_plugins_lists_builtins(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "  gd  [built-in]" in out and "  sgd  [built-in]" in out and "lr = 0.001" in out
    assert "  mse  [built-in]  (model - target)**2" in out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["run", SEED, "--format", "xml"])
    assert info.value.code == 2


def test_missing_spec_file(capsys, tmp_path):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_import_is_light():
    code = "import sys, optikit; print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_plot_window_without_a_display_is_refused_before_the_run(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "DISPLAY"} | {"MPLBACKEND": "agg"}
    proc = subprocess.run([sys.executable, "-m", "optikit", "run", SEED, "--plot"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 2 and "no display" in proc.stderr and proc.stdout == ""


def test_bad_plot_paths_are_refused_before_the_run(tmp_path, capsys):
    assert main(["run", SEED, "--plot", str(tmp_path / "missing" / "x.png")]) == 2
    assert main(["run", SEED, "--plot", str(tmp_path / "x.txt")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "cannot write 'txt'" in captured.err


@pytest.mark.parametrize("args, origin, field", [
    (["--set", "momentun=0.9"], "--set momentun=0.9", "optimizer.momentun"),
    (["--set", "lr=abc"], "--set lr=abc", "optimizer.lr"),
    (["--lr", "-1"], "--lr -1.0", "optimizer.lr"),
    (["--epochs", "0"], "--epochs 0", "optimizer.epochs"),
    (["--batch-size", "0"], "--batch-size 0", "optimizer.batch_size"),
    (["--optimizer", "adma"], "--optimizer adma", "optimizer.name"),
    (["--set", "epochs=abc"], "--set epochs=abc", "optimizer.epochs"),
    (["--set", "name=x"], "--set name=x", "name"),
])
def test_override_errors_name_the_option_not_the_file(capsys, args, origin, field):
    assert main(["run", SEED, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"optikit: error: {origin}: {field}: ") and "seed_gd.yaml" not in err


def test_spec_errors_still_name_the_file_when_overrides_are_given(write_spec, capsys):
    path = write_spec("model: w*x\nparameters: {w: 1.0}\ndata: {x: [1.0], y: [2.0]}\n"
                      "optimizer:\n  name: gd\n  momentun: 0.9\n")
    assert main(["run", str(path), "--lr", "0.1"]) == 2
    assert capsys.readouterr().err.startswith(f"optikit: error: {path}:6:3: optimizer.momentun: ")


def test_printed_lines_read_as_english(capsys, write_spec):
    one = write_spec("objective: (w - 1)**2\nparameters: {w: 0.0}\noptimizer: {name: gd, lr: 0.1, epochs: 1}\n")
    assert main(["run", str(one)]) == 0
    out = capsys.readouterr().out
    assert "ran 1 epoch (1 step) in " in out and "; stopped at the epoch limit" in out
    assert main(["run", SEED, "--steps", "3"]) == 0
    assert "ran 3 epochs (3 steps) in " in capsys.readouterr().out
    assert main(["validate", str(one), SEED]) == 0
    out = capsys.readouterr().out
    assert "; 1 parameter (w); loss objective" in out and "; 1 parameter (w), 4 rows; loss mse" in out
    row = write_spec("model: w*x\nparameters: {w: 1.0}\ndata: {x: [1.0], y: [2.0]}\noptimizer: gd\n", "row.yaml")
    assert main(["grad", str(row)]) == 0
    assert "(batch loss: the mean over 1 row)" in capsys.readouterr().out
    assert main(["check", str(one)]) == 0
    assert "gradient check at 4 points x 1 row and the batch mean" in capsys.readouterr().out
