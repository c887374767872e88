"""Specs: YAML text to a validated, frozen :class:`Spec` that knows where each field stood."""

from .document import Spec
from .load import load_spec, loads_spec
from ..settings import ENGINE_KEYS
from .model import MODEL, TOP_KEYS, CheckSpec, OptimizerSpec, Parameter

__all__ = ["Spec", "Parameter", "OptimizerSpec", "CheckSpec", "load_spec", "loads_spec", "MODEL", "TOP_KEYS", "ENGINE_KEYS"]
