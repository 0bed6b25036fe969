"""A segmentation sample set with exact ground truth: shapes cut from photos, pasted on real textures.

Backgrounds are crops of scikit-image's brick, grass and gravel photos; each object is a disc, square or
triangle filled with a patch of another photo (coffee cup, rocket launch, stained tissue) tinted towards
a class hue (orange, blue, green). Masks are drawn without
anti-aliasing, so every pixel's class is known exactly. Written twice: PNG masks + classes.json, and
the same shapes as COCO RLE in annotations.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from ..masks import CLASSES_FILE, COCO_FILE, save_mask_png

CLASSES = ["background", "disc", "square", "triangle"]
FILLS = {"disc": "coffee", "square": "rocket", "triangle": "immunohistochemistry"}
# each class's patches lean towards one hue, so a tiny CPU model learns them in about a minute
HUES = {"disc": (235, 120, 30), "square": (40, 90, 230), "triangle": (60, 200, 70)}
HUE_WEIGHT = 0.35
TEXTURES = ("brick", "grass", "gravel")


def _crop(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop of ``photo`` (side size..2*size, at most the photo) resized to size x size RGB."""
    h, w = photo.shape[:2]
    side = int(rng.integers(size, min(h, w, 2 * size) + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(photo[y:y + side, x:x + side]).convert("RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(crop)


def _shape(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) bool of one shape of radius 13-28 % of the side, drawn without anti-aliasing."""
    r = rng.uniform(0.13, 0.28) * size
    cx, cy = rng.uniform(r, size - r, 2)
    canvas = Image.new("1", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if kind == "disc":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
    else:
        corners = 4 if kind == "square" else 3
        angles = rng.uniform(0, 2 * np.pi) + np.arange(corners) * 2 * np.pi / corners
        draw.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles], fill=1)
    return np.asarray(canvas, dtype=bool)


def make_example(rng: np.random.Generator, size: int, photos: dict[str, np.ndarray]):
    """(image (H, W, 3) uint8, class mask (H, W) uint8, instance masks [(class index, (H, W) bool visible part)])."""
    image = _crop(photos[TEXTURES[int(rng.integers(len(TEXTURES)))]], size, rng).astype(np.float32)
    image = np.clip(image * rng.uniform(0.85, 1.1, 3), 0, 255)
    labels = np.zeros((size, size), np.uint8)
    instances = np.zeros((size, size), np.int32)
    placed = []
    for n in range(1, int(rng.integers(1, 4)) + 1):
        k = int(rng.integers(1, len(CLASSES)))
        shape = _shape(CLASSES[k], size, rng)
        patch = _crop(photos[FILLS[CLASSES[k]]], size, rng)[shape]
        image[shape] = (1 - HUE_WEIGHT) * patch + HUE_WEIGHT * np.asarray(HUES[CLASSES[k]], np.float32)
        labels[shape], instances[shape] = k, n
        placed.append(k)
    visible = [(k, instances == n) for n, k in enumerate(placed, start=1) if (instances == n).any()]
    return image.round().astype(np.uint8), labels, visible


def _photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {name: getattr(data, name)() for name in TEXTURES + tuple(FILLS.values())}


def _coco_annotation(ann_id: int, image_id: int, k: int, visible_hw: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(visible_hw.astype(np.uint8)))
    return {"id": ann_id, "image_id": image_id, "category_id": k, "iscrowd": 0,
            "segmentation": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")},
            "area": float(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)]}


def write_shapes_sample(out: Path, count: int = 300, size: int = 96, seed: int = 0, quiet: bool = False) -> int:
    """``out/images/*.png``, ``out/masks/*.png``, ``out/classes.json`` and ``out/annotations.json`` (COCO RLE)."""
    rng, photos = np.random.default_rng(seed), _photos()
    images, annotations = [], []
    (out / "images").mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(count), desc=f"writing {out}", disable=quiet, unit="img"):
        image, labels, visible = make_example(rng, size, photos)
        name = f"shapes_{i:04d}.png"
        Image.fromarray(image).save(out / "images" / name)
        save_mask_png(labels, out / "masks" / name)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        for k, part in visible:
            annotations.append(_coco_annotation(len(annotations) + 1, i + 1, k, part))
    categories = [{"id": k, "name": name} for k, name in enumerate(CLASSES) if k > 0]
    (out / CLASSES_FILE).write_text(json.dumps(CLASSES))
    (out / COCO_FILE).write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return count
