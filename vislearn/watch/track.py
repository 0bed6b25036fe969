"""Identities across frames: ByteTrack from roboflow ``trackers`` (Apache-2.0) on the detector's boxes.

Frames a live source dropped are not lost to the tracker: each update carries the frame's capture time, so the
Kalman filter predicts over the real interval, not one frame step.

ByteTrack matches boxes to tracks by overlap alone, whatever their class; where a cup passes in front of a cat, the
cat's track can jump to the cup. ``by_class`` (the default) keeps classes apart: each class's boxes are shifted to
a region of their own (as batched NMS does), so boxes of different classes never overlap and never match.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_SHIFT = 1e5  # pixels between the regions of two classes: more than any frame is wide


@dataclass(frozen=True)
class TrackedBoxes:
    """One frame's tracked objects. boxes_xyxy (N, 4) float32 in frame pixels; class_ids, track_ids (N,) int64; scores (N,) float32."""

    boxes_xyxy: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


class Tracker:
    """ByteTrack with settings for a detector's calibrated scores: boxes scoring ``high`` or more start and keep tracks,
    lower ones (down to the detector's threshold) only keep them; a track lost for ``keep_lost_s`` seconds ends."""

    def __init__(self, fps: float = 30.0, high: float = 0.5, keep_lost_s: float = 1.0, min_iou: float = 0.1, by_class: bool = True):
        from trackers import ByteTrackTracker

        self.by_class = by_class
        self._tracker = ByteTrackTracker(lost_track_buffer=max(1, int(round(keep_lost_s * fps))), frame_rate=fps,
                                         track_activation_threshold=high, high_conf_det_threshold=high,
                                         minimum_consecutive_frames=1, minimum_iou_threshold=min_iou)

    def update(self, boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, time_s: float | None = None) -> TrackedBoxes:
        """Boxes of one frame in, the confirmed tracks among them out (boxes that start no track are left out)."""
        import supervision as sv

        class_ids = np.asarray(class_ids, np.int64)
        found = sv.Detections(xyxy=np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) + self._shift(class_ids),
                              confidence=np.asarray(scores, np.float32), class_id=class_ids)
        tracked = self._tracker.update(found, timestamp=time_s)
        ids = np.asarray(tracked.tracker_id if tracked.tracker_id is not None else [], np.int64)
        keep = ids >= 0
        class_ids = tracked.class_id[keep].astype(np.int64)
        return TrackedBoxes((tracked.xyxy[keep] - self._shift(class_ids)).astype(np.float32), class_ids,
                            tracked.confidence[keep].astype(np.float32), ids[keep])

    def _shift(self, class_ids: np.ndarray) -> np.ndarray:
        """(N, 1) offsets that put each class's boxes in a region of their own (0 for every box unless ``by_class``)."""
        return class_ids[:, None].astype(np.float64) * CLASS_SHIFT if self.by_class else np.zeros((len(class_ids), 1))
