"""The segmentation section of the report: mean IoU, Dice, pixel accuracy, per-class IoU, the worst images."""
from __future__ import annotations

from pathlib import Path

from . import context as ctx
from .embed import png_data_uri


def _class_rows(metrics: dict) -> list[dict]:
    rows = []
    for row in ctx.as_list(metrics.get("per_class_iou")):
        iou = row.get("iou")
        rows.append({"name": str(row.get("name")), "iou": ctx.fmt_number(iou), "dice": ctx.fmt_number(row.get("dice")),
                     "share": ctx.fmt_percent(row.get("pixel_share")),
                     "width": round(100 * min(max(iou, 0.0), 1.0)) if ctx.is_number(iou) else 0})
    return rows


def segmentation_context(run_dir: Path, metrics: dict | None) -> dict | None:
    """Everything the segmentation section shows; None for runs of other tasks."""
    if not metrics or "per_class_iou" not in metrics:
        return None
    headline = [(label, ctx.fmt_number(metrics.get(key), 4)) for label, key in (
        ("mean IoU", "miou"), ("mean Dice", "mean_dice"), ("pixel accuracy", "pixel_accuracy"))]
    headline += [("images", ctx.fmt_number(metrics.get("num_images"))), ("ms per image", ctx.fmt_number(metrics.get("ms_per_image"), 0)),
                 ("tile size (px)", ctx.fmt_number(metrics.get("tile_size"))), ("tile overlap", ctx.fmt_number(metrics.get("tile_overlap"), 2))]
    worst = [{"uri": png_data_uri(w["picture"]) if Path(str(w.get("picture", ""))).is_file() else None,
              "caption": f"image mean IoU {ctx.fmt_number(w.get('miou'))}", "path": str(w.get("path", ""))}
             for w in ctx.as_list(metrics.get("worst_images")) if isinstance(w, dict)]
    return {"split": metrics.get("split", "test"), "headline": headline, "classes": _class_rows(metrics), "worst": worst}
