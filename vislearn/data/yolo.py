"""YOLO txt: ``images/**/x.png`` with ``labels/**/x.txt`` of ``class cx cy w h`` lines (normalised to 0..1),
class names in ``classes.txt`` (one per line) or the ``names:`` of a ``data.yaml``.

An image without a label file, or with an empty one, is a background image.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

from ..errors import DataLayoutError, ImageReadError
from .boxes import BoxRecord, boxes_cxcywh_to_xyxy, boxes_xyxy_to_cxcywh, check_boxes, copy_record_images
from .images import image_size, is_image_file
from .layouts import Problem

NAME_FILES = ("classes.txt", "data.yaml", "dataset.yaml")


def _yaml_names(path: Path) -> list[str]:
    """``names:`` of a YOLO data.yaml in its three usual forms: [a, b], a block list, or a {0: a} mapping."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^names:[ \t]*(.*)$", text, re.MULTILINE)
    if not match:
        raise DataLayoutError(f"{path}: no 'names:' entry with the class names")
    inline = match.group(1).strip()
    if inline:
        try:
            value = ast.literal_eval(inline)
        except (ValueError, SyntaxError):
            value = [v.strip().strip("'\"") for v in inline.strip("[]").split(",")]
        return [str(v) for v in (value.values() if isinstance(value, dict) else value)]
    names = []
    for line in text[match.end():].splitlines()[1:]:
        item = re.match(r"^\s+(?:-\s*|\d+\s*:\s*)(.+?)\s*$", line)
        if not item:
            break
        names.append(item.group(1).strip("'\""))
    return names


def find_names(folder: Path) -> Path | None:
    for parent in (folder, folder.parent):
        for name in NAME_FILES:
            if (parent / name).is_file():
                return parent / name
    return None


def read_names(path: Path) -> list[str]:
    if path.suffix in (".yaml", ".yml"):
        names = _yaml_names(path)
    else:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise DataLayoutError(f"{path}: lists no class names")
    return names


def parse_label_file(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(boxes_cxcywh_norm (N, 4), class_ids (N,), records "line k"); malformed lines raise, naming the line."""
    boxes, ids, records = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}, line {number}"
        if len(parts) != 5:
            raise DataLayoutError(f"{where}: expected 'class cx cy w h' (5 numbers), got {len(parts)} values: {line.strip()!r}")
        try:
            class_id, values = int(parts[0]), [float(v) for v in parts[1:]]
        except ValueError:
            raise DataLayoutError(f"{where}: not numbers: {line.strip()!r} (expected 'class cx cy w h')") from None
        if not 0 <= class_id < num_classes:
            raise DataLayoutError(f"{where}: class id {class_id} is not one of the {num_classes} names (0..{num_classes - 1})")
        boxes.append(values), ids.append(class_id), records.append(f"line {number}")
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(ids, np.int64), records


def read_yolo_split(images_dir: Path, labels_dir: Path, class_names: list[str]):
    """(records, skipped, warnings) for every image under ``images_dir``, labels mirrored under ``labels_dir``."""
    records, skipped, warnings = [], [], []
    image_files = sorted(p for p in images_dir.rglob("*") if p.is_file() and is_image_file(p))
    stems = {p.relative_to(images_dir).with_suffix("") for p in image_files}
    for label in sorted(labels_dir.rglob("*.txt")) if labels_dir.is_dir() else []:
        if label.relative_to(labels_dir).with_suffix("") not in stems:
            warnings.append(f"{label}: no image with this name under {images_dir}; its boxes are not used")
    for image in image_files:
        try:
            width, height = image_size(image)
        except ImageReadError as err:
            skipped.append(Problem(err.path, err.reason))
            continue
        label = labels_dir / image.relative_to(images_dir).with_suffix(".txt")
        boxes_norm, ids, lines = parse_label_file(label, len(class_names)) if label.is_file() else (np.zeros((0, 4)), [], [])
        boxes = boxes_cxcywh_to_xyxy(boxes_norm * [width, height, width, height])
        boxes, ids = check_boxes(boxes, ids, width, height, len(class_names), str(label), lines, warnings)
        records.append(BoxRecord(str(image), width, height, boxes, ids))
    return records, skipped, warnings


def label_lines(record: BoxRecord, scores: np.ndarray | None = None) -> list[str]:
    """``class cx cy w h`` (normalised, 6 decimals), plus `` score`` for predictions."""
    size = np.asarray([record.width, record.height] * 2, np.float64)
    rows = boxes_xyxy_to_cxcywh(record.boxes_xyxy) / size
    lines = []
    for k, (class_id, row) in enumerate(zip(record.class_ids, rows)):
        line = f"{int(class_id)} " + " ".join(f"{v:.6f}" for v in row)
        lines.append(line + (f" {float(scores[k]):.4f}" if scores is not None else ""))
    return lines


def write_yolo_split(records: list[BoxRecord], images_dir: Path, labels_dir: Path, copy_images: bool = True) -> list[BoxRecord]:
    """Write each image's label file to ``labels_dir``, after copying the images to ``images_dir``
    (:func:`copy_record_images`) unless ``copy_images`` is False: then the images already lie in ``images_dir``.

    Never overwrites: an existing file is an error. Returns the records pointing at the images in ``images_dir``.
    """
    written = copy_record_images(records, images_dir) if copy_images else records
    for record in written:
        label_out = labels_dir / Path(record.path).with_suffix(".txt").name
        if label_out.exists():
            raise DataLayoutError(f"{label_out}: already exists; choose a new output folder")
        labels_dir.mkdir(parents=True, exist_ok=True)
        label_out.write_text("".join(line + "\n" for line in label_lines(record)), encoding="utf-8")
    return written
