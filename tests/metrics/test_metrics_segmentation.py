"""Segmentation metrics pinned against answers counted by hand on 4x4 masks."""
import math

import pytest
import torch

from vislearn.metrics.segmentation import SegmentationMeter, SegmentationScores, mean_iou

# truth                 prediction
# 0 0 0 1               0 0 1 1
# 0 0 1 1               0 0 1 1
# 2 2 1 1               2 2 2 2
# 2 2 2 255             2 2 2 2      (255: not scored -> 15 scored pixels)
TRUE = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 1], [2, 2, 1, 1], [2, 2, 2, 255]])
PRED = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2]])
# class 0: true 5, pred 4, both 4 -> IoU 4/5, Dice 2*4/(5+4) = 8/9
# class 1: true 5, pred 4, both 3 -> IoU 3/6, Dice 6/9
# class 2: true 5, pred 7 (scored), both 5 -> IoU 5/7, Dice 10/12
# pixel accuracy 12/15; class 3 never appears -> no score


def test_per_class_iou_dice_and_pixel_accuracy_match_hand_counts():
    scores = SegmentationScores(4)
    scores.update(PRED[None], TRUE[None])
    m = scores.compute(["bg", "a", "b", "never"])
    rows = {r["name"]: r for r in m["per_class_iou"]}
    assert rows["bg"]["iou"] == pytest.approx(4 / 5) and rows["bg"]["dice"] == pytest.approx(8 / 9)
    assert rows["a"]["iou"] == pytest.approx(3 / 6) and rows["a"]["dice"] == pytest.approx(6 / 9)
    assert rows["b"]["iou"] == pytest.approx(5 / 7) and rows["b"]["dice"] == pytest.approx(10 / 12)
    assert rows["never"]["iou"] is None and rows["never"]["dice"] is None
    assert m["miou"] == pytest.approx((4 / 5 + 3 / 6 + 5 / 7) / 3)
    assert m["mean_dice"] == pytest.approx((8 / 9 + 6 / 9 + 10 / 12) / 3)
    assert m["pixel_accuracy"] == pytest.approx(12 / 15)
    assert [r["pixels"] for r in m["per_class_iou"]] == [5, 5, 5, 0]


def test_scores_accumulate_over_batches_like_one_big_batch():
    split = SegmentationScores(3)
    split.update(PRED[None, :2], TRUE[None, :2])
    split.update(PRED[None, 2:], TRUE[None, 2:])
    whole = SegmentationScores(3)
    whole.update(PRED[None], TRUE[None])
    assert split.compute()["miou"] == pytest.approx(whole.compute()["miou"])


def test_one_image_mean_iou_skips_absent_classes():
    assert mean_iou(PRED, TRUE, 4) == pytest.approx((4 / 5 + 3 / 6 + 5 / 7) / 3)
    assert mean_iou(TRUE.clamp(max=2), TRUE.clamp(max=2), 10) == 1.0
    assert math.isnan(mean_iou(torch.zeros(2, 2, dtype=torch.long), torch.full((2, 2), 255), 3))  # nothing scored


def test_meter_scores_argmax_of_logits_and_weights_loss_by_batch_size():
    meter = SegmentationMeter(3)
    logits = torch.nn.functional.one_hot(PRED, 3).permute(2, 0, 1)[None].float()
    meter.update(logits, TRUE[None], torch.tensor(2.0))
    meter.update(logits.repeat(3, 1, 1, 1), TRUE[None].repeat(3, 1, 1), torch.tensor(1.0))
    m = meter.compute()
    assert m["loss"] == pytest.approx((2.0 * 1 + 1.0 * 3) / 4)
    assert m["miou"] == pytest.approx((4 / 5 + 3 / 6 + 5 / 7) / 3)
    assert m["pixel_accuracy"] == pytest.approx(12 / 15)
