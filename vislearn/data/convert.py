"""``vislearn data convert SRC DST --to coco|yolo``: the same boxes in the other layout, images copied, splits kept.

Nothing in SRC is touched and nothing in DST is overwritten: DST must be new or empty.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataLayoutError
from .boxes import copy_record_images
from .coco import write_coco
from .detection import read_splits
from .yolo import write_yolo_split

FORMATS = ("coco", "yolo")


def convert(src: str | Path, dst: str | Path, to: str) -> dict:
    """Write SRC's detection data to DST in layout ``to``; returns counts, skipped files and warnings."""
    if to not in FORMATS:
        raise DataLayoutError(f"unknown format {to!r}; use --to coco or --to yolo")
    dst = Path(dst)
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DataLayoutError(f"{dst}: exists and is not an empty folder; choose a new folder (nothing is overwritten)")
    data = read_splits(src)
    for split, records in data.splits.items():
        sub = () if split == "all" else (split,)
        if to == "yolo":
            write_yolo_split(records, dst.joinpath("images", *sub), dst.joinpath("labels", *sub))
        else:
            copied = copy_record_images(records, dst.joinpath("images", *sub))
            write_coco(dst / ("annotations.json" if split == "all" else f"annotations_{split}.json"), data.class_names, copied)
    if to == "yolo":
        (dst / "classes.txt").write_text("".join(n + "\n" for n in data.class_names), encoding="utf-8")
    return {"from": data.layout, "to": to, "dst": str(dst), "images": {k: len(v) for k, v in data.splits.items()},
            "boxes": sum(len(r.class_ids) for v in data.splits.values() for r in v),
            "skipped": [vars(p) for p in data.skipped], "warnings": data.warnings}
