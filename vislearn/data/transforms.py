"""Image -> tensor transforms built from the model's :class:`Preprocessing` (never guessed at predict)."""
from __future__ import annotations

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2 as T

from ..registry import Registry

AUGMENTATIONS: Registry = Registry("augmentation")


def _interp(name: str) -> InterpolationMode:
    return InterpolationMode.BICUBIC if name == "bicubic" else InterpolationMode.BILINEAR


def _to_tensor(pre) -> list:
    return [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(pre.mean, pre.std)]


@AUGMENTATIONS.register("none")
def _none(pre) -> list:
    return [T.Resize((pre.image_size, pre.image_size), interpolation=_interp(pre.interpolation), antialias=True)]


@AUGMENTATIONS.register("light")
def _light(pre) -> list:
    """Small crops, shifts, rotations and colour changes: safe for digits and text (no flips)."""
    return [
        T.RandomResizedCrop(pre.image_size, scale=(0.75, 1.0), ratio=(0.9, 1.1), interpolation=_interp(pre.interpolation), antialias=True),
        T.RandomAffine(degrees=10, translate=(0.05, 0.05)),
        T.ColorJitter(brightness=0.2, contrast=0.2),
    ]


@AUGMENTATIONS.register("flip")
def _flip(pre) -> list:
    """``light`` plus horizontal flips: for photos whose classes do not depend on left/right."""
    return _light(pre) + [T.RandomHorizontalFlip()]


@AUGMENTATIONS.register("mirror")
def _mirror(pre) -> list:
    """Horizontal flips alone: for small images of left/right-symmetric classes in short runs (clothes, products)."""
    return _none(pre) + [T.RandomHorizontalFlip()]


def train_transform(pre, augment: str = "light") -> T.Compose:
    return T.Compose(AUGMENTATIONS.get(augment)(pre) + _to_tensor(pre))


def eval_transform(pre) -> T.Compose:
    return T.Compose(_none(pre) + _to_tensor(pre))


def denormalize(image_chw: torch.Tensor, pre) -> torch.Tensor:
    """Undo ``Normalize``: (3, H, W) model input -> (3, H, W) in [0, 1] for display."""
    mean = torch.tensor(pre.mean).view(3, 1, 1)
    std = torch.tensor(pre.std).view(3, 1, 1)
    return (image_chw.cpu() * std + mean).clamp(0, 1)
