"""Torch Datasets over image files that skip unreadable files and report them per batch; one loader for every task."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

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


class FileDataset(Dataset):
    """Item ``i`` is ``(*load(records[i]), i)``; a file that cannot be read becomes a ``Problem`` instead,
    which the collate function drops from the batch and reports, so the run goes on."""

    def __init__(self, records: Sequence, load: Callable[[Any], tuple]):
        self.records = list(records)
        self.load = load  # module-level function or partial: loader workers may need to pickle it

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        try:
            return (*self.load(self.records[index]), index)
        except ImageReadError as err:
            return Problem(err.path, err.reason)


def _load_labelled(transform: Callable, sample: Sample) -> tuple:
    return transform(read_image(sample.path)), sample.label


def ImageDataset(samples: Sequence[Sample], transform: Callable) -> FileDataset:
    """(image (3, H, W), class index, dataset index) per labelled sample."""
    return FileDataset(samples, partial(_load_labelled, transform))


def split_problems(items: list) -> tuple[list, list[Problem]]:
    """(readable items, problems) of a batch's items."""
    return [it for it in items if not isinstance(it, Problem)], [it for it in items if isinstance(it, Problem)]


def collate_with(items: list, stack_targets: Callable[[list], Any], empty_targets: Any) -> Batch:
    """A Batch of the readable items (images stacked, targets by ``stack_targets``) and the problems."""
    good, failed = split_problems(items)
    if not good:
        return Batch(torch.empty(0, 3, 1, 1), empty_targets, torch.empty(0, dtype=torch.long), failed)
    images, targets, indices = zip(*good)
    return Batch(torch.stack(images), stack_targets(targets), torch.tensor(indices), failed)


def collate(items: list) -> Batch:
    return collate_with(items, torch.tensor, torch.empty(0, dtype=torch.long))


def data_loader(dataset: Dataset, collate_fn: Callable, batch_size: int, shuffle: bool, workers: int, seed: int = 0) -> DataLoader:
    """The DataLoader every task uses: seeded shuffling (resume replays it), pinned memory on GPUs.

    When this process trains together with others (torchrun), the loader deals each process its own share
    (DistributedSampler): shuffled, of one permutation per epoch drawn from ``seed`` + epoch (the engine's
    seed_epoch calls set_epoch), so one step of all processes together sees one block of it; unshuffled
    (validation), in order. Shares are made equal by repeating up to (processes - 1) images.
    """
    distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    order = ({"sampler": DistributedSampler(dataset, shuffle=shuffle, seed=seed)} if distributed
             else {"shuffle": shuffle, "generator": torch.Generator().manual_seed(seed)})
    return DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_fn, persistent_workers=False,
                      pin_memory=torch.cuda.is_available(), **order)


def make_loader(samples: Sequence[Sample], transform: Callable, batch_size: int, shuffle: bool, workers: int, seed: int = 0) -> DataLoader:
    return data_loader(ImageDataset(samples, transform), collate, batch_size, shuffle, workers, seed)
