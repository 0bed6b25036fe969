"""Integrated Gradients (Sundararajan et al. 2017): attribution = (x - x0) * mean gradient on the path x0 -> x.

Completeness: the signed attributions of an image sum to score(x) - score(x0), up to the error
of the midpoint rule over ``steps`` points; that is what the tests check.
"""
from __future__ import annotations

import torch
from torch import nn

from ..registry import Registry
from .common import Targets, as_model_input, evaluating, normalize_per_image, resolve_targets
from .methods import EXPLAINERS

BASELINES: Registry = Registry("integrated-gradients baseline")


@BASELINES.register("zero")
def zero_baseline(model: nn.Module, images_bchw: torch.Tensor) -> torch.Tensor:
    """All zeros in normalised space: the dataset-mean image."""
    return torch.zeros_like(images_bchw)


@BASELINES.register("black")
def black_baseline(model: nn.Module, images_bchw: torch.Tensor) -> torch.Tensor:
    """Pixel value 0 pushed through the model's normalisation: (0 - mean) / std per channel."""
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    mean = torch.as_tensor(cfg.get("mean", (0.0,) * images_bchw.shape[1]), dtype=images_bchw.dtype, device=images_bchw.device)
    std = torch.as_tensor(cfg.get("std", (1.0,) * images_bchw.shape[1]), dtype=images_bchw.dtype, device=images_bchw.device)
    return (-mean / std).view(1, -1, 1, 1).expand_as(images_bchw).clone()


def _mean_path_gradient(model: nn.Module, image_chw: torch.Tensor, baseline_chw: torch.Tensor, target: int,
                        alphas: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """(C, H, W) mean of d score[target] / d input over the points baseline + alpha * (image - baseline)."""
    total = torch.zeros_like(image_chw)
    for chunk in alphas.split(chunk_size):
        path = (baseline_chw + chunk.view(-1, 1, 1, 1) * (image_chw - baseline_chw)).requires_grad_(True)
        score = model(path)[:, target].sum()
        total += torch.autograd.grad(score, path)[0].sum(dim=0)
    return total / alphas.numel()


def integrated_gradients_signed(model: nn.Module, images_bchw: torch.Tensor, target_classes: Targets = None,
                                steps: int = 32, baseline: str = "zero", chunk_size: int = 64) -> torch.Tensor:
    """Signed attributions (B, C, H, W), same layout as ``images_bchw``; each image's sum ~ score(x) - score(x0).

    ``steps`` midpoint-rule points on the path, run through the model ``chunk_size`` at a time.
    ``baseline``: a name in ``BASELINES`` ("zero" or "black").
    """
    with evaluating(model):
        inputs = as_model_input(model, images_bchw).detach()
        baselines = BASELINES.get(baseline)(model, inputs)
        with torch.no_grad():
            targets = resolve_targets(model(inputs), target_classes)
        alphas = (torch.arange(steps, device=inputs.device, dtype=inputs.dtype) + 0.5) / steps
        mean_gradients = torch.stack([
            _mean_path_gradient(model, image, base, int(target), alphas, chunk_size)
            for image, base, target in zip(inputs, baselines, targets)
        ])
    return (inputs - baselines) * mean_gradients


@EXPLAINERS.register("integrated_gradients")
def integrated_gradients(model: nn.Module, images_bchw: torch.Tensor, target_classes: Targets = None,
                         steps: int = 32, baseline: str = "zero") -> torch.Tensor:
    """Heatmaps (B, H, W) in [0, 1]: |attribution| summed over channels, scaled per image."""
    signed = integrated_gradients_signed(model, images_bchw, target_classes, steps=steps, baseline=baseline)
    return normalize_per_image(signed.abs().sum(dim=1))
