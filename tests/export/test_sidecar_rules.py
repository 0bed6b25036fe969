"""The export's numpy halves against the PyTorch code they stand in for, on tiny random inputs (no training):
preprocessing, the classify referral rule, the segment sliding window, CenterNet decoding and NMS; and the gate's
tolerance rules."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import batched_nms

from vislearn.data import eval_transform
from vislearn.data.images import read_image
from vislearn.engine.sliding_window import sliding_window_logits
from vislearn.export import classify, detect, segment
from vislearn.export.bundle import Bundle, model_input, preprocessing_entry
from vislearn.export.parity import NEAR_THRESHOLD, flag_check, tensor_check
from vislearn.metrics.referral import Referrer, UnlikeTraining
from vislearn.models import Preprocessing
from vislearn.models.centernet import decode as centernet_decode


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_sidecar_preprocessing_gives_the_runs_own_input(mode, tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (37, 53, {"RGB": 3, "L": 1, "RGBA": 4}[mode]), dtype=np.uint8)
    path = tmp_path / "image.png"
    Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode).save(path)
    pre = Preprocessing((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 24)
    expected = eval_transform(pre)(read_image(path)).numpy()
    assert model_input(path, preprocessing_entry(pre)) == pytest.approx(expected, abs=1e-5)


def test_the_sidecar_rule_decides_as_the_runs_referrer():
    torch.manual_seed(0)
    k, d = 4, 6
    unlike = UnlikeTraining(torch.randn(k, d) * 0.3, torch.eye(d) * 2, threshold=1.6, rate=0.05)
    referrer = Referrer(1.7, 0.6, "fixed", unlike=unlike, class_names=tuple("abcd"))
    logits, features = torch.randn(200, k) * 2, torch.randn(200, d)
    expected = referrer.decide(logits, referrer.unlike_scores(features))
    rule = {"class_names": list("abcd"), "temperature": 1.7, "confidence_threshold": 0.6, "refer_every_image": False,
            "unlike_threshold": 1.6}
    arrays = {"class_means_kd": unlike.means_kd.numpy(), "precision_dd": unlike.precision_dd.numpy()}
    got = classify.decide(logits.numpy(), features.numpy(), rule, arrays)
    assert [g.label for g in got] == ["abcd"[e.predicted] for e in expected]
    assert [g.refer_reason for g in got] == [e.refer_reason for e in expected]
    assert {e.refer_reason for e in expected} == {"", "low confidence", "unlike training images"}  # every branch is compared
    assert [g.confidence for g in got] == pytest.approx([e.confidence for e in expected], abs=1e-6)
    assert [g.unlike_score for g in got] == pytest.approx([e.unlike_score for e in expected], abs=1e-4)


class _TorchSession:
    """Stands in for an ONNX Runtime session: runs a PyTorch model on the numpy input."""

    def __init__(self, model):
        self.model = model

    def run(self, _, feeds):
        with torch.no_grad():
            return [self.model(torch.from_numpy(feeds["images"])).numpy()]


def test_the_numpy_sliding_window_covers_an_image_as_the_runs_does():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 4, 3, padding=1).eval()
    image_chw = torch.randn(3, 40, 53)
    pad_c = torch.tensor([-2.0, -1.5, -1.0])
    expected = sliding_window_logits(model, image_chw, 16, 0.25, pad_c)
    bundle = Bundle(Path("."), {"dynamic_batch": True}, {}, _TorchSession(model))
    got = segment.window_logits(bundle, image_chw.numpy(), 16, 0.25, pad_c.numpy())
    assert got.shape == (4, 40, 53) and got == pytest.approx(expected.numpy(), abs=1e-5)


def test_numpy_decoding_finds_the_boxes_centernet_finds():
    torch.manual_seed(1)
    maps = {"heatmap": torch.randn(1, 3, 12, 12) * 2, "size": torch.randn(1, 2, 12, 12), "offset": torch.randn(1, 2, 12, 12)}
    expected = centernet_decode(maps, stride=4, conf=0.3, iou=0.4)[0]
    rule = {"stride": 4, "iou": 0.4, "top_k": 100, "size_clamp": [-4, 6]}
    got = detect.decode(*(maps[name][0].numpy() for name in detect.OUTPUTS), rule, 0.3)
    assert len(expected.scores) > 5 and len(got.scores) == len(expected.scores)
    pairs, lost, extra = detect.match(detect.Boxes(expected.boxes_xyxy.numpy(), expected.scores.numpy(), expected.class_ids.numpy()), got)
    assert not lost and not extra


def test_class_nms_keeps_what_torchvision_keeps():
    rng = np.random.default_rng(2)
    corners = rng.uniform(0, 50, (60, 2)).astype(np.float32)
    boxes = np.concatenate([corners, corners + rng.uniform(5, 30, (60, 2)).astype(np.float32)], axis=1)
    scores, classes = rng.uniform(0, 1, 60).astype(np.float32), rng.integers(0, 3, 60)
    expected = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), 0.3).numpy()
    assert detect.class_nms(boxes, scores, classes, 0.3).tolist() == expected.tolist()


def test_a_flag_may_differ_only_near_its_threshold():
    assert flag_check("f", [True, False], [False, False], [True, False]).passed
    assert not flag_check("f", [True, False], [False, False], [False, False]).passed
    assert NEAR_THRESHOLD <= 1e-4


def test_a_tensor_row_fails_on_any_image_beyond_tolerance_or_nan():
    ref = [np.zeros(3), np.full(3, 10.0)]
    assert tensor_check("t", ref, [np.zeros(3), np.full(3, 10.0005)]).passed  # 1e-4 of the largest value, 10
    row = tensor_check("t", ref, [np.full(3, 0.01), np.full(3, math.nan)])
    assert not row.passed and row.differ == 2
