"""The detection section of the report: mAP figures, per-class AP, precision-recall curves, drawn examples and worst images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import context as ctx
from .embed import png_data_uri
from .plots import _save


def pr_curves_plot(pr_curves: dict, path: str | Path) -> Path:
    """Precision against recall per class at IoU 0.5, from COCOeval's interpolated precision array."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    recall = np.asarray(pr_curves["recall"], float)
    for name, precision in pr_curves["precision"].items():
        ax.plot(recall, np.asarray(precision, float), label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1.02)
    ax.set_title(f"Precision-recall at IoU {pr_curves.get('iou', 0.5)}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _pictures(items: list[dict]) -> list[dict]:
    return [{"uri": png_data_uri(p["picture"]) if Path(p.get("picture", "")).is_file() else None,
             "caption": f"missed {p['missed']} · false alarms {p['false_positives']}", "path": p["path"]} for p in items]


def _explanations(run_dir: Path) -> list[dict]:
    import json

    path = run_dir / "explain" / "detections.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except (OSError, json.JSONDecodeError):
        return []
    return [{"uri": png_data_uri(r["picture"]), "caption": f"{r['class']} {r['score']:.2f}", "path": r["path"]}
            for r in rows if Path(r.get("picture", "")).is_file()]


def detection_context(run_dir: Path, metrics: dict | None) -> dict | None:
    """Everything the detection section shows; None for runs of other tasks."""
    if not metrics or "per_class_ap" not in metrics:
        return None
    plot = None
    if metrics.get("pr_curves"):
        plot = png_data_uri(pr_curves_plot(metrics["pr_curves"], run_dir / "plots" / "pr_curves.png"))
    headline = [(label, ctx.fmt_number(metrics.get(key), 4)) for label, key in (
        ("mAP@[.5:.95] (COCO)", "map"), ("mAP@.5", "map50"), ("mAP@.75", "map75"), ("mean recall (100 boxes)", "mar100"))]
    headline += [("images", ctx.fmt_number(metrics.get("num_images"))), ("true boxes", ctx.fmt_number(metrics.get("num_boxes"))),
                 ("ms per image", ctx.fmt_number(metrics.get("ms_per_image"), 1))]
    table = [{"name": r["name"], "boxes": r["boxes"], "ap": ctx.fmt_number(r.get("ap")), "ap50": ctx.fmt_number(r.get("ap50")),
              "ap75": ctx.fmt_number(r.get("ap75"))} for r in metrics["per_class_ap"]]
    return {"headline": headline, "table": table, "pr_plot": plot, "conf": metrics.get("per_image_conf"),
            "examples": _pictures(metrics.get("examples", [])), "worst": _pictures(metrics.get("worst_images", [])),
            "explained": _explanations(run_dir)}
