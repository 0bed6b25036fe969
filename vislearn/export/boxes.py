"""One image's boxes as both chains of a detect export give them, and the numpy pieces both decodings share: images
through the graph, class-wise NMS and boxes back to the file's pixels."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..data.box_transforms import RESIZE_MODES
from ..errors import ImageReadError
from .bundle import Bundle, model_input_and_size


class Boxes(NamedTuple):
    """One image's decoded boxes: boxes_xyxy (N, 4) in the file's pixels, scores (N,), class_ids (N,)."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray


class DetectOutcome(NamedTuple):
    boxes: dict[float, Boxes]  # conf -> boxes kept at that confidence
    heatmap_khw: np.ndarray | None  # raw class heatmap logits (CenterNet; None for torchvision detectors)


def boxes_per_image(bundle: Bundle, paths: list[str], confs: tuple[float, ...], decode_at, heatmap_of=lambda outputs: None
                    ) -> dict[str, DetectOutcome]:
    """Each readable image through the graph (one per call): ``decode_at(outputs, conf)`` gives its Boxes in input
    pixels at each conf, mapped back to the file's pixels; ``heatmap_of(outputs)`` its raw map (or None)."""
    pre = bundle.sidecar["preprocessing"]
    found = {}
    for path in paths:
        try:
            image_chw, (width, height) = model_input_and_size(path, pre)
        except ImageReadError:
            continue
        outputs = bundle.run(image_chw[None])
        boxes = {}
        for conf in confs:
            decoded = decode_at(outputs, conf)
            boxes[conf] = Boxes(file_pixels(decoded.boxes_xyxy, pre, width, height), decoded.scores, decoded.class_ids)
        found[path] = DetectOutcome(boxes, heatmap_of(outputs))
    return found


def file_pixels(boxes_n4: np.ndarray, pre: dict, width: int, height: int) -> np.ndarray:
    """Boxes in the model's input back to the file's pixels: less the letterbox padding, divided by the resize scale."""
    fit = RESIZE_MODES.get(pre.get("resize_mode", "stretch"))(width, height, int(pre["size"][0]))
    scale = np.asarray([fit.resized_wh[0] / width, fit.resized_wh[1] / height] * 2, np.float32)
    boxes = (boxes_n4 - np.asarray(fit.pad_xy * 2, np.float32)) / scale
    return np.clip(boxes, 0, np.asarray([width, height, width, height], np.float32))


def box_iou(box_4: np.ndarray, boxes_n4: np.ndarray) -> np.ndarray:
    """(4,), (N, 4) xyxy -> (N,) intersection over union (0 where both are empty)."""
    top_left, bottom_right = np.maximum(box_4[:2], boxes_n4[:, :2]), np.minimum(box_4[2:], boxes_n4[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    union = np.prod(box_4[2:] - box_4[:2]) + np.prod(boxes_n4[:, 2:] - boxes_n4[:, :2], axis=1) - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def class_nms(boxes_n4: np.ndarray, scores_n: np.ndarray, class_ids_n: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression within each class, best score first."""
    suppressed, kept = np.zeros(len(scores_n), bool), []
    for i in np.argsort(-scores_n, kind="stable"):
        if not suppressed[i]:
            kept.append(i)
            suppressed |= (class_ids_n == class_ids_n[i]) & (box_iou(boxes_n4[i], boxes_n4) > iou)
    return np.asarray(kept, dtype=np.int64)
