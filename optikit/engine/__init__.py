"""The training loop, its records and run control (checkpoints, resumption, interruption)."""

from .loop import Settings, run_problem
from .records import STOP_LABELS, STOP_REASONS, STOPPED, EpochRecord, History, Result

__all__ = ["Settings", "EpochRecord", "History", "Result", "run_problem", "STOP_REASONS", "STOPPED", "STOP_LABELS"]
