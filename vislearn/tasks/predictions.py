"""Every task's typed prediction in one place: what ``vislearn.predict(run, images)`` returns, one per readable image.

classify: :class:`ClassPrediction`; defects: :class:`DefectPrediction`; detect: :class:`Detections`; segment: :class:`SegmentationMask`.
"""
from __future__ import annotations

from ..predictions import ClassPrediction, DefectPrediction, Detections, SegmentationMask

__all__ = ["ClassPrediction", "DefectPrediction", "Detections", "SegmentationMask"]
