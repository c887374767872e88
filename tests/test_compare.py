"""``optikit compare``: one spec, several optimizers, one table (or JSON) and one plot."""

from __future__ import annotations

import json

import pytest

from optikit.cli import main
from optikit.compare import compare
from optikit.errors import SpecError
from tests.conftest import SPECS

ROSEN = str(SPECS / "rosenbrock.yaml")


def test_table_has_a_row_per_optimizer(capsys):
    assert main(["compare", ROSEN, "--optimizers", "gd,sgd,adam,newton", "--steps", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["optimizer", "final"]
    assert [line.split()[0] for line in out[1:]] == ["gd", "sgd", "adam", "newton"]
    assert all(line.split()[2:4] == ["30", "30"] and line.endswith("step limit") for line in out[1:4])
    assert int(out[4].split()[2]) < 30 and out[4].endswith("converged")  # newton stops on its own tests


def test_spec_hyperparameters_belong_to_the_spec_optimizer_only():
    entries = compare(ROSEN, ["adam", "gd", "newton"], per_optimizer={"gd": {"momentum": 0.9}}, steps=5)
    assert [e.hyperparameters for e in entries] == [{"lr": 0.02}, {"momentum": 0.9}, {}]
    # a shared lr goes to every optimizer that has one, and only to those
    shared = compare(SPECS / "exp_decay_lm.yaml", ["gd", "lbfgs", "levenberg-marquardt"], lr=0.5, steps=2)
    assert [e.hyperparameters for e in shared] == [{"lr": 0.5}, {"lr": 0.5}, {}]


def test_epochs_override_replaces_the_spec_steps():
    (entry,) = compare(ROSEN, ["adam"], epochs=7)
    assert (entry.result.epochs, entry.result.steps, entry.result.stop_reason) == (7, 7, "epochs")


def test_a_diverged_run_is_a_row_and_exit_1(capsys, tmp_path):
    plot = tmp_path / "loss.png"
    code = main(["compare", ROSEN, "--optimizers", "gd,adam", "--steps", "50", "--set", "gd.lr=0.1",
                 "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 1
    assert "diverged at epoch" in out.splitlines()[1] and out.splitlines()[2].endswith("step limit")
    assert plot.stat().st_size > 0


def test_json_format(capsys):
    assert main(["compare", ROSEN, "--optimizers", "gd,adam", "--steps", "3", "--set", "adam.lr=0.05",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "rosenbrock"
    assert [(r["optimizer"], r["steps"], r["stop_reason"]) for r in data["runs"]] == [("gd", 3, "steps"), ("adam", 3, "steps")]
    assert data["runs"][1]["hyperparameters"] == {"lr": 0.05}


@pytest.mark.parametrize("argv, message", [
    (["--optimizers", "gd,adamm"], "unknown optimizer 'adamm'"),
    (["--optimizers", "gd", "--set", "adam.lr=0.1"], "not compared"),
    (["--optimizers", "gd,levenberg-marquardt"], "with optimizer 'levenberg-marquardt'"),
    (["--optimizers", "gd", "--set", "gd.speed=3"], "no hyperparameter 'speed'"),
])
def test_bad_usage_exits_2_before_running(argv, message, capsys):
    assert main(["compare", ROSEN, *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_no_optimizers_is_a_spec_error():
    with pytest.raises(SpecError):
        compare(ROSEN, [])


@pytest.mark.parametrize("args, origin", [
    (["--set", "adam.lr=x"], "--set adam.lr=x: optimizer.lr: with optimizer 'adam'"),
    (["--set", "adam.momentun=1"], "--set adam.momentun=1: optimizer.momentun: with optimizer 'adam'"),
    (["--lr", "-1"], "--lr -1.0: optimizer.lr: with optimizer 'gd'"),
    (["--epochs", "0"], "--epochs 0: optimizer.epochs"),
])
def test_override_errors_name_the_option(capsys, args, origin):
    assert main(["compare", str(SPECS / "seed_gd.yaml"), "--optimizers", "gd,adam", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"optikit: error: {origin}") and "seed_gd.yaml" not in err


def test_override_errors_name_the_keyword():
    with pytest.raises(SpecError) as info:
        compare(ROSEN, ["gd", "adam"], per_optimizer={"adam": {"lr": "x"}}, steps=5)
    assert str(info.value).startswith("per_optimizer['adam']['lr']: optimizer.lr: ")
    with pytest.raises(SpecError) as info:
        compare(ROSEN, ["gd", "adam"], steps=0)
    assert str(info.value).startswith("keyword steps=: optimizer.steps: ")


def test_every_optimizer_trains_on_the_spec_split_as_a_run_does():
    import optikit

    entries = compare(SPECS / "breast_cancer.yaml", ["lbfgs", "newton"])
    alone = optikit.run(SPECS / "breast_cancer.yaml")
    assert all(e.result.history.records[-1].validation_loss is not None for e in entries)
    assert entries[0].result.loss == alone.loss  # the same 458 training rows, not all 569
    assert abs(entries[1].result.loss - alone.loss) < 1e-9
