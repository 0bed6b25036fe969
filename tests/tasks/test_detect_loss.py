"""CenterNet targets and loss: Gaussian peaks at object centres, zero loss for a perfect prediction."""
import math

import pytest
import torch

from vislearn.tasks.detect_loss import center_targets, centernet_loss


def _targets():
    return [{"boxes_xyxy": torch.tensor([[8.0, 8.0, 24.0, 40.0]]), "class_ids": torch.tensor([1])},
            {"boxes_xyxy": torch.zeros(0, 4), "class_ids": torch.zeros(0, dtype=torch.long)}]  # a background image


def test_targets_peak_at_the_centre_cell_with_size_and_offset():
    t = center_targets(_targets(), 2, (16, 16), 4)
    # centre (16, 24) px -> cell (x 4, y 6) at stride 4, no offset; size 16 x 32 px -> 4 x 8 cells
    assert t.heatmap[0, 1, 6, 4] == 1.0 and t.heatmap[0, 1].sum() > 1 and t.heatmap[0, 0].sum() == 0 and t.heatmap[1].sum() == 0
    assert t.centres.tolist() == [[0, 6, 4]] and t.offset.tolist() == [[0.0, 0.0]]
    assert t.size[0].tolist() == pytest.approx([math.log(4), math.log(8)])


def test_perfect_prediction_has_near_zero_loss_and_empty_maps_do_not():
    targets = _targets()
    t = center_targets(targets, 2, (16, 16), 4)
    size = torch.zeros(2, 2, 16, 16)
    size[0, :, 6, 4] = t.size[0]
    perfect = {"heatmap": torch.where(t.heatmap == 1, 20.0, -20.0), "size": size, "offset": torch.full((2, 2, 16, 16), -20.0)}
    assert centernet_loss(perfect, targets, 4).item() < 1e-3
    blank = {"heatmap": torch.zeros(2, 2, 16, 16), "size": torch.zeros(2, 2, 16, 16), "offset": torch.zeros(2, 2, 16, 16)}
    assert centernet_loss(blank, targets, 4).item() > 1.0
