"""Every task's typed prediction in one place: what ``vislearn.predict(run, images)`` returns, one per readable image.

classify: :class:`ClassPrediction`; defects: :class:`DefectPrediction` (its task's record, under the name every
task uses); detect: :class:`Detections`; segment: :class:`SegmentationMask`.
"""
from __future__ import annotations

from ..predictions import ClassPrediction, Detections, SegmentationMask
from .defects.train import DefectPrediction

__all__ = ["ClassPrediction", "DefectPrediction", "Detections", "SegmentationMask"]
