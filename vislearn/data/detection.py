"""Find and read a detection dataset in COCO or YOLO layout, with train/val/test splits.

COCO: a ``.json`` file; or a folder with ``annotations.json``, ``annotations_<split>.json``,
``annotations/<split>.json`` or ``<split>/annotations.json``.
YOLO: a folder with ``images/`` and ``labels/`` (optionally ``images/<split>/``), or ``<split>/images``,
plus ``classes.txt`` or ``data.yaml``. When a folder holds both, COCO is read unless ``layout="yolo"``.
"""
from __future__ import annotations

import random
from pathlib import Path

from ..errors import DataLayoutError
from .boxes import BoxRecord, DetectionData
from .coco import read_coco
from .layouts import SPLIT_ALIASES
from .yolo import find_names, read_names, read_yolo_split

SPLITS = ("train", "val", "test")


def _coco_files(folder: Path) -> dict[str, Path]:
    found = {}
    for alias, split in SPLIT_ALIASES.items():
        for path in (folder / f"annotations_{alias}.json", folder / "annotations" / f"{alias}.json", folder / alias / "annotations.json"):
            if path.is_file() and split not in found:
                found[split] = path
    if not found and (folder / "annotations.json").is_file():
        found["all"] = folder / "annotations.json"
    return found


def _yolo_dirs(folder: Path) -> dict[str, tuple[Path, Path]]:
    """{split: (images dir, labels dir)}; "all" when the images are not split."""
    found = {}
    for alias, split in SPLIT_ALIASES.items():
        for images, labels in ((folder / "images" / alias, folder / "labels" / alias), (folder / alias / "images", folder / alias / "labels")):
            if images.is_dir() and split not in found:
                found[split] = (images, labels)
    if not found and (folder / "images").is_dir():
        found["all"] = (folder / "images", folder / "labels")
    return found


def _read_coco_splits(files: dict[str, Path], data: DetectionData) -> dict[str, list[BoxRecord]]:
    splits = {}
    for split, path in files.items():
        coco = read_coco(path)
        if data.class_names and coco.class_names != data.class_names:
            raise DataLayoutError(f"{path}: categories {coco.class_names} differ from {data.class_names} in the other split files")
        data.class_names = coco.class_names
        data.skipped += coco.skipped
        data.warnings += coco.warnings
        splits[split] = coco.records
    return splits


def _read_yolo_splits(folder: Path, dirs: dict[str, tuple[Path, Path]], data: DetectionData) -> dict[str, list[BoxRecord]]:
    names_file = find_names(folder)
    if names_file is None:
        raise DataLayoutError(f"{folder}: YOLO layout without class names; add classes.txt (one name per line) or data.yaml with names:")
    data.class_names = read_names(names_file)
    splits = {}
    for split, (images, labels) in dirs.items():
        records, skipped, warnings = read_yolo_split(images, labels, data.class_names)
        splits[split], data.skipped, data.warnings = records, data.skipped + skipped, data.warnings + warnings
    return splits


def _split(splits: dict[str, list[BoxRecord]], seed: int, val_fraction: float, test_fraction: float) -> dict[str, list[BoxRecord]]:
    """Given splits are kept; unsplit data (or a missing val split) is cut at random, reproducibly by ``seed``."""
    pool = splits.pop("all", None)
    if pool is None and "val" in splits:
        return {k: splits[k] for k in SPLITS if k in splits}
    pool = pool if pool is not None else splits.pop("train", [])
    pool = sorted(pool, key=lambda r: r.path)
    random.Random(seed).shuffle(pool)
    n_val = round(len(pool) * val_fraction)
    n_test = 0 if "test" in splits else round(len(pool) * test_fraction)
    out = {"train": pool[n_val + n_test:], "val": pool[:n_val]}
    if n_test or "test" in splits:
        out["test"] = splits.get("test") or pool[n_val:n_val + n_test]
    return out


def read_splits(source: str | Path, layout: str = "auto") -> DetectionData:
    """Checked boxes per split as stored ("all" when the data is not split); ``layout`` is "auto", "coco" or "yolo"."""
    source = Path(source)
    if not source.exists():
        raise DataLayoutError(f"{source}: not found")
    if layout not in ("auto", "coco", "yolo"):
        raise DataLayoutError(f"unknown detection layout {layout!r}; use auto, coco or yolo")
    data = DetectionData([], {}, source=str(source))
    coco = {"all": source} if source.suffix == ".json" else _coco_files(source) if layout != "yolo" else {}
    yolo = _yolo_dirs(source) if source.is_dir() and layout != "coco" and not coco else {}
    if coco:
        data.layout, data.splits = "coco", _read_coco_splits(coco, data)
    elif yolo:
        data.layout, data.splits = "yolo", _read_yolo_splits(source, yolo, data)
    else:
        raise DataLayoutError(f"{source}: no detection data found; expected a COCO annotations.json (or annotations_<split>.json) "
                              "or a YOLO folder with images/, labels/ and classes.txt")
    return data


def read_detection(source: str | Path, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15,
                   layout: str = "auto") -> DetectionData:
    """Checked boxes in train/val(/test) splits: given splits kept, the rest cut at random (reproducibly by ``seed``)."""
    data = read_splits(source, layout)
    data.splits = _split(data.splits, seed, val_fraction, test_fraction)
    if not data.splits.get("train"):
        raise DataLayoutError(f"{source}: no readable training images")
    if val_fraction > 0 and not data.splits.get("val"):
        raise DataLayoutError(f"{source}: no validation images ({len(data.splits['train'])} training images); "
                              "add a val split or raise --val-fraction")
    return data
