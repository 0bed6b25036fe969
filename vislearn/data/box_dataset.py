"""Batches of images with their boxes; unreadable files become problems the run reports and goes on without."""
from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ImageReadError
from .boxes import BoxRecord
from .dataset import Batch
from .images import read_image
from .layouts import Problem


class BoxDataset(Dataset):
    """Item: (image_chw, {"boxes_xyxy": (N, 4) at the model's input size, "class_ids": (N,), "image_wh": (2,)}, index);
    ``image_wh`` is the file's own size, to map boxes back to its pixels."""

    def __init__(self, records: Sequence[BoxRecord], transform):
        self.records = list(records)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        record = self.records[index]
        try:
            image = read_image(record.path)
        except ImageReadError as err:
            return Problem(err.path, err.reason)
        image_chw, boxes_xyxy = self.transform(image, record.boxes_xyxy)
        return image_chw, {"boxes_xyxy": boxes_xyxy, "class_ids": torch.as_tensor(record.class_ids, dtype=torch.long),
                           "image_wh": torch.tensor([image.width, image.height])}, index


def collate_boxes(items: list) -> Batch:
    """Images stacked (B, 3, S, S); ``labels`` one target dict per image."""
    good = [it for it in items if not isinstance(it, Problem)]
    failed = [it for it in items if isinstance(it, Problem)]
    if not good:
        return Batch(torch.empty(0, 3, 1, 1), [], torch.empty(0, dtype=torch.long), failed)
    images, targets, indices = zip(*good)
    return Batch(torch.stack(images), list(targets), torch.tensor(indices), failed)


def make_box_loader(records: Sequence[BoxRecord], transform, batch_size: int, shuffle: bool, workers: int, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(BoxDataset(records, transform), batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                      collate_fn=collate_boxes, generator=generator, persistent_workers=False, pin_memory=torch.cuda.is_available())
