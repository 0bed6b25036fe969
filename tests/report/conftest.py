"""A fake run folder with every file the report reads, built from scratch in tmp_path."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASS_NAMES = ["cat", "dog", "bird"]
EVIL_NAME = "<script>alert(1)</script>.png"
TEST_ACCURACY = 0.8766


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


def write_png(path: Path, seed: int, size: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def config() -> dict:
    return {"task": "classify", "model": "tf_efficientnet_lite0", "weights": "auto", "class_names": CLASS_NAMES,
            "preprocessing": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "image_size": 64,
                              "interpolation": "bicubic"},
            "epochs": 3, "batch_size": 64, "lr": 0.001, "seed": 0, "device": "cpu", "precision": "fp32"}


def data_summary() -> dict:
    return {"source": "data/pets", "class_names": CLASS_NAMES,
            "counts": {"train": {"cat": 40, "dog": 35, "bird": 30}, "val": {"cat": 5, "dog": 5, "bird": 4},
                       "test": {"cat": 10, "dog": 9, "bird": 8}},
            "skipped": [{"path": EVIL_NAME, "reason": "not an image"}],
            "warnings": ["class bird has fewer than 50 training images"]}


def history() -> list[dict]:
    return [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5 + 0.1 * e, "val_loss": 1.1 / e,
             "val_accuracy": 0.45 + 0.1 * e, "val_macro_f1": 0.4 + 0.1 * e, "lr": 0.001 / e,
             "seconds": 2.0, "images_per_second": 50.0} for e in (1, 2, 3)]


def reliability_with_empty_bins() -> dict:
    edges = [round(0.1 * i, 1) for i in range(11)]
    count = [0, 0, 0, 2, 0, 3, 4, 0, 6, 12]
    accuracy = [None, None, None, 0.5, None, 0.33, 0.75, None, 0.83, 1.0]
    confidence = [None, None, None, 0.35, None, 0.55, 0.66, None, 0.85, 0.97]
    return {"bin_edges": edges, "bin_accuracy": accuracy, "bin_confidence": confidence, "bin_count": count}


def metrics() -> dict:
    return {"split": "test", "num_images": 27, "accuracy": TEST_ACCURACY, "macro_f1": 0.8612, "auroc": 0.95,
            "ece": 0.0421, "nll": 0.41,
            "per_class": [{"name": n, "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 9} for n in CLASS_NAMES],
            "confusion_matrix": [[8, 1, 1], [1, 7, 1], [0, 0, 8]],
            "reliability": reliability_with_empty_bins(),
            "coverage": [{"threshold": t, "coverage": 1.0 - 0.5 * t, "accuracy": 0.85 + 0.1 * t}
                         for t in (0.0, 0.3, 0.5, 0.7, 0.8, 0.9)]}


def write_explain(run_dir: Path) -> None:
    examples = []
    for i, (label, predicted) in enumerate([("cat", "cat"), ("dog", "bird"), ("bird", "bird")]):
        stem = f"explain/ex_{i:03d}"
        for seed, kind in enumerate(("image", "gradcam", "integrated_gradients")):
            write_png(run_dir / f"{stem}_{kind}.png", seed=10 * i + seed)
        examples.append({"path": f"test/{label}/{i}.png", "label": label, "predicted": predicted,
                         "confidence": 0.71, "correct": label == predicted, "image": f"{stem}_image.png",
                         "gradcam": f"{stem}_gradcam.png", "integrated_gradients": f"{stem}_integrated_gradients.png"})
    write_json(run_dir / "explain/examples.json", examples)
    write_png(run_dir / "explain/filters.png", seed=99, size=32)
    write_json(run_dir / "explain/layers.json",
               [{"title": "First-layer filters", "image": "explain/filters.png", "caption": "edges and colours"}])


def write_predictions(run_dir: Path) -> None:
    with (run_dir / "predictions_test.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "label", "predicted", "confidence", "correct", "refer_to_human"])
        writer.writerow(["a.png", "cat", "cat", 0.95, True, False])
        writer.writerow(["b.png", "dog", "bird", 0.41, False, True])
        writer.writerow(["c.png", "bird", "bird", 0.45, True, True])


def build_full_run(run_dir: Path) -> Path:
    write_json(run_dir / "config.json", config())
    write_json(run_dir / "data_summary.json", data_summary())
    write_json(run_dir / "history.json", history())
    write_json(run_dir / "calibration.json", {"temperature": 1.3, "val_nll_before": 0.52, "val_nll_after": 0.44,
                                              "val_ece_before": 0.081, "val_ece_after": 0.023})
    write_json(run_dir / "metrics.json", metrics())
    write_explain(run_dir)
    write_predictions(run_dir)
    return run_dir


@pytest.fixture
def full_run(tmp_path: Path) -> Path:
    """A complete run folder of one's own, to damage before writing the report."""
    return build_full_run(tmp_path / "run")


@pytest.fixture(scope="module")
def full_report_html(tmp_path_factory) -> str:
    """report.html of an untouched complete run, written once and shared by read-only tests."""
    from vislearn.report import write_report

    run_dir = build_full_run(tmp_path_factory.mktemp("full") / "run")
    return write_report(run_dir).read_text(encoding="utf-8")


@pytest.fixture
def reliability_bins() -> dict:
    return reliability_with_empty_bins()
