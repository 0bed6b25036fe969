"""CenterNet targets and loss: Gaussian peaks at object centres, zero loss for a perfect prediction."""
import math

import pytest
import torch
from torchvision.ops import generalized_box_iou_loss

from vislearn.models.centernet import decode
from vislearn.tasks.detect.loss import GIOU_WEIGHT, center_targets, centernet_loss, centre_cell_boxes


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


def _one_box_prediction(width_factor: float) -> tuple[dict, list[dict]]:
    """The truth of _targets() predicted perfectly except its width, ``width_factor`` times the true one."""
    targets = _targets()
    t = center_targets(targets, 2, (16, 16), 4)
    size = torch.zeros(2, 2, 16, 16)
    size[0, :, 6, 4] = t.size[0] + torch.tensor([math.log(width_factor), 0.0])
    return {"heatmap": torch.where(t.heatmap == 1, 20.0, -20.0), "size": size, "offset": torch.full((2, 2, 16, 16), -20.0)}, targets


def test_giou_term_is_torchvisions_generalized_iou_loss_of_the_decoded_box():
    outputs, targets = _one_box_prediction(2.0)
    extra = centernet_loss(outputs, targets, 4, "giou") - centernet_loss(outputs, targets, 4, "l1")
    decoded = decode(outputs, 4, conf=0.5)[0].boxes_xyxy  # the box predict would give, in input pixels
    assert decoded[0].tolist() == pytest.approx([0.0, 8.0, 32.0, 40.0], abs=1e-3)  # twice as wide, same centre
    truth = targets[0]["boxes_xyxy"]
    assert extra.item() == pytest.approx(GIOU_WEIGHT * generalized_box_iou_loss(decoded, truth, reduction="mean").item(), abs=1e-4)
    assert extra.item() == pytest.approx(GIOU_WEIGHT * 0.5, abs=1e-4)  # nested boxes: GIoU = IoU = 1/2


def test_giou_term_grows_with_the_size_error_and_vanishes_when_exact():
    terms = []
    for factor in (1.0, 1.2, 1.5):
        outputs, targets = _one_box_prediction(factor)
        terms.append((centernet_loss(outputs, targets, 4, "giou") - centernet_loss(outputs, targets, 4, "l1")).item())
    assert terms[0] == pytest.approx(0.0, abs=1e-5) and 0 < terms[1] < terms[2]


def test_centre_cell_boxes_are_the_boxes_the_decoder_draws_in_cells():
    boxes = centre_cell_boxes(torch.tensor([[math.log(4.0), math.log(2.0)]]), torch.tensor([[0.5, 0.25]]), torch.tensor([[6, 4]]))
    assert boxes.tolist() == [[2.5, 5.25, 6.5, 7.25]]  # centre (4.5, 6.25), 4 x 2 cells
