"""AUPRO moved to :mod:`vislearn.metrics.aupro` (a metric: metrics/defects.py needs it below anomaly/)."""
from ..metrics.aupro import aupro, pro_curve  # noqa: F401
