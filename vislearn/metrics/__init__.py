"""Metrics computed by well-kept libraries (torchmetrics), and calibration."""
from .calibration import calibrated_probs, fit_temperature
from .classification import ClassificationMeter, classification_report, coverage_curve, reliability_bins

__all__ = ["calibrated_probs", "fit_temperature", "ClassificationMeter", "classification_report", "coverage_curve", "reliability_bins"]
