from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vislearn.report import (
    class_counts_plot,
    confusion_matrix_plot,
    coverage_curve,
    learning_curves,
    reliability_diagram,
)


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_confusion_matrix_plot_size_for_few_classes(tmp_path: Path):
    path = confusion_matrix_plot([[5, 1, 0], [0, 4, 2], [1, 0, 6]], ["a", "b", "c"], tmp_path / "cm.png")
    width, height = _size(path)
    assert 400 <= width <= 800 and 400 <= height <= 800


def test_confusion_matrix_plot_grows_with_50_classes(tmp_path: Path):
    names = [f"class_with_a_long_name_{i}" for i in range(50)]
    matrix = np.diag(np.full(50, 9))
    matrix[np.arange(50), (np.arange(50) + 7) % 50] = 2  # a few confusions, like a real run
    width, height = _size(confusion_matrix_plot(matrix.tolist(), names, tmp_path / "cm50.png"))
    assert 1500 <= width <= 2200 and 1500 <= height <= 2100


def test_confusion_matrix_plot_rejects_non_square(tmp_path: Path):
    with pytest.raises(ValueError, match="square"):
        confusion_matrix_plot([[1, 2, 3], [4, 5, 6]], ["a", "b"], tmp_path / "bad.png")


def test_confusion_matrix_plot_survives_a_class_with_no_images(tmp_path: Path):
    path = confusion_matrix_plot([[0, 0], [1, 3]], ["a", "b"], tmp_path / "cm.png")
    assert _size(path)[0] > 0


def test_reliability_diagram_handles_empty_bins(tmp_path: Path, reliability_bins: dict):
    path = reliability_diagram(reliability_bins, 0.042, tmp_path / "rel.png")
    assert _size(path) == (600, 640)


def test_reliability_diagram_with_all_bins_empty(tmp_path: Path):
    empty = {"bin_edges": [0, 0.5, 1], "bin_accuracy": [0, 0], "bin_confidence": [0, 0], "bin_count": [0, 0]}
    assert reliability_diagram(empty, None, tmp_path / "rel.png").is_file()


def test_reliability_diagram_rejects_mismatched_bins(tmp_path: Path):
    bad = {"bin_edges": [0, 1], "bin_accuracy": [0.5, 0.5], "bin_confidence": [0.5, 0.5], "bin_count": [1, 1]}
    with pytest.raises(ValueError, match="bin_edges"):
        reliability_diagram(bad, None, tmp_path / "rel.png")


def test_learning_curves_skip_missing_keys(tmp_path: Path):
    history = [{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.7, "val_loss": None}]
    assert _size(learning_curves(history, tmp_path / "plots" / "curves.png")) == (1200, 360)


def test_coverage_curve_writes_png(tmp_path: Path):
    rows = [{"threshold": t, "coverage": 1 - t / 2, "accuracy": 0.8 + t / 5} for t in (0.0, 0.5, 0.8, 0.9, 0.99)]
    rows.append({"threshold": 1.0, "coverage": 0.0, "accuracy": None})
    assert _size(coverage_curve(rows, tmp_path / "cov.png")) == (640, 460)


def test_class_counts_plot_widens_with_many_classes(tmp_path: Path):
    few = {"train": {"a": 3, "b": 4}, "test": {"a": 1}}
    many = {"train": {f"c{i}": i for i in range(50)}, "val": {f"c{i}": 1 for i in range(50)}}
    few_width, _ = _size(class_counts_plot(few, tmp_path / "few.png"))
    many_width, _ = _size(class_counts_plot(many, tmp_path / "many.png"))
    assert few_width == 600 and many_width > 1500


def test_plots_do_not_leave_pyplot_figures_open(tmp_path: Path):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    confusion_matrix_plot([[1, 0], [0, 1]], ["a", "b"], tmp_path / "cm.png")
    learning_curves([{"epoch": 1, "train_loss": 1.0}], tmp_path / "lc.png")
    assert len(plt.get_fignums()) == before
