"""Tracking metrics against MOT ground truth (gt.txt: frame, id, x, y, w, h, ... ; frames 1-based) with py-motmetrics:
MOTA, IDF1, ID switches and the counts behind them. Boxes match when their IoU is at least 0.5 (torchvision's box_iou,
as motmetrics' own IoU helper does not run on NumPy 2).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

METRICS = ["mota", "idf1", "idp", "idr", "num_switches", "num_false_positives", "num_misses", "num_objects", "num_unique_objects",
           "mostly_tracked", "precision", "recall"]


def read_mot(path: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """frame (1-based) -> (ids (N,) int64, boxes_xyxy (N, 4) float64, class_ids (N,) int64, 0-based; -1 when not given)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    frames = {}
    for frame in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == frame]
        boxes = np.c_[r[:, 2:4], r[:, 2:4] + r[:, 4:6]]
        classes = r[:, 7].astype(np.int64) - 1 if r.shape[1] > 7 else np.full(len(r), -1, np.int64)
        frames[int(frame)] = (r[:, 1].astype(np.int64), boxes, classes)
    return frames


def iou_distances(truth_xyxy: np.ndarray, found_xyxy: np.ndarray, min_iou: float = 0.5) -> np.ndarray:
    """(N, M) 1 - IoU, NaN (no match possible) where the IoU is below ``min_iou``."""
    import torch
    from torchvision.ops import box_iou

    if len(truth_xyxy) == 0 or len(found_xyxy) == 0:
        return np.empty((len(truth_xyxy), len(found_xyxy)))
    iou = box_iou(torch.as_tensor(truth_xyxy, dtype=torch.float64), torch.as_tensor(found_xyxy, dtype=torch.float64)).numpy()
    return np.where(iou >= min_iou, 1.0 - iou, np.nan)


def score_tracks(truth: dict, tracks: Iterable[tuple[int, np.ndarray, np.ndarray]], frames: int | None = None) -> dict:
    """tracks: (frame 1-based, track_ids (M,), boxes_xyxy (M, 4)) per analysed frame; frames with no entry count as
    frames where nothing was tracked. Returns {metric: value} (see METRICS)."""
    import motmetrics as mm

    found = {frame: (ids, boxes) for frame, ids, boxes in tracks}
    last = frames or max([*truth, *found, 0])
    accumulator = mm.MOTAccumulator(auto_id=True)
    empty = (np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64))
    for frame in range(1, last + 1):
        truth_ids, truth_boxes, _ = truth.get(frame, empty)
        ids, boxes = found.get(frame, empty[:2])
        accumulator.update(truth_ids.tolist(), np.asarray(ids).tolist(), iou_distances(truth_boxes, np.asarray(boxes)))
    summary = mm.metrics.create().compute(accumulator, metrics=METRICS, name="all")
    return {name: (int(v) if name.startswith(("num_", "mostly_")) else round(float(v), 4)) for name, v in summary.loc["all"].items()}


def track_truth_boxes(truth: dict, fps: float = 30.0, keep_lost_s: float = 1.0) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The tracker alone: ground-truth boxes (score 1) fed to ByteTrack, to separate the tracker's errors from the detector's."""
    from .track import Tracker

    tracker, out = Tracker(fps=fps, keep_lost_s=keep_lost_s), []
    for frame in sorted(truth):
        _, boxes, classes = truth[frame]
        tracked = tracker.update(boxes, np.ones(len(boxes), np.float32), np.maximum(classes, 0), frame / fps)
        out.append((frame, tracked.track_ids, tracked.boxes_xyxy))
    return out
