"""Defect metrics on hand-made arrays: pixel metrics wherever masks exist, "no masks" when none do."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vislearn.metrics.defects import NO_MASKS, PixelTruth, defect_metrics, per_defect_rows, pixel_text


def _image(spot=None, value=5.0, size=4):
    """(size, size) heat of zeros with ``value`` at ``spot``, and the mask of that spot."""
    heat, mask = np.zeros((size, size), np.float32), np.zeros((size, size), bool)
    if spot is not None:
        heat[spot], mask[spot] = value, True
    return heat, mask


# good, good, hole (mask, found), crack (mask, heat misses a pixel), stain (no mask files)
TYPES = ["good", "good", "hole", "crack", "stain"]
SCORES = np.asarray([0.1, 0.3, 4.0, 2.5, 3.0])
KINDS = ["", "", "local", "local", "global"]


def _pixels():
    good = [_image(), _image()]
    good[1][0][3, 3] = 1.0  # a faint false alarm on a good image
    hole = _image((slice(0, 2), slice(0, 2)))
    crack_heat, crack_mask = _image((0, 0))
    crack_mask[1, 1] = True  # a crack pixel the heatmap does not see
    parts = [*good, hole, (crack_heat, crack_mask)]
    return PixelTruth(["good", "good", "hole", "crack"], np.stack([h for h, _ in parts]), np.stack([m for _, m in parts]))


def test_pixel_auroc_uses_the_images_with_masks_and_the_good_ones_when_some_types_have_none():
    pixels = _pixels()
    m = defect_metrics(TYPES, SCORES, threshold=2.0, pixels=pixels)
    expected = roc_auc_score(pixels.masks_nhw.ravel(), pixels.heat_nhw.ravel())
    assert m["pixel_auroc"] == pytest.approx(expected) and 0.8 < m["pixel_auroc"] < 1.0
    assert 0.0 < m["aupro"] <= 1.0
    assert m["types_with_masks"] == ["crack", "hole"] and m["types_without_masks"] == ["stain"]
    assert m["pixel_images"] == 4 and m["image_auroc"] == 1.0
    assert pixel_text(m) == f"{expected:.4f}"


def test_per_type_rows_say_which_types_had_masks():
    pixels = _pixels()
    rows = {r["defect_type"]: r for r in per_defect_rows(TYPES, SCORES, 2.0, KINDS, pixels)}
    good_and_hole = [0, 1, 2]  # the hole's row is judged against the good images only, not the crack
    assert rows["hole"]["has_masks"] and rows["hole"]["pixel_auroc"] == pytest.approx(
        roc_auc_score(pixels.masks_nhw[good_and_hole].ravel(), pixels.heat_nhw[good_and_hole].ravel()))
    assert rows["crack"]["has_masks"] and rows["crack"]["pixel_auroc"] < rows["hole"]["pixel_auroc"]
    assert not rows["stain"]["has_masks"] and rows["stain"]["pixel_auroc"] is None
    assert rows["stain"]["fired_global"] == 1 and rows["hole"]["detected"] == 1.0


def test_without_any_mask_the_pixel_metrics_say_no_masks_never_nan():
    m = defect_metrics(TYPES, SCORES, threshold=2.0, pixels=None)
    assert m["pixel_auroc"] is None and m["aupro"] is None and m["types_with_masks"] == []
    assert pixel_text(m) == NO_MASKS and pixel_text(m, "aupro") == NO_MASKS
    assert all(not r["has_masks"] and r["pixel_auroc"] is None for r in per_defect_rows(TYPES, SCORES, 2.0, KINDS))


def test_good_images_alone_in_the_pixel_set_count_as_no_masks():
    good = PixelTruth(["good"], np.zeros((1, 4, 4), np.float32), np.zeros((1, 4, 4), bool))
    m = defect_metrics(["good", "stain"], np.asarray([0.0, 3.0]), 2.0, good)
    assert m["pixel_auroc"] is None and pixel_text(m) == NO_MASKS
