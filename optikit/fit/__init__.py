"""Fit reports: uncertainties and goodness of fit of a finished run (``Result.report()``)."""

from .report import FitReport, fit_report

__all__ = ["FitReport", "fit_report"]
