"""Export of a detect run. CenterNet detectors: the network's three maps in ONNX; the decoding (3 x 3 peaks, top-k,
offsets and sizes, class-wise NMS, boxes back to the file's pixels) in numpy from the sidecar. torchvision detectors:
see :mod:`.detect_torchvision`. Both are compared box by box by the same parity rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.box_transforms import box_eval_transform
from ..data.images import read_image
from ..engine.predict import export_onnx
from ..tasks import TASKS
from ..tasks.detect.kinds import EVAL_CONF
from ..tasks.detect.model import load_detector, thresholds
from . import detect_torchvision
from .boxes import Boxes, DetectOutcome, box_iou, boxes_per_image, class_nms
from .bundle import Bundle, preprocessing_entry
from .parity import NEAR_THRESHOLD, TENSOR_TOLERANCE, Check, error_check, tensor_check
from .written import GraphOptions, Written

OUTPUTS = ("heatmap", "size", "offset")
MATCH_IOU = 0.95  # a box of one chain and a box of the other are the same box at this overlap and the same class
CORNER_TOLERANCE_PX = 0.01  # matched boxes' corners, in the file's pixels
TOP_K = 100  # peaks kept before NMS, as models/centernet.py decodes


class MapsAsTuple(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images_bchw: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = self.model(images_bchw)
        return tuple(maps[name] for name in OUTPUTS)


def write(run, graph: Path, options: GraphOptions) -> Written:
    model, pre = load_detector(run)
    if _kind(model) == "torchvision":
        return detect_torchvision.write(run, model, pre, graph, options)
    export_onnx(MapsAsTuple(model), graph, pre.image_size, options.opset, options.dynamic_batch, OUTPUTS)
    conf, iou = thresholds(run, None, None)
    outputs = {"heatmap": "(B, K, h, w) class logits per cell", "size": "(B, 2, h, w) log(width, height / stride)",
               "offset": "(B, 2, h, w) logit of the centre's offset within its cell"}
    decision = {"class_names": list(run.class_names), "stride": int(model.stride), "conf": conf, "iou": iou, "top_k": TOP_K,
                "size_clamp": [-4, 6], "rule": (
                    "scores = sigmoid(heatmap), kept at 3x3 local maxima; the top_k scores >= conf; centre = (cell + "
                    "sigmoid(offset)) x stride, size = exp(clamp(size)) x stride; boxes clipped to the input; class-wise "
                    "NMS at iou; boxes back to the file's pixels: minus the letterbox padding (preprocessing.resize_mode), divided by "
                    "the resize scale of each axis, clipped to the picture")}
    return Written({**preprocessing_entry(pre), "resize_mode": pre.resize_mode}, outputs, decision)


def reference(run, paths: list[str]) -> dict[str, DetectOutcome]:
    """The task's own predict at the run's conf and at the evaluation's conf, and the raw heatmap logits."""
    conf = thresholds(run, None, None)[0]
    found = {c: TASKS.get("detect").predict(run, paths, progress=False, conf=c)[0] for c in (conf, EVAL_CONF)}
    model, pre = load_detector(run)
    transform, empty = box_eval_transform(pre), np.zeros((0, 4), np.float32)
    outcomes = {}
    for i, p in enumerate(found[conf]):
        heat = None
        if _kind(model) == "centernet":
            with torch.no_grad():
                heat = model(transform(read_image(p.path), empty)[0][None])["heatmap"][0].numpy()
        boxes = {c: Boxes(d[i].boxes_xyxy, d[i].scores, d[i].class_ids) for c, d in found.items()}
        outcomes[p.path] = DetectOutcome(boxes, heat)
    return outcomes


def _kind(model) -> str:
    return getattr(model, "detector_kind", "centernet")


def exported(bundle: Bundle, paths: list[str]) -> dict[str, DetectOutcome]:
    rule = bundle.task
    if rule.get("detector_kind") == "torchvision":
        return detect_torchvision.exported(bundle, paths)
    return boxes_per_image(bundle, paths, (rule["conf"], EVAL_CONF),
                           lambda outputs, conf: decode(*(m[0] for m in outputs), rule, conf), lambda outputs: outputs[0][0])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x.astype(np.float32)))


def decode(heat_khw: np.ndarray, size_2hw: np.ndarray, offset_2hw: np.ndarray, rule: dict, conf: float) -> Boxes:
    """One image's boxes in input pixels from its three maps (the sidecar's ``rule``)."""
    k, h, w = heat_khw.shape
    heat = _sigmoid(heat_khw)
    padded = np.pad(heat, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    pooled = np.max([padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
    flat = (heat * (pooled == heat)).ravel()
    order = np.argsort(-flat, kind="stable")[:min(rule["top_k"], flat.size)]
    order = order[flat[order] >= conf]
    class_ids, y, x = order // (h * w), (order % (h * w)) // w, order % w
    offset, size = _sigmoid(offset_2hw[:, y, x]), np.exp(np.clip(size_2hw[:, y, x], *rule["size_clamp"]))
    stride = rule["stride"]
    cx, cy, bw, bh = (x + offset[0]) * stride, (y + offset[1]) * stride, size[0] * stride, size[1] * stride
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
    boxes = np.minimum(np.maximum(boxes, 0), np.asarray([w, h, w, h], np.float32) * stride)
    kept = class_nms(boxes, flat[order], class_ids, rule["iou"])[:TOP_K]
    return Boxes(boxes[kept], flat[order][kept], class_ids[kept].astype(np.int64))


def match(ref: Boxes, got: Boxes) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pairs (reference box, exported box) at IoU >= MATCH_IOU with the same class (greedy, best score first), and the
    unmatched boxes of each side."""
    pairs, free = [], set(range(len(got.scores)))
    for i in np.argsort(-ref.scores, kind="stable"):
        candidates = [j for j in free if got.class_ids[j] == ref.class_ids[i]]
        if candidates:
            overlaps = box_iou(ref.boxes_xyxy[i], got.boxes_xyxy[candidates])
            best = int(np.argmax(overlaps))
            if overlaps[best] >= MATCH_IOU:
                pairs.append((int(i), candidates[best]))
                free.discard(candidates[best])
    matched = {i for i, _ in pairs}
    return pairs, [i for i in range(len(ref.scores)) if i not in matched], sorted(free)


def _explained(boxes: Boxes, unmatched: list[int], other: Boxes, other_unmatched: list[int], conf: float) -> int:
    """Unmatched boxes with no float-rounding reason: a score not within NEAR_THRESHOLD of ``conf``, and no unmatched box
    of the other chain with the same class and a score that close (two neighbouring peaks that tie)."""
    def tied(i: int) -> bool:
        return any(other.class_ids[j] == boxes.class_ids[i] and abs(float(other.scores[j]) - float(boxes.scores[i])) <= NEAR_THRESHOLD
                   for j in other_unmatched)

    return sum(abs(float(boxes.scores[i]) - conf) > NEAR_THRESHOLD and not tied(i) for i in unmatched)


def boxes_check(conf: float, ref: list[Boxes], got: list[Boxes], note: str) -> list[Check]:
    """Boxes of both chains matched; then the matched boxes' score and corner errors."""
    compared = unmatched = unexplained = 0
    score_errors, corner_errors = [], []
    for r, g in zip(ref, got):
        pairs, lost, extra = match(r, g)
        compared += max(len(r.scores), len(g.scores))
        unmatched += len(lost) + len(extra)
        unexplained += _explained(r, lost, g, extra, conf) + _explained(g, extra, r, lost, conf)
        score_errors += [abs(float(r.scores[i]) - float(g.scores[j])) for i, j in pairs]
        corner_errors += [float(np.abs(r.boxes_xyxy[i] - g.boxes_xyxy[j]).max()) for i, j in pairs]
    name = f"boxes at conf {conf:g}"
    note = note if compared else f"{note}; NO box on any image in either chain: nothing compared, the boxes are unchecked"
    return [Check(name, compared, unmatched, None, f"IoU>={MATCH_IOU} + class; else a score tie ({NEAR_THRESHOLD:g})", unexplained == 0, note),
            error_check(f"box scores at conf {conf:g}", score_errors, TENSOR_TOLERANCE),
            error_check(f"box corners at conf {conf:g}", corner_errors, CORNER_TOLERANCE_PX, "px")]


def compare(torch_out: dict[str, DetectOutcome], onnx_out: dict[str, DetectOutcome], rule: dict) -> list[Check]:
    paths = sorted(set(torch_out) & set(onnx_out))
    ref, got = [torch_out[p] for p in paths], [onnx_out[p] for p in paths]
    checks = []
    for conf, note in ((rule["conf"], "the run's confidence threshold"), (EVAL_CONF, "every candidate mAP scores")):
        checks += boxes_check(conf, [r.boxes[conf] for r in ref], [g.boxes[conf] for g in got], note)
    if rule.get("detector_kind") == "torchvision":  # its raw outputs are the boxes at conf 0.01, compared above
        return checks
    return checks + [tensor_check("heatmap logits", [r.heatmap_khw for r in ref], [g.heatmap_khw for g in got])]
