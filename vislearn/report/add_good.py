"""The report's "Good images added" section: a defects run made by ``vislearn defects add-good`` shows what was added
(``add_good.json``): the threshold before and after, what was recomputed and how long it took, each image with its score
before and after, the ones left out because they look like a real defect, and the files that could not be read."""
from __future__ import annotations

from pathlib import Path

from .contact_sheet import thumbnail
from .context import fmt_number
from .run_files import read_json

THUMB_PX = 96
MAX_IMAGES = 60  # thumbnails embedded in the page; the rest are counted, all are in add_good.json


def _image_row(row: dict) -> dict:
    after = row.get("score_after")
    if not row.get("added"):
        outcome = "left out: looks like a real defect"
    elif row.get("flagged_after"):
        outcome = "added, still flagged"
    else:
        outcome = "added, passes now" if row.get("flagged_before") else "added"
    return {"path": row.get("path", ""), "before": fmt_number(row.get("score_before"), 2),
            "after": fmt_number(after, 2) if after is not None else "-", "outcome": outcome,
            "warn": not row.get("added") or bool(row.get("flagged_after")), "uri": thumbnail(row.get("path", ""), THUMB_PX)}


def add_good_context(run_dir: Path) -> dict | None:
    """Everything the section shows; None for a run without ``add_good.json``."""
    record, problem = read_json(Path(run_dir) / "add_good.json", dict)
    if record is None:
        return {"problem": problem} if problem else None
    images = record.get("images", [])
    flagged_before = sum(bool(r.get("flagged_before")) for r in images)
    flagged_after = sum(bool(r.get("flagged_after")) for r in images if r.get("added"))
    seconds = record.get("seconds", {})
    return {
        "problem": None,
        "from_run": record.get("from_run", ""),
        "added": record.get("added", 0),
        "left_out": sum(not r.get("added") for r in images),
        "flagged_before": flagged_before,
        "flagged_after": flagged_after,
        "scored": len(images),
        "threshold_before": fmt_number(record.get("threshold_before"), 3),
        "threshold_after": fmt_number(record.get("threshold_after"), 3),
        "good_images_in_model": record.get("good_images_in_model"),
        "student": record.get("student", ""),
        "recomputed": record.get("recomputed", []),
        "seconds": [(step, f"{value:.1f} s") for step, value in seconds.items()],
        "images": [_image_row(r) for r in images[:MAX_IMAGES]],
        "hidden": max(0, len(images) - MAX_IMAGES),
        "skipped": record.get("skipped", []),
        "evaluated": record.get("metrics") is not None,
    }
