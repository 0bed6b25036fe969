"""Boxes on images: format conversions, checks at the boundary, and the records every detection reader returns.

Names carry formats: ``boxes_xyxy`` are (N, 4) corners in pixels, ``boxes_xywh`` COCO's corner + size,
``boxes_cxcywh`` YOLO's centre + size (normalised to 0..1 when the name says ``_norm``).
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataLayoutError
from .layouts import Problem

ROUNDING_PX = 0.01  # boxes out of the image by less than this (rounding in normalised files) are clipped without a word


class BoxRecord(NamedTuple):
    """One image and its checked boxes; no boxes is a valid background image."""

    path: str
    width: int
    height: int
    boxes_xyxy: np.ndarray  # (N, 4) float32 pixels, inside the image, positive area
    class_ids: np.ndarray  # (N,) int64 indices into class_names


@dataclass
class DetectionData:
    class_names: list[str]
    splits: dict[str, list[BoxRecord]]
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    layout: str = ""  # "coco" or "yolo"

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {class name: number of boxes}}."""
        out = {}
        for split, records in self.splits.items():
            ids = np.concatenate([r.class_ids for r in records]) if records else np.zeros(0, int)
            out[split] = {name: int((ids == k).sum()) for k, name in enumerate(self.class_names)}
        return out

    def summary(self) -> dict:
        return {"source": self.source, "layout": self.layout, "class_names": self.class_names, "counts": self.counts(),
                "images": {k: len(v) for k, v in self.splits.items()}, "num_images": sum(len(v) for v in self.splits.values()),
                "background_images": {k: sum(len(r.class_ids) == 0 for r in v) for k, v in self.splits.items()},
                "skipped": [vars(p) for p in self.skipped], "warnings": self.warnings}


def copy_record_images(records: list[BoxRecord], images_dir: Path) -> list[BoxRecord]:
    """Copy each record's image into ``images_dir`` (names that would collide get a numbered prefix); the records
    returned point at the copies. Never overwrites: an existing file is a DataLayoutError."""
    copied, used = [], set()
    for i, record in enumerate(records):
        name = Path(record.path).name
        name = f"{i:06d}_{name}" if name in used else name
        used.add(name)
        target = images_dir / name
        if target.exists():
            raise DataLayoutError(f"{target}: already exists; choose a new output folder")
        images_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(record.path, target)
        copied.append(record._replace(path=str(target)))
    return copied


def boxes_xywh_to_xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)


def boxes_xyxy_to_xywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def boxes_cxcywh_to_xyxy(boxes_cxcywh: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes_cxcywh, np.float64).reshape(-1, 4)
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], axis=1)


def input_boxes_to_file_pixels(boxes_xyxy: np.ndarray, input_size: int, width: int, height: int) -> np.ndarray:
    """float32 xyxy boxes (..., 4) in a model's ``input_size`` x ``input_size`` input, scaled to a ``width`` x ``height`` file."""
    scale = np.asarray([width, height, width, height], np.float32) / input_size
    return np.asarray(boxes_xyxy, np.float32) * scale


def boxes_xyxy_to_cxcywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def check_boxes(boxes_xyxy: np.ndarray, class_ids: Sequence[int], width: int, height: int, num_classes: int,
                file: str, records: Sequence[str], warnings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the image, as (boxes_xyxy float32, class_ids int64).

    ``records`` names each box for messages ("line 3", "annotation id 17"). A box partly outside the image is
    clipped with a warning; a box wholly outside or an unknown class is a :class:`DataLayoutError`; a box of
    zero area (before or after clipping) is left out with a warning, never silently.
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    kept_boxes, kept_ids = [], []
    for box, class_id, record in zip(boxes, class_ids, records):
        where = f"{file}, {record}"
        if not 0 <= int(class_id) < num_classes:
            raise DataLayoutError(f"{where}: class id {class_id} is not one of the {num_classes} classes (0..{num_classes - 1}); "
                                  "fix the id or add the class to the names list")
        if not np.isfinite(box).all():
            raise DataLayoutError(f"{where}: box {box.tolist()} has non-numeric coordinates")
        x1, y1, x2, y2 = box
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            warnings.append(f"{where}: box {_fmt(box)} has zero area; left out")
            continue
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise DataLayoutError(f"{where}: box {_fmt(box)} lies wholly outside the {width}x{height} image; "
                                  "are the coordinates in the right format (pixels vs normalised, xywh vs xyxy)?")
        clipped = np.clip(box, 0, [width, height, width, height])
        if np.abs(clipped - box).max() > ROUNDING_PX:
            warnings.append(f"{where}: box {_fmt(box)} reaches outside the {width}x{height} image; clipped to {_fmt(clipped)}")
        kept_boxes.append(clipped)
        kept_ids.append(int(class_id))
    return np.asarray(kept_boxes, np.float32).reshape(-1, 4), np.asarray(kept_ids, np.int64)


def _fmt(box: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:g}" for v in np.round(box, 2)) + "] (x1, y1, x2, y2)"
