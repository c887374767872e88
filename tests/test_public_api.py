"""The names users and plugin authors import, where the documentation says they are."""

from __future__ import annotations

import importlib

import pytest

import optikit

DOCUMENTED = {
    "optikit": ["run", "prepare", "check", "load_spec", "loads_spec", "load_data", "hookimpl", "Optimizer", "Oracle",
                "EmptyState", "Spec", "Result", "History", "EpochRecord", "OptikitError", "SpecError",
                "ExpressionError", "PluginError", "RunError", "DivergenceError", "GradientMismatchError", "Location",
                "__version__"],
    "optikit.testing": ["check_pure", "check_state_finite", "check_step", "run_optimizer", "BOWL", "ROSENBROCK"],
    "optikit.gradcheck": ["check", "check_callable", "check_problem", "verify_training_gradient"],
    "optikit.optimizers.base": ["Optimizer", "Oracle", "EmptyState", "hyperparameters"],
    "optikit.optimizers": ["builtin_optimizers"],
    "optikit.plugins": ["plugin_manager", "Registry", "OptikitPluginManager", "Provenance"],
    "optikit.hookspecs": ["hookimpl", "HOOKS"],
    "optikit.backends": ["Backend", "Evaluator", "Sums", "NumpyBackend", "Problem"],
    "optikit.data": ["DataSource", "DataRef", "ArraySource", "FileSource", "StreamSource", "open_source", "from_arrays"],
    "optikit.symbolic": ["SymbolicProblem", "symbolic_problem"],
    "optikit.settings": ["RunSettings", "run_settings", "ENGINE_KEYS"],
    "optikit.api": ["compile_spec", "validate"],
    "optikit.compare": ["compare"],
    "optikit.engine": ["run_problem", "EpochRecord", "Result"],
    "optikit.engine.checkpoint": ["RunControl", "load_checkpoint", "spec_identity"],
}


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_documented_names_import(module):
    mod = importlib.import_module(module)
    missing = [name for name in DOCUMENTED[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"


def test_the_top_level_api_lists_what_it_exports():
    assert set(optikit.__all__) <= set(dir(optikit))
    assert {"run", "prepare", "check", "load_spec", "hookimpl", "Optimizer"} <= set(optikit.__all__)
