"""Fitting that is not gradient descent (memory banks, coresets, thresholds), and the defect methods by name.

A method answers ``fit(batches, log, **context)``, ``describe(images (B, 3, H, W), leave_out) ->
Description(local_map_bhw, pooled_bd)``, ``add_good(batches, fitted_images) -> log lines`` (more good images
without a refit), ``tensors()`` and ``load(tensors)``; ``needs_pretrained``
says whether it wants a pretrained backbone. A method with a learned student also answers
``teach_student(StudentLessons) -> log lines`` (a short fine-tune on added good images).
"""
from ..registry import Registry
from .detector import Calibration, DefectScores, Detector
from .distill import RandomDistill
from .ensemble import PatchCoreDistill
from .patchcore import PatchCore

METHODS: Registry = Registry("defect method")
METHODS.register("patchcore")(PatchCore)
METHODS.register("random-distill")(RandomDistill)
METHODS.register("patchcore+distill")(PatchCoreDistill)

__all__ = ["METHODS", "Calibration", "DefectScores", "Detector", "PatchCore", "PatchCoreDistill", "RandomDistill"]
