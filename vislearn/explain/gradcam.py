"""Grad-CAM (Selvaraju et al. 2017): where in a feature map the evidence for a class lies.

weights_c = mean over (h, w) of d score / d A_c;  cam = ReLU(sum_c weights_c * A_c),
upsampled bilinearly to the input size and scaled to [0, 1] per image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import Targets, as_model_input, evaluating, normalize_per_image, resolve_targets
from .hooks import capture
from .methods import EXPLAINERS


def default_layer(model: nn.Module) -> str:
    """The deepest feature map the backbone reports (last ``feature_info`` module)."""
    info = getattr(model, "feature_info", None)
    if not info:
        raise ValueError(f"{type(model).__name__} has no feature_info; pass layer= with a module name from model.named_modules()")
    return info[-1]["module"]


def class_activation_map(activations_bchw: torch.Tensor, gradients_bchw: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) activations and their gradients -> (B, h, w) Grad-CAM before upsampling."""
    channel_weights = gradients_bchw.mean(dim=(2, 3), keepdim=True)
    return F.relu((channel_weights * activations_bchw).sum(dim=1))


@EXPLAINERS.register("gradcam")
def gradcam(model: nn.Module, images_bchw: torch.Tensor, target_classes: Targets = None, layer: str | None = None) -> torch.Tensor:
    """Grad-CAM heatmaps (B, H, W) in [0, 1] at the input resolution of ``images_bchw`` (B, C, H, W).

    ``target_classes``: None (predicted class), one int, or one per image. ``layer``: module name
    whose output is explained, default the last ``feature_info`` module. The model's train/eval
    modes and ``requires_grad`` flags are the same afterwards; no parameter ``.grad`` is written.
    """
    layer = layer or default_layer(model)
    with evaluating(model):
        inputs = as_model_input(model, images_bchw)
        with capture(model, [layer]) as seen:
            logits = model(inputs)
        targets = resolve_targets(logits, target_classes)
        activations = seen.activations[layer]
        score = logits.gather(1, targets.view(-1, 1)).sum()
        gradients = torch.autograd.grad(score, activations)[0]
    cam = class_activation_map(activations.detach(), gradients)
    cam = F.interpolate(cam[:, None], size=images_bchw.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return normalize_per_image(cam)
