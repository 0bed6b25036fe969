"""A torch Dataset of (image, mask) pairs; unreadable images come back as a Problem and are dropped per batch."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader

from .coco_masks import rasterize
from .dataset import Batch, FileDataset, collate_with, data_loader
from .images import read_image
from .mask_transforms import as_tv
from .masks import MaskSample, read_mask_png


def read_sample_mask(sample: MaskSample) -> np.ndarray:
    """(H, W) uint8 class indices: the PNG as stored, or the COCO shapes drawn."""
    if sample.mask_path:
        return np.array(read_mask_png(sample.mask_path), dtype=np.uint8)  # a writable copy for torch
    return rasterize(sample.shapes, sample.size_wh)


def image_tensor(path: str) -> torch.Tensor:
    """(3, H, W) uint8 of an image file (ImageReadError when unreadable)."""
    return torch.from_numpy(np.array(read_image(path))).permute(2, 0, 1).contiguous()


def _load_masked(transform: Callable, sample: MaskSample) -> tuple:
    image = image_tensor(sample.path)
    image, mask = transform(*as_tv(image, torch.from_numpy(read_sample_mask(sample))))
    return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).long()


def MaskDataset(samples: Sequence[MaskSample], transform: Callable) -> FileDataset:
    """(image (3, S, S), mask (S, S) long, dataset index) per sample, transformed together."""
    return FileDataset(samples, partial(_load_masked, transform))


def collate_masks(items: list) -> Batch:
    """Batch with ``images`` (B, 3, S, S) and ``labels`` = masks (B, S, S) long."""
    return collate_with(items, torch.stack, torch.empty(0, 1, 1, dtype=torch.long))


def make_mask_loader(samples: Sequence[MaskSample], transform: Callable, batch_size: int, shuffle: bool, workers: int,
                     seed: int = 0) -> DataLoader:
    return data_loader(MaskDataset(samples, transform), collate_masks, batch_size, shuffle, workers, seed)
