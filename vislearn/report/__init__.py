"""HTML report and plots for one training run folder."""
from .html import write_report
from .plots import (
    class_counts_plot,
    confusion_matrix_plot,
    coverage_curve,
    learning_curves,
    reliability_diagram,
)

__all__ = [
    "write_report",
    "learning_curves",
    "confusion_matrix_plot",
    "reliability_diagram",
    "coverage_curve",
    "class_counts_plot",
]
