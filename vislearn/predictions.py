"""Typed predictions, one per readable image: the records ``vislearn.predict`` returns (see :mod:`vislearn.tasks.predictions`).

Plain immutable records with named fields, below every layer that makes or reads them; arrays carry their layout
in their names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class DefectPrediction(NamedTuple):
    """One image's defect verdict (defects)."""

    path: str
    score: float  # max(local_z, global_z), in standard deviations of good images
    is_defect: bool  # score above the run's threshold
    kind: str  # "local" or "global": which score is higher; "" when not a defect
    local_z: float
    global_z: float
    heatmap_hw: np.ndarray  # (H, W) float at the model's input resolution
    defect_mask_hw: np.ndarray  # (H, W) bool: heatmap above the threshold


class ClassPrediction(NamedTuple):
    """One image's calibrated class (classify); ``vislearn.run.Prediction`` is the same record under its older name."""

    path: str
    predicted: str
    confidence: float  # calibrated probability of ``predicted``
    refer_to_human: bool  # a human should look: see refer_reason
    probabilities: dict[str, float]
    refer_reason: str = ""  # "low confidence" | "ambiguous: a|b" | "unlike training images" | "" (decided)
    prediction_set: tuple[str, ...] | None = None  # conformal prediction set, when asked for
    unlike_score: float | None = None  # distance to the training images' features (larger: less like them)


@dataclass(frozen=True, eq=False)
class Detections:
    """One image's boxes, best first, in the file's own pixels.

    boxes_xyxy: (N, 4) float32 x0, y0, x1, y1; scores: (N,) float32; class_ids: (N,) int64 into ``class_names``
    image_wh: the file's (width, height)
    """

    path: str
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: tuple[str, ...]
    image_wh: tuple[int, int]

    @property
    def labels(self) -> list[str]:
        """(N,) class name of each box."""
        return [self.class_names[k] for k in self.class_ids.tolist()]


@dataclass(frozen=True, eq=False)
class SegmentationMask:
    """One image's predicted class per pixel.

    mask_hw: (H, W) uint8 index into ``class_names``, at the image's own size (0 is the background)
    class_fractions: share of the image's pixels given to each class
    """

    path: str
    mask_hw: np.ndarray
    class_fractions: dict[str, float]
    class_names: tuple[str, ...]


__all__ = ["ClassPrediction", "Detections", "SegmentationMask"]
