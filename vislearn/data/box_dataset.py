"""Batches of images with their boxes; unreadable files become problems the run reports and goes on without."""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch.utils.data import DataLoader

from .boxes import BoxRecord
from .dataset import Batch, FileDataset, collate_with, data_loader
from .images import read_image


def _load_boxed(transform, record: BoxRecord) -> tuple:
    image = read_image(record.path)
    image_chw, boxes_xyxy = transform(image, record.boxes_xyxy)
    return image_chw, {"boxes_xyxy": boxes_xyxy, "class_ids": torch.as_tensor(record.class_ids, dtype=torch.long),
                       "image_wh": torch.tensor([image.width, image.height])}


def BoxDataset(records: Sequence[BoxRecord], transform) -> FileDataset:
    """Item: (image_chw, {"boxes_xyxy": (N, 4) at the model's input size, "class_ids": (N,), "image_wh": (2,)}, index);
    ``image_wh`` is the file's own size, to map boxes back to its pixels."""
    return FileDataset(records, partial(_load_boxed, transform))


def collate_boxes(items: list) -> Batch:
    """Images stacked (B, 3, S, S); ``labels`` one target dict per image."""
    return collate_with(items, list, [])


def make_box_loader(records: Sequence[BoxRecord], transform, batch_size: int, shuffle: bool, workers: int, seed: int = 0) -> DataLoader:
    return data_loader(BoxDataset(records, transform), collate_boxes, batch_size, shuffle, workers, seed)
