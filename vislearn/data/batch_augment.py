"""The augmentations of :mod:`vislearn.data.transforms`, drawn per image but applied to a whole batch at once in torch.

The per-image path runs Pillow/torchvision on every picture (``RandomResizedCrop`` -> ``RandomAffine`` ->
``ColorJitter`` -> ``RandomHorizontalFlip``). Here the same random choices, with the same ranges, are drawn for each
image of a batch and applied together: the crop, rotation, shift and flip make one affine map per image
(``F.affine_grid`` + ``F.grid_sample``, bilinear; what rotation and shift bring in is black, as ``RandomAffine``
fills it), then
brightness and contrast scale the pixels. At 28-64 px this costs a few microseconds an image instead of a few hundred.

One difference: the crop samples the picture already resized to the input size (the per-image path crops the
kept picture and resizes the crop), so crops of large photos are a little softer; small images are the same.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..registry import Registry

BATCH_AUGMENTATIONS: Registry = Registry("batched augmentation")


@dataclass(frozen=True)
class BatchAugment:
    """Ranges of the random changes, as in transforms.py: crop area share and aspect ratio (RandomResizedCrop),
    rotation in degrees and shift as a share of the side (RandomAffine), brightness and contrast (ColorJitter),
    horizontal flips with probability 0.5."""

    crop_scale: tuple[float, float] = (1.0, 1.0)
    crop_ratio: tuple[float, float] = (1.0, 1.0)
    degrees: float = 0.0
    translate: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    flip: bool = False


BATCH_AUGMENTATIONS.register("none")(BatchAugment())
BATCH_AUGMENTATIONS.register("light")(BatchAugment((0.75, 1.0), (0.9, 1.1), 10.0, 0.05, 0.2, 0.2))
BATCH_AUGMENTATIONS.register("flip")(BatchAugment((0.75, 1.0), (0.9, 1.1), 10.0, 0.05, 0.2, 0.2, flip=True))
BATCH_AUGMENTATIONS.register("mirror")(BatchAugment(flip=True))


def _uniform(low: float, high: float, n: int, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def affine_maps(aug: BatchAugment, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (n, 2, 3) maps from output coordinates (in [-1, 1]): to the picture (flip, then shift and rotation, then
    crop) and to the crop alone (flip, shift and rotation), whose outside is black as ``RandomAffine`` leaves it."""
    area = _uniform(*aug.crop_scale, n, generator)
    log_ratio = _uniform(math.log(aug.crop_ratio[0]), math.log(aug.crop_ratio[1]), n, generator)
    crop_w = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)
    crop_h = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
    centre_x = (1 - crop_w) * _uniform(-1, 1, n, generator)
    centre_y = (1 - crop_h) * _uniform(-1, 1, n, generator)
    angle = torch.deg2rad(_uniform(-aug.degrees, aug.degrees, n, generator))
    shift_x, shift_y = (2 * aug.translate * _uniform(-1, 1, n, generator) for _ in range(2))
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if aug.flip else torch.ones(n)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # in the crop: rotate(flip * out - shift); in the picture: centre + crop size * that
    rotate = torch.stack([cos * flip, -sin, sin * flip, cos], 1).view(n, 2, 2)
    shift = -torch.stack([cos * shift_x - sin * shift_y, sin * shift_x + cos * shift_y], 1)
    in_crop = torch.cat([rotate, shift.unsqueeze(2)], 2)
    scale = torch.stack([crop_w, crop_h], 1).unsqueeze(2)
    in_picture = scale * in_crop + torch.cat([torch.zeros(n, 2, 2), torch.stack([centre_x, centre_y], 1).unsqueeze(2)], 2)
    return in_picture, in_crop


def _jitter(images: torch.Tensor, aug: BatchAugment, generator: torch.Generator) -> torch.Tensor:
    n = images.shape[0]
    if aug.brightness:
        images = (images * _uniform(1 - aug.brightness, 1 + aug.brightness, n, generator).view(n, 1, 1, 1)).clamp_(0, 1)
    if aug.contrast:
        factor = _uniform(1 - aug.contrast, 1 + aug.contrast, n, generator).view(n, 1, 1, 1)
        grey = (images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        images = (factor * images + (1 - factor) * grey.mean((2, 3), keepdim=True)).clamp_(0, 1)
    return images


def _sample(images: torch.Tensor, maps: torch.Tensor, outside: str) -> torch.Tensor:
    grid = F.affine_grid(maps, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=outside, align_corners=False)


def augment_batch(images_u8: torch.Tensor, aug: BatchAugment, generator: torch.Generator) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> (B, 3, H, W) float32 in [0, 1], each image with its own random draw from ``generator``."""
    images = images_u8.float().div_(255)
    if aug != BatchAugment():
        in_picture, in_crop = affine_maps(aug, images.shape[0], generator)
        images = _sample(images, in_picture, "border")
        if aug.degrees or aug.translate:  # what rotation and shift bring in from outside the crop is black
            images = images * _sample(torch.ones(images.shape[0], 1, *images.shape[2:]), in_crop, "zeros")
        images = _jitter(images, aug, generator)
    return images


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> the model's input, as ``T.Normalize(mean, std)``."""
    return (images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
