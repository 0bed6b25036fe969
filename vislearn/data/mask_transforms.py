"""Image + mask transforms that keep the two aligned (torchvision v2 with ``tv_tensors.Mask``).

Geometry (flip, scale, rotate, crop) moves image and mask together, the mask resampled with NEAREST so
class indices never blend; colour jitter changes the image only. Pixels that come from outside the
image (rotation corners, padding) get mask value 255, which loss and metrics ignore.
Training sees crops at the images' own scale, so ``predict`` can tile large images at that scale.
"""
from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from ..registry import Registry
from .masks import IGNORE_INDEX

MASK_AUGMENTATIONS: Registry = Registry("segmentation augmentation")
FILL = {tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}


@MASK_AUGMENTATIONS.register("none")
def _none() -> list:
    return []


@MASK_AUGMENTATIONS.register("light")
def _light() -> list:
    """Scale 0.75-1.33x, rotate up to 15 degrees, shift; brightness/contrast/saturation on the image only."""
    return [T.RandomAffine(degrees=15, translate=(0.05, 0.05), scale=(0.75, 1.33), fill=FILL),
            T.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25)]


@MASK_AUGMENTATIONS.register("flip")
def _flip() -> list:
    """``light`` plus horizontal and vertical flips: for scenes with no up/down or left/right."""
    return _light() + [T.RandomHorizontalFlip(), T.RandomVerticalFlip()]


def _to_model_input(pre) -> list:
    return [T.ToDtype(torch.float32, scale=True), T.Normalize(pre.mean, pre.std)]


def to_model_input(pre) -> T.Compose:
    """The one normaliser of training, validation and prediction: (3, H, W) uint8 -> float32 (x / 255 - mean) / std."""
    return T.Compose(_to_model_input(pre))


def as_tv(image_chw_uint8: torch.Tensor, mask_hw: torch.Tensor) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    return tv_tensors.Image(image_chw_uint8), tv_tensors.Mask(mask_hw)


class CropLarge:
    """A random window of at most ``limit`` x ``limit`` from a larger image and its mask, so rotating and
    scaling a 12-megapixel photo costs no more than its neighbourhood of the final crop."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, image, mask):
        h, w = image.shape[-2:]
        if h <= self.limit and w <= self.limit:
            return image, mask
        ch, cw = min(h, self.limit), min(w, self.limit)
        top, left = int(torch.randint(0, h - ch + 1, ())), int(torch.randint(0, w - cw + 1, ()))
        return TF.crop(image, top, left, ch, cw), TF.crop(mask, top, left, ch, cw)


def train_pair_transform(pre, augment: str = "light") -> T.Compose:
    """(image (3, H, W) uint8, mask (H, W)) -> (normalised (3, S, S) float, mask (S, S)) with random geometry."""
    crop = T.RandomCrop(pre.image_size, pad_if_needed=True, fill=FILL)
    return T.Compose([CropLarge(2 * pre.image_size)] + MASK_AUGMENTATIONS.get(augment)() + [crop] + _to_model_input(pre))


def center_crop_padded(image, mask, size: int):
    """Pad (image 0, mask 255) to at least ``size`` on each side, then take the centre ``size`` x ``size``."""
    h, w = image.shape[-2:]
    pad_w, pad_h = max(0, size - w), max(0, size - h)
    if pad_w or pad_h:
        padding = [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2]
        image, mask = TF.pad(image, padding, fill=0), TF.pad(mask, padding, fill=IGNORE_INDEX)
    return TF.center_crop(image, [size, size]), TF.center_crop(mask, [size, size])


class CentreTile:
    """Validation during training: the centre tile at the images' own scale (whole images are scored after training).

    A class, not a closure, so loader worker processes can pickle it on every platform.
    """

    def __init__(self, pre):
        self.size = pre.image_size
        self.to_input = to_model_input(pre)

    def __call__(self, image, mask):
        image, mask = center_crop_padded(image, mask, self.size)
        return self.to_input(image), mask


def eval_pair_transform(pre) -> CentreTile:
    return CentreTile(pre)
