"""Helpers shared by the explain tests (a uniquely named module: tests/ folders are not packages)."""
from __future__ import annotations

import torch
from torch import nn

from vislearn.models import create_model

CAT_CLASS = 285  # ImageNet "Egyptian cat"


def calibrated(name: str, seed: int = 0, in_chans: int = 3, image_px: int = 32) -> nn.Module:
    """A seeded tiny model whose BatchNorm statistics come from 3 random batches (random init alone
    gives near-constant logits), in eval mode."""
    torch.manual_seed(seed)
    model = create_model(name, 10, weights=None, in_chans=in_chans)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, in_chans, image_px, image_px))
    return model.eval()


def hooks_left(model: nn.Module) -> list[str]:
    """Names of modules that still hold any forward/backward (pre-)hook."""
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return [name for name, module in model.named_modules() if any(getattr(module, kind) for kind in kinds)]
