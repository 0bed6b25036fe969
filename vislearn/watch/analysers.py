"""One analyser per task: what ``watch`` does with each frame. ``ANALYSERS.get(task)(run, options, fps)`` gives an object
whose ``analyse(frame)`` returns a :class:`FrameResult` and whose ``summary()`` gives the totals.

detect: boxes -> ByteTrack identities -> line/zone counts (detect_tracks.py). classify, defects, segment: each frame
goes through the task-neutral ``vislearn.predict`` (the run's model is loaded once and kept), then classification is
smoothed over time and referred frames become events, defects and segmentation masks are drawn over the frame.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..registry import Registry
from .annotate import colour, draw_text_lines
from .reader import Frame

ANALYSERS: Registry = Registry("watch analyser")


class FrameResult(NamedTuple):
    """picture: the annotated frame; row: what was found (JSON); events: dicts with at least "event"."""

    picture: Image.Image
    row: dict
    events: list[dict]


@dataclass(frozen=True)
class WatchOptions:
    """How ``watch`` analyses and counts. line: 2 (x, y) points; zone: 3 or more; smooth_frames: the classify average's span."""

    conf: float | None = None
    iou: float | None = None
    line: tuple = ()
    zone: tuple = ()
    smooth_frames: int = 5
    track_keep_lost_s: float = 1.0
    track_high: float | None = None  # detect: boxes scoring this or more start tracks (default: the run's conf, at least 0.5)
    track_by_class: bool = True  # detect: a box extends only a track of its own class


class PerFrame:
    """A frame as a PNG in a private temporary folder, through ``vislearn.predict`` (one prediction back)."""

    def __init__(self, run):
        self.run = run
        self._folder = tempfile.TemporaryDirectory(prefix="vislearn-watch-")
        self._path = Path(self._folder.name) / "frame.png"

    def predict(self, image: Image.Image):
        from ..api import predict

        image.save(self._path, compress_level=1)
        predictions, problems = predict(self.run, [self._path], progress=False)
        if problems or not predictions:
            raise RuntimeError(f"the frame could not be predicted: {problems}")
        return predictions[0]


@ANALYSERS.register("classify")
class SmoothedClass(PerFrame):
    """The class of each frame, its probabilities averaged over about ``smooth_frames`` frames (exponential moving
    average) so that one odd frame does not flip the label; a frame the run refers to a human is an event."""

    def __init__(self, run, options: WatchOptions, fps: float):
        super().__init__(run)
        self.alpha = 2.0 / (max(1, options.smooth_frames) + 1)
        self.smoothed: dict[str, float] = {}
        self.referred = 0

    def analyse(self, frame: Frame) -> FrameResult:
        image = Image.fromarray(frame.image_hwc)
        found = self.predict(image)
        self.smoothed = {k: (1 - self.alpha) * self.smoothed.get(k, v) + self.alpha * v for k, v in found.probabilities.items()}
        label = max(self.smoothed, key=self.smoothed.get)
        row = {"class": found.predicted, "confidence": round(found.confidence, 4), "smoothed_class": label,
               "smoothed_probability": round(self.smoothed[label], 4), "refer_to_human": found.refer_to_human}
        events = []
        if found.refer_to_human:
            self.referred += 1
            events.append({"event": "referred frame", "class": found.predicted, "reason": found.refer_reason})
        draw_text_lines(image, [f"{label} {self.smoothed[label]:.2f}" + ("  REFER" if found.refer_to_human else "")])
        return FrameResult(image, row, events)

    def summary(self) -> dict:
        return {"referred_frames": self.referred}


def _overlay(image: Image.Image, mask_hw: np.ndarray, colours: np.ndarray) -> Image.Image:
    """The image with each masked pixel's colour (colours: (K, 3) uint8 by mask value; 0 is left as it is) blended at 45 %."""
    mask = np.asarray(Image.fromarray(mask_hw.astype(np.uint8)).resize(image.size, Image.NEAREST))
    pixels = np.asarray(image, np.float32)
    tint = colours[mask].astype(np.float32)
    blended = np.where(mask[..., None] > 0, 0.55 * pixels + 0.45 * tint, pixels)
    return Image.fromarray(blended.astype(np.uint8))


@ANALYSERS.register("segment")
class SegmentOverlay(PerFrame):
    """Each frame's class mask drawn over it; the row gives each class's share of the frame."""

    def __init__(self, run, options: WatchOptions, fps: float):
        super().__init__(run)
        self.colours = np.asarray([(0, 0, 0)] + [colour(k) for k in range(1, 256)], np.uint8)

    def analyse(self, frame: Frame) -> FrameResult:
        found = self.predict(Image.fromarray(frame.image_hwc))
        picture = _overlay(Image.fromarray(frame.image_hwc), found.mask_hw, self.colours)
        shares = {k: round(v, 4) for k, v in found.class_fractions.items()}
        return FrameResult(picture, {"class_fractions": shares}, [])

    def summary(self) -> dict:
        return {}


@ANALYSERS.register("defects")
class DefectOverlay(PerFrame):
    """An inspection line: each frame's defect score, its defect mask in red, and an event for each defective frame."""

    def __init__(self, run, options: WatchOptions, fps: float):
        super().__init__(run)
        self.defective = 0

    def analyse(self, frame: Frame) -> FrameResult:
        found = self.predict(Image.fromarray(frame.image_hwc))
        picture = _overlay(Image.fromarray(frame.image_hwc), found.defect_mask_hw, np.asarray([(0, 0, 0), (255, 0, 0)], np.uint8))
        events = []
        if found.is_defect:
            self.defective += 1
            events.append({"event": "defect", "kind": found.kind, "score": round(found.score, 3)})
        draw_text_lines(picture, [f"defect {found.score:.1f}" if found.is_defect else f"good {found.score:.1f}"])
        return FrameResult(picture, {"score": round(found.score, 4), "is_defect": found.is_defect, "kind": found.kind}, events)

    def summary(self) -> dict:
        return {"defective_frames": self.defective}
