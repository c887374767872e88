"""Tests of the earlystop plugin: its hooks on their own, then through optikit.run."""

import types

import pytest

import optikit
from optikit_earlystop import EarlyStop

SPEC = """
name: plateau
model: w*x
parameters: {w: 1.0}
data: {x: [1.0, 2.0, 3.0, 4.0], y: [2.0, 4.0, 6.0, 8.0]}
loss: mse
optimizer: {name: gd, lr: 0.05, epochs: 500}
"""


def record(epoch, loss):
    return types.SimpleNamespace(epoch=epoch, step=epoch + 1, loss=loss, parameters={})


def test_stops_after_patience_epochs_without_improvement():
    stop = EarlyStop()
    stop.optikit_run_start(options={"earlystop_patience": 2, "earlystop_min_delta": 0.1})
    decisions = [stop.optikit_epoch_end(record(i, loss)) for i, loss in enumerate([5.0, 4.0, 3.95, 3.99, 3.0])]
    assert decisions == [False, False, False, True, False]


def test_inactive_without_a_patience():
    stop = EarlyStop()
    stop.optikit_run_start(options={})
    assert all(stop.optikit_epoch_end(record(i, 1.0)) is None for i in range(10))


def test_a_run_stops_early_when_installed():
    # the plugin is registered through its entry point, as a user's installation would
    result = optikit.run(optikit.loads_spec(SPEC), plugin_options={"earlystop_patience": 3, "earlystop_min_delta": 1e-12})
    assert result.stop_reason == "callback" and result.epochs < 500
    assert optikit.run(optikit.loads_spec(SPEC)).epochs == 500


def test_bad_patience_names_the_plugin():
    with pytest.raises(optikit.RunError, match="optikit-earlystop"):
        optikit.run(optikit.loads_spec(SPEC), plugin_options={"earlystop_patience": 0})
