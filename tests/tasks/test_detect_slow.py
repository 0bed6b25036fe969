"""The promise of docs/detect.md on a half-size sample set: a short CPU training of tiny_det (letterbox + GIoU, the
defaults) gives tight boxes, mAP@[.5:.95] well above the 0.48 that 4 epochs of the L1 loss gave on the full set."""
import json

import pytest

from vislearn.cli import main


@pytest.mark.slow
def test_tiny_det_gives_tight_boxes_on_the_sample_set(tmp_path):
    data, run = tmp_path / "det", tmp_path / "run"
    assert main(["data", "sample", "detect", str(data), "--limit", "150", "--quiet"]) == 0
    assert main(["train", "detect", "--data", str(data), "--model", "tiny_det", "--weights", "none", "--epochs", "10",
                 "--batch-size", "8", "--out", str(run), "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["num_images"] == 30
    config = json.loads((run / "config.json").read_text())
    assert config["preprocessing"]["resize_mode"] == "letterbox" and config["extra"]["box_loss"] == "giou"
    assert metrics["map"] >= 0.5  # measured 0.640 (pycocotools; 0.722-0.738 on 3 seeds with the full set, 12 epochs, batch 16), see docs/detect.md
    assert metrics["map50"] >= 0.9  # measured 0.974
    assert all(row["ap50"] >= 0.7 for row in metrics["per_class_ap"])
