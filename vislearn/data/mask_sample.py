"""One segmentation sample: an image and where its mask comes from. Both mask readers (masks.py for PNG
folders, coco_masks.py for COCO polygons/RLE) make them, so it sits below both."""
from __future__ import annotations

from typing import NamedTuple


class MaskSample(NamedTuple):
    """One image and where its mask comes from: a PNG of class indices, or COCO shapes drawn at read time."""

    path: str
    mask_path: str | None = None
    shapes: tuple = ()  # ((class_index, COCO segmentation), ...) drawn in order, later over earlier
    size_wh: tuple[int, int] = (0, 0)
    classes_present: frozenset = frozenset()
