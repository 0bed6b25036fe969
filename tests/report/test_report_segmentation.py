"""The report's segmentation section: present only for segment runs, with the per-class IoU table and worst images."""
import numpy as np

from vislearn.report.segmentation import segmentation_context
from vislearn.tasks.segment.outputs import colour_overlay


def test_no_section_for_runs_of_other_tasks(tmp_path):
    assert segmentation_context(tmp_path, {"accuracy": 0.9, "per_class": []}) is None
    assert segmentation_context(tmp_path, None) is None


def test_section_shows_figures_per_class_rows_and_embeds_the_worst_pictures(tmp_path):
    from PIL import Image

    Image.new("RGB", (6, 2)).save(tmp_path / "w.png")
    metrics = {"split": "test", "miou": 0.75, "mean_dice": 0.8, "pixel_accuracy": 0.9, "num_images": 3,
               "per_class_iou": [{"name": "bg", "iou": 0.9, "dice": 0.95, "pixel_share": 0.7},
                                 {"name": "rare", "iou": None, "dice": None, "pixel_share": 0.0}],
               "worst_images": [{"path": "a.png", "miou": 0.5, "picture": str(tmp_path / "w.png")},
                                {"path": "gone.png", "miou": 0.6, "picture": str(tmp_path / "gone.png")}]}
    section = segmentation_context(tmp_path, metrics)
    assert section["headline"][0] == ("mean IoU", "0.7500")
    assert [(r["name"], r["iou"], r["width"]) for r in section["classes"]] == [("bg", "0.900", 90), ("rare", "–", 0)]
    assert section["worst"][0]["uri"].startswith("data:image/png;base64,") and section["worst"][1]["uri"] is None


def test_overlay_paints_classes_and_leaves_background_alone():
    photo = np.full((2, 2, 3), 100, np.uint8)
    out = colour_overlay(photo, np.array([[0, 1], [2, 0]], np.uint8), alpha=0.5)
    assert (out[0, 0] == 100).all() and (out[1, 1] == 100).all()
    assert out[0, 1].tolist() == [114, 50, 50] and out[1, 0].tolist() == [50, 114, 50]  # halfway to VOC red / green
