"""Segmentation data: images paired with masks of class indices, from a folder of PNG masks or COCO JSON.

Folder layout: ``DIR/images/a.png`` + ``DIR/masks/a.png`` (pixel value = class index, 255 = not scored)
+ ``DIR/classes.json`` (``["background", "disc", ...]``); optionally ``DIR/{train,val,test}/images|masks``.
COCO layout: ``DIR/annotations.json`` (polygons or RLE) with the images in ``DIR/images/`` or beside it.
Every mismatch is a :class:`DataLayoutError` naming the file; unreadable images are skipped and reported.
"""
from __future__ import annotations

import functools
import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataLayoutError
from .coco_masks import coco_class_names, read_coco
from .images import is_image_file, size_or_problem
from .layouts import SPLIT_ALIASES, Problem
from .mask_sample import MaskSample

IGNORE_INDEX = 255  # mask value for pixels that are not scored (borders, unsure regions)
CLASSES_FILE = "classes.json"
COCO_FILE = "annotations.json"


@dataclass
class MaskData:
    class_names: list[str]
    splits: dict[str, list[MaskSample]]
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {class name: number of images showing that class}}."""
        return {split: {name: sum(k in s.classes_present for s in samples) for k, name in enumerate(self.class_names)}
                for split, samples in self.splits.items()}

    def summary(self) -> dict:
        return {"source": self.source, "class_names": self.class_names, "counts": self.counts(),
                "num_images": sum(len(v) for v in self.splits.values()),
                "skipped": [vars(p) for p in self.skipped], "warnings": self.warnings}


def read_mask_png(path: str | Path) -> np.ndarray:
    """(H, W) integer array of class indices from a one-channel (L, P, I;16) PNG; a grey RGB PNG is accepted."""
    try:
        with Image.open(path) as image:
            image.load()
            mode, array = image.mode, np.asarray(image)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise DataLayoutError(f"{path}: not a readable mask PNG ({exc})") from None
    if mode in ("RGB", "RGBA", "LA"):
        channels = array[..., :3] if mode != "LA" else array[..., :1]
        if not (channels == channels[..., :1]).all():
            raise DataLayoutError(f"{path}: a colour ({mode}) mask; save each pixel's class index as a one-channel PNG "
                                  f"(mode L or P, value = class index), see docs/segment.md")
        array = channels[..., 0]
    return array.astype(np.uint8) if mode == "1" else array


def check_mask(mask_hw: np.ndarray, size_wh: tuple[int, int], num_classes: int, mask_path: str, image_path: str) -> frozenset:
    """The classes present; DataLayoutError when the size differs from the image or values are undeclared."""
    if (mask_hw.shape[1], mask_hw.shape[0]) != tuple(size_wh):
        raise DataLayoutError(f"{mask_path}: mask is {mask_hw.shape[1]}x{mask_hw.shape[0]} but its image {image_path} is "
                              f"{size_wh[0]}x{size_wh[1]}; a mask must have its image's size")
    values = set(np.unique(mask_hw).tolist())
    undeclared = sorted(v for v in values if v >= num_classes and v != IGNORE_INDEX)
    if undeclared:
        raise DataLayoutError(f"{mask_path}: pixel values {undeclared[:8]} are not declared classes (there are {num_classes}: "
                              f"0..{num_classes - 1}, and {IGNORE_INDEX} = not scored); fix the mask or add names to {CLASSES_FILE}")
    return frozenset(v for v in values if v != IGNORE_INDEX)


def read_class_names(path: Path) -> list[str]:
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataLayoutError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise DataLayoutError(f'{path}: expected a list of class names in class-index order, e.g. ["background", "disc"]')
    if len(set(names)) != len(names):
        raise DataLayoutError(f"{path}: class names repeat ({names})")
    return names


def _pair(images_dir: Path, masks_dir: Path, skipped: list[Problem]) -> list[tuple[Path, Path]]:
    """(image, mask) by file stem; an image without a mask or a mask without an image is an error."""
    files = [p for p in sorted(images_dir.iterdir()) if p.is_file() and not p.name.startswith(".")]
    skipped.extend(Problem(str(p), f"not an image file extension ({p.suffix or 'none'})") for p in files if not is_image_file(p))
    images = {p.stem: p for p in files if is_image_file(p)}
    masks = {p.stem: p for p in sorted(masks_dir.iterdir()) if p.is_file() and p.suffix.lower() == ".png"}
    lonely = sorted(set(images) - set(masks))
    if lonely:
        raise DataLayoutError(f"{images[lonely[0]]}: image has no mask ({masks_dir / (lonely[0] + '.png')} not found)"
                              + (f"; {len(lonely) - 1} more images without masks" if len(lonely) > 1 else "")
                              + "; add the masks or move those images out")
    orphans = sorted(set(masks) - set(images))
    if orphans:
        raise DataLayoutError(f"{masks[orphans[0]]}: mask has no image (no {orphans[0]}.* in {images_dir})"
                              + (f"; {len(orphans) - 1} more masks without images" if len(orphans) > 1 else ""))
    return [(images[stem], masks[stem]) for stem in sorted(images)]


def read_mask_folder(root: Path, class_names: list[str] | None, skipped: list[Problem]) -> tuple[list[MaskSample], int]:
    """Samples of ``root/images`` + ``root/masks`` (every mask checked); returns (samples, largest class index seen)."""
    pairs = _pair(root / "images", root / "masks", skipped)

    def check(pair):
        image, mask_path = pair
        size, problem = size_or_problem(image)
        if problem:
            return None, problem
        mask = read_mask_png(mask_path)
        present = check_mask(mask, size, len(class_names) if class_names else 256, str(mask_path), str(image))
        return MaskSample(str(image), str(mask_path), (), size, present), None

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, pairs))
    skipped.extend(p for _, p in results if p)
    samples = [s for s, _ in results if s]
    return samples, max((max(s.classes_present, default=0) for s in samples), default=0)


def seeded_split(samples: list, fractions: dict[str, float], seed: int) -> dict[str, list]:
    """Shuffle with ``seed`` and cut off each fraction; at least one sample stays in train."""
    order = sorted(samples, key=lambda s: s.path)
    random.Random(seed).shuffle(order)
    out, start = {}, 0
    for name, fraction in fractions.items():
        n = max(0, min(int(round(len(order) * fraction)), len(order) - start - 1))
        out[name], start = order[start:start + n], start + n
    return {"train": order[start:], **out}


def _split_dirs(root: Path) -> dict[str, Path]:
    return {SPLIT_ALIASES[p.name.lower()]: p for p in sorted(root.iterdir()) if p.is_dir() and p.name.lower() in SPLIT_ALIASES}


def _layout(folder: Path) -> str:
    if (folder / "masks").is_dir() and (folder / "images").is_dir():
        return "masks"
    if (folder / COCO_FILE).is_file():
        return "coco"
    raise DataLayoutError(f"{folder}: expected images/ + masks/ (PNG of class indices, same file names) + {CLASSES_FILE}, "
                          f"or {COCO_FILE} (COCO polygons/RLE) with the images; see docs/segment.md")


def _class_names(source: Path, folders: dict[str, Path], kind: str) -> list[str] | None:
    """Declared class names: the COCO categories, else classes.json in DIR (or in a split folder)."""
    first = next(iter(folders.values()))
    if kind == "coco":
        return coco_class_names(first if first.is_file() else first / COCO_FILE)
    for path in (source / CLASSES_FILE, first / CLASSES_FILE):
        if path.is_file():
            return read_class_names(path)
    return None


def _read_split(folder: Path, kind: str, names, skipped: list[Problem], warnings: list[str]):
    if kind == "coco":
        return read_coco(folder if folder.is_file() else folder / COCO_FILE, names, skipped, warnings)
    return read_mask_folder(folder, names, skipped)


def read_mask_data(source: str | Path, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> MaskData:
    """Samples per split from a mask folder, a COCO JSON file, or a folder of train/val/test such folders."""
    source = Path(source)
    if not source.exists():
        raise DataLayoutError(f"{source}: no such file or folder")
    skipped: list[Problem] = []
    warnings: list[str] = []
    folders = {"all": source} if source.is_file() else (_split_dirs(source) or {"all": source})
    kinds = {split: "coco" if folder.is_file() else _layout(folder) for split, folder in folders.items()}
    if len(set(kinds.values())) > 1:
        raise DataLayoutError(f"{source}: split folders mix layouts ({kinds}); use masks/ everywhere or {COCO_FILE} everywhere")
    kind = next(iter(kinds.values()))
    names = _class_names(source, folders, kind)
    by_split, top = {}, 0
    for split, folder in folders.items():
        by_split[split], seen = _read_split(folder, kind, names, skipped, warnings)
        top = max(top, seen)
    if names is None:
        names = [f"class_{i}" for i in range(top + 1)]
        warnings.append(f"no {source / CLASSES_FILE}: classes named class_0..class_{top} from the mask values")
    if "all" in by_split:
        splits = seeded_split(by_split["all"], {"val": val_fraction, "test": test_fraction}, seed)
    else:
        splits = by_split if "val" in by_split else {**by_split, **seeded_split(by_split.get("train", []), {"val": val_fraction}, seed)}
    return _finish(names, splits, str(source), skipped, warnings)


def _finish(names: list[str], splits: dict, source: str, skipped: list[Problem], warnings: list[str]) -> MaskData:
    splits = {k: splits[k] for k in ("train", "val", "test") if k in splits}
    if not splits.get("train"):
        raise DataLayoutError(f"{source}: no readable training images" + (f" ({len(skipped)} unreadable)" if skipped else ""))
    if len(names) < 2:
        raise DataLayoutError(f"{source}: segmentation needs at least two classes (e.g. background and one object); found {names}")
    return MaskData(names, splits, skipped, warnings, source)


@functools.cache
def class_colours() -> np.ndarray:
    """(256, 3) uint8, row k = colour of class k: the PASCAL VOC palette (0 black, 1 dark red, 2 green, ...), 255 white.

    Built once and shared, so read-only: copy it before changing a colour.
    """
    colours = np.zeros((256, 3), np.uint8)
    for k in range(256):
        c, r, g, b = k, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        colours[k] = (r, g, b)
    colours[IGNORE_INDEX] = (255, 255, 255)
    colours.flags.writeable = False
    return colours


def save_mask_png(mask_hw: np.ndarray, path: str | Path) -> Path:
    """A palette PNG whose pixel values are the class indices and whose colours are :func:`class_colours`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(mask_hw, dtype=np.uint8), mode="P")
    image.putpalette(class_colours().flatten().tolist())
    image.save(path, format="PNG")
    return path
