"""A torch Dataset over labelled samples that skips unreadable files and reports them per batch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ImageReadError
from .images import read_image
from .layouts import Problem, Sample


@dataclass
class Batch:
    """``images`` (B, 3, H, W) float, ``labels`` the task's targets (classes (B,) long; masks (B, H, W);
    one dict of boxes per image), ``indices`` (B,) into the dataset."""

    images: torch.Tensor
    labels: Any
    indices: torch.Tensor
    failed: list[Problem]

    def __len__(self) -> int:
        return len(self.labels)


class ImageDataset(Dataset):
    def __init__(self, samples: Sequence[Sample], transform: Callable):
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            image = read_image(sample.path)
        except ImageReadError as err:
            return Problem(err.path, err.reason)
        return self.transform(image), sample.label, index


def collate(items: list) -> Batch:
    good = [it for it in items if not isinstance(it, Problem)]
    failed = [it for it in items if isinstance(it, Problem)]
    if not good:
        return Batch(torch.empty(0, 3, 1, 1), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long), failed)
    images, labels, indices = zip(*good)
    return Batch(torch.stack(images), torch.tensor(labels), torch.tensor(indices), failed)


def make_loader(
    samples: Sequence[Sample], transform: Callable, batch_size: int, shuffle: bool, workers: int, seed: int = 0
) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        ImageDataset(samples, transform), batch_size=batch_size, shuffle=shuffle, num_workers=workers,
        collate_fn=collate, generator=generator, persistent_workers=False, pin_memory=torch.cuda.is_available(),
    )
