"""Epochs served from one uint8 tensor of every picture at the input size, batched and augmented in torch.

When the image cache holds the training images (:mod:`vislearn.data.image_cache`), each picture is resized once to the
model's input size (``Resize`` as the evaluation transform does it) into an ``(N, 3, S, S)`` uint8 tensor; an epoch is
then a shuffled walk over it: index, augment the whole batch (:mod:`vislearn.data.batch_augment`), normalise. No
per-image Pillow work and no loader processes. :func:`choose` says whether this path is taken and why.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .batch_augment import BATCH_AUGMENTATIONS, BatchAugment, augment_batch, normalize
from .dataset import Batch
from .image_cache import DecodedImages
from .layouts import Problem, Sample


@dataclass(frozen=True)
class TensorBatchDecision:
    """use: whether the epochs are batched from one tensor; reason: why, in words (logged and in data_summary.json)."""

    use: bool
    reason: str


def choose(mode: str, cache_used: bool, augment: str, processes: int) -> TensorBatchDecision:
    """Batch from tensors when the cache holds the images, the augmentation has a batched form and one process trains."""
    if mode == "off":
        return TensorBatchDecision(False, "augmentation per image through Pillow (--tensor-batches off)")
    if not cache_used:
        return TensorBatchDecision(False, "augmentation per image through Pillow: the images are not in the image cache")
    if augment not in BATCH_AUGMENTATIONS:
        return TensorBatchDecision(False, f"augmentation per image through Pillow: {augment!r} has no batched form")
    if processes > 1:
        return TensorBatchDecision(False, "augmentation per image through Pillow: several processes share the data (torchrun)")
    return TensorBatchDecision(True, f"batches built and augmented ({augment!r}) in torch from one uint8 tensor of the cached "
                                     "images at the input size: no per-image Pillow work, no loader processes")


def _resize_to(picture: Image.Image, side: int, interpolation: int) -> np.ndarray:
    if picture.size != (side, side):
        picture = picture.resize((side, side), interpolation, reducing_gap=None)
    return np.asarray(picture, dtype=np.uint8)


def stack_at_size(cache: DecodedImages, side: int, bicubic: bool = False) -> tuple[torch.Tensor, list[int]]:
    """((M, 3, side, side) uint8 of the readable pictures, their M indices into the cache)."""
    readable = [i for i in range(len(cache)) if i not in cache.problems]
    if readable and (cache.shapes[readable] == side).all() and not cache.problems:
        pixels = cache.buffer.reshape(len(readable), side, side, 3)  # all at the input size already: no copy
    else:
        mode = Image.BICUBIC if bicubic else Image.BILINEAR
        pixels = np.stack([_resize_to(cache.image(i), side, mode) for i in readable]) if readable \
            else np.zeros((0, side, side, 3), np.uint8)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), readable


class TensorBatches:
    """An epoch's :class:`Batch` es from ``images_u8`` (M, 3, S, S): shuffled by ``generator`` (seeded per epoch by the
    engine's ``seed_epoch``), augmented by ``augment`` (None: evaluation), normalised by ``mean``/``std``. The unreadable
    files are reported in the first batch of every epoch, as the per-image loader reports them."""

    def __init__(self, images_u8: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor, problems: list[Problem],
                 batch_size: int, shuffle: bool, augment: BatchAugment | None, mean, std, seed: int = 0):
        self.images_u8, self.labels, self.indices, self.problems = images_u8, labels, indices, problems
        self.batch_size, self.shuffle, self.augment, self.mean, self.std = batch_size, shuffle, augment, mean, std
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, max(n, 1), self.batch_size):
            rows = order[start:start + self.batch_size]
            images = self.images_u8[rows]
            images = augment_batch(images, self.augment, self.generator) if self.augment else images.float().div_(255)
            yield Batch(normalize(images, self.mean, self.std), self.labels[rows], self.indices[rows],
                        list(self.problems) if start == 0 else [])


def tensor_loader(samples: Sequence[Sample], cache: DecodedImages, pre, batch_size: int, shuffle: bool,
                  augment: str | None, seed: int = 0) -> TensorBatches:
    """The epochs over ``samples`` (decoded in ``cache``) at ``pre.image_size``; ``augment`` a name of
    BATCH_AUGMENTATIONS, or None for evaluation batches (resize and normalise only)."""
    images_u8, readable = stack_at_size(cache, pre.image_size, pre.interpolation == "bicubic")
    labels = torch.tensor([samples[i].label for i in readable], dtype=torch.long)
    problems = [cache.problems[i] for i in sorted(cache.problems)]
    return TensorBatches(images_u8, labels, torch.tensor(readable, dtype=torch.long), problems, batch_size, shuffle,
                         BATCH_AUGMENTATIONS.get(augment) if augment else None, pre.mean, pre.std, seed)
