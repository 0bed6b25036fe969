"""Grad-CAM (Selvaraju et al. 2017): where in a feature map the evidence for a target lies.

weights_c = mean over (h, w) of d score / d A_c;  cam = ReLU(sum_c weights_c * A_c),
upsampled bilinearly to the input size and scaled to [0, 1] per image.

One Grad-CAM for every task, driven by *targets* as in pytorch-grad-cam's ``model_targets``: a target maps one image's
model output to the scalar score whose evidence is shown. Classification explains a class logit
(:class:`ClassLogit`), segmentation a class's mean logit over its region (:class:`RegionMeanLogit`), detection one
box's score (:class:`BoxScore`). The :class:`GradCAM` session runs the model once and answers any number of targets:

    with GradCAM(model, "blocks.6") as cam:
        logits_bk = cam.forward(images_bchw)
        heat_bhw = cam([ClassLogit(3), ClassLogit(7)], images_bchw.shape[-2:])
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .common import Targets, as_model_input, evaluating, normalize_per_image, resolve_targets
from .hooks import capture
from .methods import EXPLAINERS

# one image's model output (a row of the forward's answer) -> the scalar score to explain
Target = Callable[[Any], torch.Tensor]


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


@dataclass(frozen=True)
class ClassLogit:
    """A classifier's logit of one class: (K,) logits -> scalar."""

    class_index: int

    def __call__(self, logits_k: torch.Tensor) -> torch.Tensor:
        return logits_k[self.class_index]


@dataclass(frozen=True)
class RegionMeanLogit:
    """A segmenter's mean logit of one class over the pixels it gives that class (over every pixel when it gives
    the class none): (K, H, W) logits -> scalar, so the map answers "why these pixels are this class"."""

    class_index: int

    def __call__(self, logits_khw: torch.Tensor) -> torch.Tensor:
        region_hw = (logits_khw.argmax(0) == self.class_index).float().detach()
        area = region_hw.sum()
        if area > 0:
            return (logits_khw[self.class_index] * region_hw).sum() / area
        return logits_khw[self.class_index].mean()


@dataclass(frozen=True)
class BoxScore:
    """A detector's score of one of its detections: (detections, scores (N,) still attached to the graph) -> scalar."""

    box_index: int

    def __call__(self, detections_and_scores: tuple[Any, torch.Tensor]) -> torch.Tensor:
        return detections_and_scores[1][self.box_index]


def call_model(model: nn.Module, inputs_bchw: torch.Tensor):
    """The plain forward: its answer's rows are the images' outputs."""
    return model(inputs_bchw)


class GradCAM:
    """A Grad-CAM session on one layer of ``model``: one forward, then a heatmap per list of targets.

    ``forward(model, inputs_bchw)`` returns one output per image (a tensor's rows, or a list); default ``model(x)``.
    Inside the ``with`` block the model is in eval mode with gradients on (also under ``torch.no_grad()``); the hook
    is removed and the model's modes restored when it ends. No parameter ``.grad`` is written.
    """

    def __init__(self, model: nn.Module, layer: str | None = None, forward: Callable[[nn.Module, torch.Tensor], Any] = call_model):
        self.model, self.layer, self._forward = model, layer or default_layer(model), forward
        self.outputs, self.activations = None, None

    def __enter__(self) -> GradCAM:
        self._scope = ExitStack()
        self._scope.enter_context(evaluating(self.model))
        self._seen = self._scope.enter_context(capture(self.model, [self.layer]))
        return self

    def __exit__(self, *exc) -> None:
        self.outputs = self.activations = None  # the graph goes with them
        self._scope.close()

    def forward(self, inputs_bchw: torch.Tensor):
        """Run the model once; returns its outputs (one per image) for choosing targets."""
        self.outputs = self._forward(self.model, inputs_bchw)
        self.activations = self._seen.activations[self.layer]
        return self.outputs

    def __call__(self, targets: Sequence[Target], size_hw: Sequence[int]) -> torch.Tensor:
        """(B, H, W) in [0, 1]: image b's map for ``targets[b]``, upsampled to ``size_hw``; one target per image."""
        if len(targets) != len(self.outputs):
            raise ValueError(f"got {len(targets)} targets for {len(self.outputs)} images; give one per image")
        score = sum(target(output) for target, output in zip(targets, self.outputs))
        gradients = torch.autograd.grad(score, self.activations, retain_graph=True)[0]
        cam = class_activation_map(self.activations.detach(), gradients)
        cam = F.interpolate(cam[:, None], size=tuple(size_hw), mode="bilinear", align_corners=False)[:, 0]
        return normalize_per_image(cam)


@EXPLAINERS.register("gradcam")
def gradcam(model: nn.Module, images_bchw: torch.Tensor, target_classes: Targets = None, layer: str | None = None) -> torch.Tensor:
    """Grad-CAM heatmaps (B, H, W) in [0, 1] at the input resolution of ``images_bchw`` (B, C, H, W).

    ``target_classes``: None (predicted class), one int, or one per image. ``layer``: module name
    whose output is explained, default the last ``feature_info`` module. The model's train/eval
    modes and ``requires_grad`` flags are the same afterwards; no parameter ``.grad`` is written.
    """
    with GradCAM(model, layer) as cam:
        logits = cam.forward(as_model_input(model, images_bchw))
        classes = resolve_targets(logits, target_classes)
        return cam([ClassLogit(k) for k in classes.tolist()], images_bchw.shape[-2:])
