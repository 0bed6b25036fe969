"""Attribution methods by name: each maps ``(model, images_bchw, target_classes=None)`` to (B, H, W) in [0, 1]."""
from __future__ import annotations

import torch
from torch import nn

from ..registry import Registry
from .common import Targets

EXPLAINERS: Registry = Registry("explainer")


def explain(model: nn.Module, images_bchw: torch.Tensor, method: str = "gradcam", target_classes: Targets = None) -> torch.Tensor:
    """Heatmaps (B, H, W) in [0, 1] at the input resolution saying where ``method`` sees the evidence.

    ``images_bchw``: normalised model input (B, C, H, W). ``target_classes``: None (the predicted
    class), one int for all images, or one per image. ``method``: see ``EXPLAINERS.names()``.
    """
    return EXPLAINERS.get(method)(model, images_bchw, target_classes)
