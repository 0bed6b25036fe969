"""What every attribution method shares: eval mode for the duration, target classes, [0, 1] scaling."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

Targets = int | Sequence[int] | torch.Tensor | None


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (no dropout, BatchNorm running stats untouched) inside; the caller's mode after.

    Parameters' ``requires_grad`` are never touched: methods differentiate with ``torch.autograd.grad``
    towards activations or inputs, so no parameter ``.grad`` is written either. Gradients are
    switched on even when the caller is inside ``torch.no_grad()`` or ``torch.inference_mode()``.
    """
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield model
    finally:
        for module, training in modes.items():
            module.train(training)


def model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def as_model_input(model: nn.Module, images_bchw: torch.Tensor) -> torch.Tensor:
    """A fresh (B, C, H, W) leaf with the model's device and dtype that autograd may differentiate."""
    if images_bchw.ndim != 4:
        raise ValueError(f"expected images as (B, C, H, W), got shape {tuple(images_bchw.shape)}; add a batch dimension with image[None]")
    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    return images_bchw.detach().clone().to(model_device(model), dtype).requires_grad_(True)


def resolve_targets(logits_bk: torch.Tensor, target_classes: Targets) -> torch.Tensor:
    """(B,) long class indices: those given (one int applies to every image) or the argmax of (B, K) logits."""
    batch = logits_bk.shape[0]
    if target_classes is None:
        return logits_bk.detach().argmax(dim=1)
    targets = torch.as_tensor(target_classes, dtype=torch.long, device=logits_bk.device).flatten()
    if targets.numel() == 1:
        targets = targets.expand(batch)
    if targets.numel() != batch:
        raise ValueError(f"got {targets.numel()} target classes for {batch} images; give one per image or a single int")
    classes = logits_bk.shape[1]
    if targets.min() < 0 or targets.max() >= classes:
        raise ValueError(f"target classes {targets.tolist()} outside 0..{classes - 1}, the model's class indices")
    return targets


def normalize_per_image(maps_bhw: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max scale each (H, W) map of a (B, H, W) batch to [0, 1]; a constant map becomes all zeros."""
    flat = maps_bhw.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1)
    span = (flat.max(dim=1).values.view(-1, 1, 1) - low).clamp_min(eps)
    return (maps_bhw - low) / span
