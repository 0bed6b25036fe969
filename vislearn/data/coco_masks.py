"""COCO instance annotations (polygons or RLE) as semantic masks: class 0 is background, category k the k-th by id."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataLayoutError
from .images import is_image_file, size_or_problem
from .layouts import Problem
from .mask_sample import MaskSample


def _load(json_path: Path) -> dict:
    try:
        coco = json.loads(Path(json_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataLayoutError(f"{json_path}: not readable JSON ({exc})") from None
    if not isinstance(coco, dict) or not isinstance(coco.get("images"), list) or not isinstance(coco.get("categories"), list):
        raise DataLayoutError(f"{json_path}: not COCO JSON (needs lists 'images', 'annotations' and 'categories')")
    return coco


def _categories(coco: dict, json_path: Path) -> dict[int, str]:
    try:
        return {int(c["id"]): str(c["name"]) for c in sorted(coco["categories"], key=lambda c: int(c["id"]))}
    except (KeyError, TypeError, ValueError):
        raise DataLayoutError(f"{json_path}: every category needs an integer 'id' and a 'name'") from None


def coco_class_names(json_path: Path) -> list[str]:
    """["background", then the category names in order of category id]."""
    return ["background"] + list(_categories(_load(json_path), json_path).values())


def rasterize(shapes, size_wh: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 mask: 0 where no shape is, else the class of the last shape covering the pixel."""
    w, h = size_wh
    mask = np.zeros((h, w), np.uint8)
    for class_index, segmentation in shapes:
        mask[shape_mask(segmentation, h, w)] = class_index
    return mask


def shape_mask(segmentation, h: int, w: int) -> np.ndarray:
    """(H, W) bool of one COCO segmentation: a list of polygons, uncompressed RLE, or compressed RLE."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, h, w)
    else:
        counts = segmentation["counts"]
        rle = {"size": segmentation["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(rle).astype(bool)


def _check_segmentation(seg, ann: dict, size_wh: tuple[int, int], json_path: Path) -> None:
    where = f"{json_path}: annotation id={ann.get('id')} (image id={ann.get('image_id')})"
    if isinstance(seg, list):
        if not seg or not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in seg):
            raise DataLayoutError(f"{where}: polygons must be lists of x,y pairs with at least 3 points")
    elif isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if list(seg["size"]) != [size_wh[1], size_wh[0]]:
            raise DataLayoutError(f"{where}: RLE size {seg['size']} is not the image's [height, width] [{size_wh[1]}, {size_wh[0]}]")
    else:
        raise DataLayoutError(f"{where}: 'segmentation' must be polygons or RLE ({{'size', 'counts'}})")


def _image_path(json_path: Path, file_name: str) -> Path:
    beside = json_path.parent / file_name
    return beside if beside.exists() else json_path.parent / "images" / file_name


def read_coco(json_path: Path, class_names: list[str] | None, skipped: list[Problem], warnings: list[str] | None = None):
    """(samples, largest class index) of a COCO file; records naming missing files or unknown ids are errors."""
    json_path = Path(json_path)
    coco = _load(json_path)
    categories = _categories(coco, json_path)
    names = ["background"] + list(categories.values())
    if class_names is not None and names != class_names:
        raise DataLayoutError(f"{json_path}: categories {names[1:]} differ from the other split's {class_names[1:]}")
    index = {cat_id: k + 1 for k, cat_id in enumerate(categories)}
    records = {}
    for record in coco["images"]:
        path = _image_path(json_path, str(record.get("file_name", "")))
        if not path.is_file():
            raise DataLayoutError(f"{json_path}: image record id={record.get('id')} file_name={record.get('file_name')!r}: {path} not found")
        records[record.get("id")] = (record, path)
    shapes: dict[object, list] = {image_id: [] for image_id in records}
    for ann in coco.get("annotations", []):
        if ann.get("image_id") not in records:
            raise DataLayoutError(f"{json_path}: annotation id={ann.get('id')} points at image id={ann.get('image_id')}, which has no image record")
        if ann.get("category_id") not in index:
            raise DataLayoutError(f"{json_path}: annotation id={ann.get('id')} (image {records[ann['image_id']][0].get('file_name')}) "
                                  f"has category_id {ann.get('category_id')}, not among the categories {sorted(index)}")
        shapes[ann["image_id"]].append((index[ann["category_id"]], ann.get("segmentation"), ann))
    samples = []
    for image_id, (record, path) in records.items():
        size, problem = size_or_problem(path)
        if problem:
            skipped.append(problem)
            continue
        if (record.get("width"), record.get("height")) != tuple(size):
            raise DataLayoutError(f"{json_path}: image record id={image_id} says {record.get('width')}x{record.get('height')} "
                                  f"but {path} is {size[0]}x{size[1]}")
        for _, seg, ann in shapes[image_id]:
            _check_segmentation(seg, ann, size, json_path)
        present = frozenset({0} | {k for k, _, _ in shapes[image_id]})
        samples.append(MaskSample(str(path), None, tuple((k, seg) for k, seg, _ in shapes[image_id]), size, present))
    _warn_unlisted(json_path, {path for _, path in records.values()}, warnings)
    return samples, len(names) - 1


def _warn_unlisted(json_path: Path, listed: set[Path], warnings: list[str] | None) -> None:
    folder = json_path.parent / "images"
    if warnings is None or not folder.is_dir():
        return
    unlisted = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p) and p not in listed)
    if unlisted:
        warnings.append(f"{len(unlisted)} images in {folder} are not in {json_path.name} and were not used (e.g. {unlisted[0].name})")
