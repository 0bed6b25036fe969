"""Detectors by name: vislearn's CenterNet on its tiny encoder or any timm encoder, and torchvision's, offline."""
import math

import pytest
import torch

from vislearn.errors import UnknownNameError
from vislearn.models.centernet import decode
from vislearn.models.detection import DETECTORS, create_detector, detector_preprocessing


def test_tiny_det_outputs_class_heatmaps_sizes_and_offsets_at_stride_4():
    model = create_detector("tiny_det", 3).eval()
    out = model(torch.zeros(2, 3, 64, 64))
    assert model.stride == 4 and model.detector_kind == "centernet"
    assert out["heatmap"].shape == (2, 3, 16, 16) and out["size"].shape == (2, 2, 16, 16) and out["offset"].shape == (2, 2, 16, 16)
    assert out["heatmap"].sigmoid().mean().item() == pytest.approx(0.1, abs=0.02)  # the prior: most cells are background


def test_any_timm_encoder_gets_the_same_head_through_forward_intermediates():
    model = create_detector("resnet18", 2, "none").eval()
    assert model.encoder.strides == [4, 8, 16, 32] and model.encoder.channels == [64, 128, 256, 512]
    assert model(torch.zeros(1, 3, 64, 64))["heatmap"].shape == (1, 2, 16, 16)
    assert not hasattr(model.encoder.model, "fc") or isinstance(model.encoder.model.fc, torch.nn.Identity)  # head pruned


def test_decode_turns_one_peak_into_its_exact_box():
    heatmap = torch.full((1, 2, 16, 16), -10.0)
    heatmap[0, 1, 5, 7] = 10.0
    size = torch.full((1, 2, 16, 16), math.log(10 / 4))  # 10 px at stride 4
    found = decode({"heatmap": heatmap, "size": size, "offset": torch.zeros(1, 2, 16, 16)}, stride=4, conf=0.5)[0]
    # centre ((7 + sigmoid(0)) * 4, (5 + 0.5) * 4) = (30, 22)
    assert found.boxes_xyxy.tolist() == [pytest.approx([25.0, 17.0, 35.0, 27.0])]
    assert found.class_ids.tolist() == [1] and found.scores.item() == pytest.approx(torch.sigmoid(torch.tensor(10.0)).item())


def test_decode_suppresses_overlapping_boxes_of_one_class():
    heatmap = torch.full((1, 1, 16, 16), -10.0)
    heatmap[0, 0, 5, 7], heatmap[0, 0, 5, 9] = 5.0, 4.0  # two peaks 8 px apart, boxes 40 px wide: IoU > 0.5
    size = torch.full((1, 2, 16, 16), math.log(40 / 4))
    found = decode({"heatmap": heatmap, "size": size, "offset": torch.zeros(1, 2, 16, 16)}, stride=4, conf=0.5, iou=0.5)[0]
    assert len(found.scores) == 1 and found.scores.item() == pytest.approx(torch.sigmoid(torch.tensor(5.0)).item())


def test_torchvision_detectors_are_registered_and_build_offline_without_weights():
    assert {"fcos_resnet50_fpn", "retinanet_resnet50_fpn", "fasterrcnn_resnet50_fpn", "fasterrcnn_mobilenet_v3_large_fpn"} <= set(DETECTORS.names())
    model = create_detector("fasterrcnn_mobilenet_v3_large_fpn", 3, "none", image_size=96)
    assert model.detector_kind == "torchvision" and model.transform.min_size == (96,)
    assert detector_preprocessing(model, 96).mean == (0.0, 0.0, 0.0)  # torchvision normalises inside


def test_unknown_detector_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="tiny_det"):
        create_detector("no_such_detector", 2)


def test_torchvision_backbone_weights_offline_give_a_clear_error(monkeypatch):
    from urllib.error import URLError

    from torchvision.models import detection

    from vislearn.errors import WeightsUnavailableError

    def offline(**kwargs):
        raise URLError("no network")

    monkeypatch.setattr(detection, "fcos_resnet50_fpn", offline)
    with pytest.raises(WeightsUnavailableError, match="--weights none"):
        create_detector("fcos_resnet50_fpn", 2, "auto")
