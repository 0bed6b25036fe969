"""Still frames of the ``tracks`` generator as a detection set: objects that hide each other, with their whole boxes.

The detect sample places its objects apart, so a detector trained on it alone has never seen an object half hidden
behind another; in a video that is where it loses them (and the tracker loses their identities). These frames come
from short clips of moving objects over the textured backgrounds (other seeds than the tracks sample's clip), and
each object's box is its whole box even where another object covers part of it (as in the MOT ground truth), down
to ``min_visible`` of it in view; objects hidden more than that are left out.

    write_detect_sample(out); write_tracks_frames(out)   # the detect sample plus 240 train and 60 val frames
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..boxes import BoxRecord
from ..coco import read_coco, write_coco
from ..yolo import write_yolo_split
from .detect import object_photos
from .tracks import _background, _movers, render


def clip_frames(seed: int, size: int, frames: int, every: int, objects: int, min_visible: float):
    """(picture (size, size, 3) uint8, boxes_xyxy (N, 4) float32, class_ids (N,) int64) for every ``every``-th frame of a clip."""
    rng = np.random.default_rng(seed)
    canvas = _background("texture", size, rng)
    movers = _movers(objects, size, rng, (0.22, 0.34), (1.0, 2.5))
    for index in range(frames):
        if index % every == 0:
            picture, rows = render(canvas, movers)
            kept = [r for r in rows if r[6] >= min_visible]
            boxes = np.asarray([(x, y, x + w, y + h) for _, x, y, w, h, _, _ in kept], np.float32).reshape(-1, 4)
            yield picture, boxes, np.asarray([r[5] for r in kept], np.int64)
        for m in movers:
            m.step(size)


def write_tracks_frames(out: Path, clips: int = 10, every: int = 6, frames: int = 180, size: int = 128, seed: int = 1000,
                        objects: tuple[int, int] = (4, 6), min_visible: float = 0.2, val_share: float = 0.2) -> int:
    """Frames of ``clips`` clips (seeds ``seed``, ``seed + 1``, ...) into ``out`` (``images/<split>/frame_*.png``, YOLO labels,
    COCO ``annotations_<split>.json``, added to a detection set already there); the last ``val_share`` of the clips is the
    val split. Returns the number of pictures written."""
    names = list(object_photos())
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    n_val = max(1, int(round(clips * val_share)))
    splits: dict[str, list[BoxRecord]] = {"train": [], "val": []}
    for clip in range(clips):
        split = "val" if clip >= clips - n_val else "train"
        count = int(np.random.default_rng(seed + clip).integers(objects[0], objects[1] + 1))
        for picture, boxes, class_ids in clip_frames(seed + clip, size, frames, every, count, min_visible):
            path = out / "images" / split / f"frame_{clip:03d}_{len(splits[split]):05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture).save(path)
            splits[split].append(BoxRecord(str(path), size, size, boxes, class_ids))
    for split, records in splits.items():
        write_yolo_split(records, out / "images" / split, out / "labels" / split, copy_images=False)
        coco = out / f"annotations_{split}.json"
        before = read_coco(coco).records if coco.exists() else []
        coco.unlink(missing_ok=True)  # rewritten with the frames added (write_coco never overwrites)
        write_coco(coco, names, before + records)
    return sum(len(r) for r in splits.values())
