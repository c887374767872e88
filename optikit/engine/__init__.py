"""The training loop, its records and run control (checkpoints, resumption, interruption)."""

from .loop import STOP_REASONS, Settings, run_problem
from .records import EpochRecord, History, Result

__all__ = ["Settings", "EpochRecord", "History", "Result", "run_problem", "STOP_REASONS"]
