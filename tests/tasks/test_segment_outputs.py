"""Segment outputs: each image is read, predicted and scored once, and the worst panels come from that one pass."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

from vislearn.config import TrainConfig
from vislearn.data.masks import read_mask_data
from vislearn.data.samples.segment import write_shapes_sample
from vislearn.models import preprocessing_for
from vislearn.models.segmentation import create_segmentation_model
from vislearn.tasks.segment import outputs as segment_outputs
from vislearn.tasks.segment.outputs import colour_overlay, evaluate_samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg_outputs")
    write_shapes_sample(root / "data", count=8, size=48, quiet=True)
    data = read_mask_data(root / "data", 0, 0.0, 0.0)
    return root, data, [s for split in data.splits.values() for s in split]


def test_worst_panels_reuse_the_scoring_pass_and_show_the_lowest_iou_images(shapes, tmp_path, monkeypatch):
    _, data, samples = shapes
    torch.manual_seed(0)
    model = create_segmentation_model("tiny_unet", len(data.class_names), "none").eval()
    reads, masks = [], []
    read_image, read_mask = segment_outputs.image_tensor, segment_outputs.read_sample_mask
    monkeypatch.setattr(segment_outputs, "image_tensor", lambda path: reads.append(path) or read_image(path))
    monkeypatch.setattr(segment_outputs, "read_sample_mask", lambda s: masks.append(s.path) or read_mask(s))
    config = TrainConfig(data=str(tmp_path), device="cpu", precision="fp32")
    m = evaluate_samples(model, samples, data.class_names, preprocessing_for(model, 48), config, tmp_path, "test", False, worst=3)
    assert sorted(reads) == sorted(masks) == sorted(s.path for s in samples)  # once each, no second prediction
    lowest = sorted((r["miou"], r["path"]) for r in m["worst_images"])
    assert [(r["miou"], r["path"]) for r in m["worst_images"]] == lowest and len(lowest) == 3
    with open(tmp_path / "predictions_test.csv", newline="") as f:
        all_mious = sorted(float(row["miou"]) for row in csv.DictReader(f))
    assert [round(r["miou"], 5) for r in m["worst_images"]] == all_mious[:3]
    first = m["worst_images"][0]
    panel = np.asarray(Image.open(first["picture"]))
    photo = np.asarray(Image.open(first["path"]).convert("RGB"))
    truth = read_mask(next(s for s in samples if s.path == first["path"]))
    w = photo.shape[1]
    assert panel.shape == (photo.shape[0], 3 * w, 3)
    assert np.array_equal(panel[:, :w], photo) and np.array_equal(panel[:, w:2 * w], colour_overlay(photo, truth))


def test_tile_overlap_has_one_default_for_training_eval_and_predict():
    import inspect

    from vislearn.engine.sliding_window import TILE_OVERLAP, sliding_window_logits
    from vislearn.tasks.segment.outputs import predict_masks, tile_overlap
    from vislearn.tasks.segment.train import DEFAULTS

    assert TILE_OVERLAP == 0.25 and DEFAULTS["tile_overlap"] == TILE_OVERLAP
    assert tile_overlap(TrainConfig(data="x")) == TILE_OVERLAP and tile_overlap(TrainConfig(data="x", extra={"tile_overlap": 0.5})) == 0.5
    for function in (predict_masks, sliding_window_logits):
        assert inspect.signature(function).parameters["overlap"].default == TILE_OVERLAP
