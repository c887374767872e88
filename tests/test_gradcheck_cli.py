"""`optikit check` and `optikit run --trust-gradient` from the command line."""

from __future__ import annotations

import json

from optikit.cli import main

from .conftest import SPECS

WRONG = str(SPECS / "seed_sgd_wrong_gradient.yaml")
RIGHT = str(SPECS / "seed_gd_hand_gradient.yaml")


def test_check_wrong_gradient_exits_1_naming_w(capsys):
    assert main(["check", WRONG]) == 1
    out = capsys.readouterr().out
    assert "parameter w: HAND GRADIENT DIFFERS" in out
    assert "derived: 2*x*(w*x - y)" in out and "hand:    2*w*(w*x - y)" in out
    assert "hand - derived = 2*(w - x)*(w*x - y)" in out
    assert "at the worst point" in out and "FAILED: w" in out


def test_check_right_gradient_exits_0(capsys):
    assert main(["check", RIGHT, "--hessian"]) == 0
    out = capsys.readouterr().out
    assert "[identical]" in out and "all gradients agree" in out and "hessian d2/dw dw" in out


def test_check_json(capsys):
    assert main(["check", WRONG, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    w = data["parameters"]["w"]
    assert data["ok"] is False and w["verdict"] == "hand gradient differs"
    assert w["derived"] == "2*x*(w*x - y)" and w["hand"] == "2*w*(w*x - y)"
    assert w["equivalence"] == "differs" and w["worst"]["point"].keys() == {"w"}
    assert main(["check", RIGHT, "--format", "json", "--atol", "1e-8", "--rtol", "1e-6", "--eps", "1e-7"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["tolerance"] == {"atol": 1e-8, "rtol": 1e-6, "eps": 1e-7}


def test_check_bad_spec_exits_2(write_spec, capsys):
    path = write_spec("model: w*x\nparameters: {w: 1.0}\ndata: {x: [1.0], y: [2.0]}\noptimizer: gd\n"
                      "check:\n  gradient: {v: 2*x}\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "check.gradient.v" in err and "'v' is not a parameter" in err
    assert main(["check", RIGHT, "--eps", "0"]) == 2


def test_run_refuses_wrong_gradient(capsys):
    assert main(["run", WRONG, "--format", "seed"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    first = captured.err.splitlines()[0]
    assert first.startswith(f"optikit: error: {WRONG}:14:6: gradient.w: ")
    assert "2*x*(w*x - y)" in first and "2*w*(w*x - y)" in first
    assert "--trust-gradient" in captured.err


def test_run_trusts_the_gradient_when_told(capsys):
    assert main(["run", WRONG, "--format", "seed", "--trust-gradient"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Predict(after training) 4 7.997969457337781"
    assert "Epoch: 99 w= 1.9994923643344453" in "\n".join(lines)


def test_run_with_a_right_hand_gradient(capsys):
    assert main(["run", RIGHT, "--format", "seed"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Predict(after training) 4 7.99977")


def test_gradient_that_differs_only_within_tolerance(tmp_path, capsys):
    spec = (SPECS / "exp_decay.yaml").read_text().replace("optimizer:", (
        "gradient:\n"
        "  a: 2*(a*exp(-b*x) + c - y)*exp(-b*x)\n"
        "  b: -1.9999*a*x*(a*exp(-b*x) + c - y)*exp(-b*x)\n"
        "  c: 2*(a*exp(-b*x) + c - y)\n"
        "optimizer:"), 1)
    path = tmp_path / "near.yaml"
    path.write_text(spec, encoding="utf-8")
    assert main(["run", str(path), "--epochs", "2"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.startswith(f"optikit: error: {path}:17:6: gradient.b: ")
    assert "--trust-gradient" in captured.err
    assert main(["run", str(path), "--epochs", "2", "--trust-gradient"]) == 0
    capsys.readouterr()
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "WITHIN THE NUMERIC TOLERANCE" in out and "DISAGREE" not in out
    assert main(["check", str(path), "--format", "json"]) == 1
    b = json.loads(capsys.readouterr().out)["parameters"]["b"]
    assert b["verdict"].startswith("hand gradient differs symbolically") and b["difference_max_rel"] < 1e-3
