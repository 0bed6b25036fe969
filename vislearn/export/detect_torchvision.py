"""Export of a detect run on a torchvision detector (Faster R-CNN, RetinaNet, FCOS): the whole detector in ONNX, its
own normalisation, anchors, box decoding, score threshold and NMS included (torch's TorchScript exporter, opset >= 11,
one image per call: the number of boxes varies per image); the run's confidence filter, its class-wise NMS and the
boxes back to the file's pixels in numpy, from the sidecar.

Decoding in numpy from the raw heads would need the region proposals and RoIAlign of Faster R-CNN: the graph keeps
torchvision's own post-processing instead, and the parity gate compares the boxes it gives.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..engine.predict import export_onnx
from ..errors import VislearnError
from ..tasks.detect.kinds import EVAL_CONF
from ..tasks.detect.model import thresholds
from .boxes import Boxes, DetectOutcome, boxes_per_image, class_nms
from .bundle import Bundle, preprocessing_entry
from .written import GraphOptions, Written

OUTPUTS = ("boxes", "scores", "labels")
MIN_OPSET = 11  # torchvision's detection post-processing (NMS, RoIAlign, dynamic shapes) needs opset 11 or later


class BoxesOfOneImage(nn.Module):
    """images (1, 3, S, S) in 0..1 -> boxes (N, 4) xyxy in input pixels, scores (N,), labels (N,) 1..K."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images_bchw: torch.Tensor) -> tuple[torch.Tensor, ...]:
        found = self.model([images_bchw[0]])[0]
        return found["boxes"], found["scores"], found["labels"]


def write(run, model: nn.Module, pre, graph: Path, options: GraphOptions) -> Written:
    name = run.config.model
    if options.dynamic_batch:
        raise VislearnError(f"{run.dir}: {name} (a torchvision detector) is exported for one image per call (the number of "
                            "boxes differs per image); leave out --dynamic-batch")
    if options.opset is not None and options.opset < MIN_OPSET:
        raise VislearnError(f"--opset {options.opset}: {name}'s NMS and RoIAlign need opset {MIN_OPSET} or later")
    try:
        export_onnx(BoxesOfOneImage(model), graph, pre.image_size, options.opset, False, OUTPUTS, dynamo=False)
    except Exception as exc:  # the exporter's own errors name an operator; say which model and what to do
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise VislearnError(f"{run.dir}: {name} (a torchvision detector) could not be exported to ONNX by torch's TorchScript "
                            f"exporter: {reason}. CenterNet detectors (tiny_det, timm encoders) export without it") from None
    conf, iou = thresholds(run, None, None)
    outputs = {"boxes": "(N, 4) xyxy in input pixels, after the detector's own score threshold and NMS",
               "scores": "(N,) class scores", "labels": "(N,) class ids 1..K (0 is torchvision's background)"}
    decision = {"detector_kind": "torchvision", "class_names": list(run.class_names), "conf": conf, "iou": iou, "rule": (
        "class = label - 1; keep scores >= conf; class-wise NMS at iou; boxes back to the file's pixels: minus the letterbox "
        "padding (preprocessing.resize_mode), divided by the resize scale of each axis, clipped to the picture")}
    return Written({**preprocessing_entry(pre), "resize_mode": pre.resize_mode}, outputs, decision)


def exported(bundle: Bundle, paths: list[str]) -> dict[str, DetectOutcome]:
    """The export's boxes at the run's conf and at the evaluation's, per readable image (its own files only)."""
    return boxes_per_image(bundle, paths, (bundle.task["conf"], EVAL_CONF), lambda outputs, conf: kept(*outputs, bundle.task, conf))


def kept(boxes_n4: np.ndarray, scores_n: np.ndarray, labels_n: np.ndarray, rule: dict, conf: float) -> Boxes:
    """The graph's boxes (input pixels, labels 1..K) with scores >= conf after class-wise NMS at the run's IoU."""
    class_ids = labels_n.astype(np.int64) - 1
    keep = np.flatnonzero(scores_n >= conf)
    keep = keep[class_nms(boxes_n4[keep], scores_n[keep], class_ids[keep], rule["iou"])] if len(keep) else keep
    return Boxes(boxes_n4[keep], scores_n[keep], class_ids[keep])
