"""COCO JSON: ``images`` (id, file_name, width, height), ``annotations`` (id, image_id, category_id, bbox xywh), ``categories``.

``file_name`` is read relative to the JSON's folder, else to ``images/`` beside it, or as an absolute path.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ..errors import DataLayoutError, ImageReadError
from ..files import write_json
from .boxes import BoxRecord, boxes_xywh_to_xyxy, boxes_xyxy_to_xywh, check_boxes
from .images import image_size
from .layouts import Problem


class CocoFile(NamedTuple):
    class_names: list[str]
    records: list[BoxRecord]
    skipped: list[Problem]
    warnings: list[str]


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataLayoutError(f"{path}: not readable as COCO JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories")):
        raise DataLayoutError(f"{path}: a COCO file needs lists 'images' and 'categories' (and 'annotations')")
    return data


def _image_path(json_path: Path, file_name: str) -> Path:
    direct = json_path.parent / file_name
    if direct.exists() or Path(file_name).is_absolute():
        return direct
    beside = json_path.parent / "images" / file_name
    return beside if beside.exists() else direct


def _field(item: dict, key: str, where: str):
    if key not in item:
        raise DataLayoutError(f"{where}: missing '{key}'")
    return item[key]


def read_coco(path: str | Path) -> CocoFile:
    """Checked records of one COCO JSON file; images listed without annotations are background images."""
    path = Path(path)
    data = _load(path)
    categories = sorted(data["categories"], key=lambda c: c["id"])
    index = {c["id"]: k for k, c in enumerate(categories)}
    names = [str(c.get("name", c["id"])) for c in categories]
    images = {}
    for i, image in enumerate(data["images"]):
        where = f"{path}, images[{i}]"
        images[_field(image, "id", where)] = image
    by_image: dict = {image_id: [] for image_id in images}
    for i, ann in enumerate(data.get("annotations", [])):
        where = f"{path}, annotation id {ann.get('id', f'#{i}')}"
        image_id, category = _field(ann, "image_id", where), _field(ann, "category_id", where)
        if image_id not in images:
            raise DataLayoutError(f"{where}: image_id {image_id} is not in 'images'")
        if category not in index:
            raise DataLayoutError(f"{where}: category_id {category} is not in 'categories' ({', '.join(map(str, index))})")
        bbox = _field(ann, "bbox", where)
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DataLayoutError(f"{where}: bbox must be 4 numbers [x, y, width, height], got {bbox!r}")
        by_image[image_id].append((ann.get("id", f"#{i}"), index[category], bbox, ann.get("iscrowd", 0)))
    records, skipped, warnings = [], [], []
    for image_id, image in images.items():
        file_path = _image_path(path, str(_field(image, "file_name", f"{path}, image id {image_id}")))
        if not file_path.is_file():
            skipped.append(Problem(str(file_path), f"listed in {path.name} (image id {image_id}) but the file is missing"))
            continue
        width, height = image.get("width"), image.get("height")
        if not width or not height:
            try:
                width, height = image_size(file_path)
            except ImageReadError as err:
                skipped.append(Problem(err.path, err.reason))
                continue
        anns = [a for a in by_image[image_id] if not a[3]]
        if len(anns) < len(by_image[image_id]):
            warnings.append(f"{path}, image id {image_id}: {len(by_image[image_id]) - len(anns)} crowd annotations (iscrowd=1) left out")
        boxes = boxes_xywh_to_xyxy([a[2] for a in anns])
        boxes, ids = check_boxes(boxes, [a[1] for a in anns], int(width), int(height), len(names), str(path),
                                 [f"annotation id {a[0]}" for a in anns], warnings)
        records.append(BoxRecord(str(file_path), int(width), int(height), boxes, ids))
    return CocoFile(names, records, skipped, warnings)


def _rounded(value, decimals: int | None) -> float:
    return float(value) if decimals is None else round(float(value), decimals)


def coco_dataset(class_names: list[str], images: Sequence[dict], boxes: Sequence, decimals: int | None = None,
                 area_of_rounded_box: bool = False, with_scores: bool = False, score_decimals: int | None = None,
                 category_names: bool = False) -> dict:
    """The one COCO dataset dict builder: image ids 1..N (``images[i]`` gives the other image fields), category ids
    1..K in ``class_names`` order, one annotation per box of ``boxes[i]`` (anything with ``boxes_xyxy`` (N, 4) pixels
    and ``class_ids`` (N,); ``scores`` (N,) too ``with_scores``).

    ``decimals`` rounds bbox and area (None: exact floats); the area is that of the rounded bbox when
    ``area_of_rounded_box``, else of the exact box. ``category_names`` adds each box's class name as ``category``.
    """
    out_images, annotations = [], []
    for image_id, (image, item) in enumerate(zip(images, boxes), start=1):
        out_images.append({"id": image_id, **image})
        for k, (box, class_id) in enumerate(zip(boxes_xyxy_to_xywh(item.boxes_xyxy), item.class_ids)):
            bbox = [_rounded(v, decimals) for v in box]
            width, height = (bbox[2], bbox[3]) if area_of_rounded_box else (box[2], box[3])
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": int(class_id) + 1}
            if category_names:
                ann["category"] = class_names[int(class_id)]
            ann.update(bbox=bbox, area=_rounded(width * height, decimals))
            if with_scores:
                ann["score"] = _rounded(item.scores[k], score_decimals)
            annotations.append({**ann, "iscrowd": 0})
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(class_names)]
    return {"images": out_images, "annotations": annotations, "categories": categories}


def coco_dict(class_names: list[str], records: list[BoxRecord], root: Path | None = None) -> dict:
    """A COCO dataset dict of ``records``: file names relative to ``root``, boxes to 3 decimals."""
    images = [{"file_name": Path(os.path.relpath(r.path, root) if root else r.path).as_posix(), "width": r.width, "height": r.height}
              for r in records]
    return coco_dataset(class_names, images, records, decimals=3, area_of_rounded_box=True)


def write_coco(path: Path, class_names: list[str], records: list[BoxRecord]) -> Path:
    """Write a COCO JSON whose file names are relative to its folder; refuses to overwrite."""
    if path.exists():
        raise DataLayoutError(f"{path}: already exists; choose a new output folder")
    write_json(path, coco_dict(class_names, records, path.parent), indent=1)
    return path

