"""A torch Dataset of (image, mask) pairs; unreadable images come back as a Problem and are dropped per batch."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ImageReadError
from .coco_masks import rasterize
from .dataset import Batch
from .images import read_image
from .layouts import Problem
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


class MaskDataset(Dataset):
    def __init__(self, samples: Sequence[MaskSample], transform: Callable):
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            image = image_tensor(sample.path)
        except ImageReadError as err:
            return Problem(err.path, err.reason)
        image, mask = self.transform(*as_tv(image, torch.from_numpy(read_sample_mask(sample))))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).long(), index


def collate_masks(items: list) -> Batch:
    """Batch with ``images`` (B, 3, S, S) and ``labels`` = masks (B, S, S) long."""
    good = [it for it in items if not isinstance(it, Problem)]
    failed = [it for it in items if isinstance(it, Problem)]
    if not good:
        return Batch(torch.empty(0, 3, 1, 1), torch.empty(0, 1, 1, dtype=torch.long), torch.empty(0, dtype=torch.long), failed)
    images, masks, indices = zip(*good)
    return Batch(torch.stack(images), torch.stack(masks), torch.tensor(indices), failed)


def make_mask_loader(samples: Sequence[MaskSample], transform: Callable, batch_size: int, shuffle: bool, workers: int,
                     seed: int = 0) -> DataLoader:
    return DataLoader(MaskDataset(samples, transform), batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                      collate_fn=collate_masks, generator=torch.Generator().manual_seed(seed),
                      pin_memory=torch.cuda.is_available())
