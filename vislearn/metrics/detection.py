"""Detection metrics by pycocotools' COCOeval (never re-implemented): mAP@[.5:.95], mAP@.5, mAP@.75, per-class AP,
precision-recall curves at IoU 0.5, and per-image misses / false alarms from COCOeval's own matching.

Ground truth and detections are built as COCO objects in memory; pycocotools' prints are swallowed.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..data.coco import coco_dataset


class ImageBoxes(NamedTuple):
    """Boxes of one image: boxes_xyxy (N, 4) pixels, class_ids (N,), scores (N,) for detections (None for truth)."""

    boxes_xyxy: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray | None = None


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def _coco(items: Sequence[ImageBoxes], class_names: list[str], with_scores: bool):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = coco_dataset(class_names, [{}] * len(items), items, with_scores=with_scores)  # exact floats
    with _quiet():
        coco.createIndex()
    return coco


def run_cocoeval(truths: Sequence[ImageBoxes], detections: Sequence[ImageBoxes], class_names: list[str]):
    """The evaluated, accumulated and summarised ``COCOeval`` (bbox) of detections against truths, image by image."""
    from pycocotools.cocoeval import COCOeval

    if len(truths) != len(detections):
        raise ValueError(f"{len(truths)} ground-truth images but {len(detections)} detection lists")
    evaluator = COCOeval(_coco(truths, class_names, False), _coco(detections, class_names, True), "bbox")
    with _quiet():
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _mean_valid(values: np.ndarray) -> float | None:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else None


def per_image_errors(evaluator, num_images: int, conf: float) -> list[dict]:
    """Per image at IoU 0.5: objects missed and detections with score >= ``conf`` that matched nothing."""
    rows = [{"index": i, "missed": 0, "false_positives": 0, "found": 0} for i in range(num_images)]
    all_areas = evaluator.params.areaRng[0]
    for e in evaluator.evalImgs:
        if e is None or e["aRng"] != all_areas:
            continue
        row = rows[e["image_id"] - 1]
        gt_matched, gt_ignored = np.asarray(e["gtMatches"])[0], np.asarray(e["gtIgnore"], bool)
        dt_matched, dt_ignored = np.asarray(e["dtMatches"])[0], np.asarray(e["dtIgnore"])[0].astype(bool)
        confident = np.asarray(e["dtScores"]) >= conf
        row["missed"] += int(((gt_matched == 0) & ~gt_ignored).sum())
        row["found"] += int(((gt_matched > 0) & ~gt_ignored).sum())
        row["false_positives"] += int(((dt_matched == 0) & ~dt_ignored & confident).sum())
    return rows


def detection_report(truths: Sequence[ImageBoxes], detections: Sequence[ImageBoxes], class_names: list[str], conf: float = 0.25) -> dict:
    """Everything metrics.json holds for detection; AP of a class without any true box is None."""
    evaluator = run_cocoeval(truths, detections, class_names)
    precision = evaluator.eval["precision"][:, :, :, 0, -1]  # (IoU thresholds, recall points, classes) at all areas, 100 dets
    counts = np.bincount(np.concatenate([np.asarray(t.class_ids, int) for t in truths] or [np.zeros(0, int)]), minlength=len(class_names))
    per_class = [{"name": name, "ap": _mean_valid(precision[:, :, k]), "ap50": _mean_valid(precision[0, :, k]),
                  "ap75": _mean_valid(precision[5, :, k]), "boxes": int(counts[k])} for k, name in enumerate(class_names)]
    stats = [float(s) if s > -1 else None for s in evaluator.stats]
    return {"map": stats[0], "map50": stats[1], "map75": stats[2], "mar100": stats[8], "per_class": per_class,
            "map_by_size": dict(zip(("small", "medium", "large"), stats[3:6])),  # COCO's areas: < 32², < 96², larger (pixels²)
            "pr_curves": {"iou": 0.5, "recall": [round(float(r), 2) for r in evaluator.params.recThrs],
                          "precision": {name: [round(max(float(p), 0.0), 4) for p in precision[0, :, k]] for k, name in enumerate(class_names)}},
            "num_images": len(truths), "num_boxes": int(counts.sum()), "num_detections": int(sum(len(d.class_ids) for d in detections)),
            "per_image": per_image_errors(evaluator, len(truths), conf), "per_image_conf": conf}


def map_scores(truths: Sequence[ImageBoxes], detections: Sequence[ImageBoxes], class_names: list[str]) -> dict[str, float]:
    """{"map", "map50"} for the training loop's validation (0 when no class has a true box)."""
    stats = run_cocoeval(truths, detections, class_names).stats
    return {"map": max(float(stats[0]), 0.0), "map50": max(float(stats[1]), 0.0)}
