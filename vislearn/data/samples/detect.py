"""The ``detect`` sample set: photo patches (coffee cup, cat face, rocket from scikit-image) pasted on real textures,
with exact boxes, written in both YOLO and COCO layouts that share one copy of the images:

    DIR/images/<split>/0000.png   DIR/labels/<split>/0000.txt   DIR/classes.txt   DIR/annotations_<split>.json
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import DataLayoutError
from ..boxes import BoxRecord
from ..coco import write_coco
from ..yolo import write_yolo_split
from .defects import TEXTURES, random_crop, texture_rgb

# class -> (scikit-image photo, crop rows, crop cols) around the object
OBJECTS = {"cup": ("coffee", (20, 380), (60, 480)), "cat": ("chelsea", (0, 300), (60, 400)), "rocket": ("rocket", (110, 420), (270, 370))}


def object_photos() -> dict[str, np.ndarray]:
    import skimage.data

    return {name: getattr(skimage.data, photo)()[r0:r1, c0:c1] for name, (photo, (r0, r1), (c0, c1)) in OBJECTS.items()}


def _place(size: int, w: int, h: int, taken: list, rng) -> tuple[int, int] | None:
    """Top-left corner for a w x h box that overlaps no box in ``taken`` (2 px apart); None if none found."""
    for _ in range(50):
        x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        if all(x + w + 2 <= a or a2 + 2 <= x or y + h + 2 <= b or b2 + 2 <= y for a, b, a2, b2 in taken):
            return x, y
    return None


def make_image(backgrounds: list[np.ndarray], photos: dict[str, np.ndarray], size: int, rng) -> tuple[np.ndarray, list, list]:
    """(size, size, 3) uint8 picture, boxes_xyxy (integer pixels, exact) and class ids of the 1-4 pasted objects."""
    canvas = (random_crop(backgrounds[int(rng.integers(len(backgrounds)))], size, rng) * 255).astype(np.uint8)
    names = list(photos)
    boxes, ids = [], []
    for _ in range(int(rng.integers(1, 5))):
        k = int(rng.integers(len(names)))
        photo = photos[names[k]]
        long_side = rng.uniform(0.19, 0.44) * size
        aspect = photo.shape[1] / photo.shape[0] * rng.uniform(0.85, 1.15)  # width / height
        w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
        w, h = max(8, int(round(w))), max(8, int(round(h)))
        corner = _place(size, w, h, boxes, rng)
        if corner is None:
            continue
        patch = np.asarray(Image.fromarray(photo).resize((w, h), Image.BILINEAR), np.float32) * rng.uniform(0.8, 1.2)
        patch = patch[:, ::-1] if rng.random() < 0.5 else patch
        x, y = corner
        canvas[y:y + h, x:x + w] = np.clip(patch, 0, 255).astype(np.uint8)
        boxes.append((x, y, x + w, y + h))
        ids.append(k)
    return canvas, boxes, ids


def write_detect_sample(out: Path, quiet: bool = False, limit: int | None = None, size: int = 128, seed: int = 0, **_) -> int:
    """``limit`` training images (default 300) plus a fifth as many each for val and test; returns the number of images."""
    rng = np.random.default_rng(seed)
    backgrounds, photos = [texture_rgb(t) for t in TEXTURES], object_photos()
    n_train = limit or 300
    counts = {"train": n_train, "val": max(4, n_train // 5), "test": max(4, n_train // 5)}
    names = list(photos)
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    for split, n in counts.items():
        records = []
        for i in range(n):
            picture, boxes, ids = make_image(backgrounds, photos, size, rng)
            path = out / "images" / split / f"{i:04d}.png"  # written once, where both layouts read it
            if path.exists():
                raise DataLayoutError(f"{path}: already exists; choose a new output folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture).save(path)
            records.append(BoxRecord(str(path), size, size, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(ids, np.int64)))
        write_yolo_split(records, out / "images" / split, out / "labels" / split, copy_images=False)
        write_coco(out / f"annotations_{split}.json", names, records)
    return sum(counts.values())
