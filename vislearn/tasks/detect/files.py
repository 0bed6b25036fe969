"""What detection writes for people and programs: boxes drawn on pictures, COCO JSON, YOLO txt (with scores)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ...data.boxes import BoxRecord
from ...data.coco import coco_dataset
from ...data.yolo import label_lines
from ...engine.checkpoint import write_json
from ...errors import DataLayoutError
from ...metrics.detection import ImageBoxes

PALETTE = [(230, 25, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 0, 128)]
TRUTH_RGB = (60, 220, 60)


def draw_boxes(image: Image.Image, found: ImageBoxes | None, class_names: list[str], truth: ImageBoxes | None = None) -> Image.Image:
    """A copy of ``image`` with true boxes in green (thin) and detections coloured per class, labelled "name 0.87"."""
    picture = image.convert("RGB").copy()
    scale = max(1, round(max(picture.size) / 256))
    draw = ImageDraw.Draw(picture)
    if truth is not None:
        for box in np.asarray(truth.boxes_xyxy).reshape(-1, 4):
            draw.rectangle([float(v) for v in box], outline=TRUTH_RGB, width=scale)
    if found is not None:
        for box, class_id, score in zip(np.asarray(found.boxes_xyxy).reshape(-1, 4), found.class_ids, found.scores):
            colour = PALETTE[int(class_id) % len(PALETTE)]
            draw.rectangle([float(v) for v in box], outline=colour, width=scale + 1)
            label = f"{class_names[int(class_id)]} {float(score):.2f}"
            x, y = float(box[0]), max(0.0, float(box[1]) - 11)
            draw.rectangle(draw.textbbox((x, y), label), fill=colour)
            draw.text((x, y), label, fill=(255, 255, 255))
    return picture


def upscaled(picture: Image.Image, min_side: int = 256) -> Image.Image:
    """Small pictures enlarged (nearest) so boxes and labels stay readable in the report."""
    factor = max(1, -(-min_side // max(1, min(picture.size))))
    return picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST) if factor > 1 else picture


def detections_json(class_names: list[str], paths: Sequence[str], sizes: Sequence[tuple[int, int]], found: Sequence[ImageBoxes]) -> dict:
    """COCO dataset layout with a ``score`` per annotation: readable by pycocotools and by `vislearn train` as data."""
    images = [{"file_name": str(path), "width": int(width), "height": int(height)} for path, (width, height) in zip(paths, sizes)]
    return coco_dataset(class_names, images, found, decimals=2, with_scores=True, score_decimals=4, category_names=True)


def yolo_text(item: ImageBoxes, width: int, height: int) -> str:
    """``class cx cy w h score`` lines, normalised like YOLO's own label files."""
    record = BoxRecord("", width, height, np.asarray(item.boxes_xyxy, np.float32), np.asarray(item.class_ids))
    return "".join(line + "\n" for line in label_lines(record, np.asarray(item.scores)))


def unique_stems(paths: Sequence[str]) -> list[str]:
    """File stems, numbered where two inputs share one (a/x.png, b/x.png)."""
    stems = [Path(p).stem for p in paths]
    repeated = {s for s in stems if stems.count(s) > 1}
    return [f"{i:05d}_{stem}" if stem in repeated else stem for i, stem in enumerate(stems)]


def refuse_existing(paths: Sequence[Path]) -> None:
    """Never overwrite: stop before writing anything if one output already exists."""
    for path in paths:
        if path.exists():
            raise DataLayoutError(f"{path}: already exists; choose another --out-dir (outputs are never overwritten)")


def write_json_new(path: Path, obj) -> Path:
    """``obj`` as JSON at ``path``, written atomically; refuses (DataLayoutError) when ``path`` already exists."""
    refuse_existing([path])
    write_json(path, obj, indent=1)
    return path
