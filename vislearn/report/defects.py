"""The defects section of the report: headline figures, the per-defect-type table, the threshold trade-off, heatmaps of
the worst misses, false alarms and training images flagged "is it really good?", and images unlike training."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..metrics.defects import NO_MASKS, false_alarm_line
from . import context as ctx
from .embed import png_data_uri
from .plots import _save

# heat figures a defects run writes (relative to the folder of its metrics.json); the report shows those present
FIGURES = {"misses": "worst/misses.png", "false_alarms": "worst/false_alarms.png", "train_outliers": "worst/train_outliers.png"}


def threshold_tradeoff(good_scores, defect_scores, threshold: float, path: str | Path) -> Path:
    """False-alarm rate on good images and detection rate on defective ones as the threshold moves."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    good, bad = np.sort(np.asarray(good_scores, float)), np.sort(np.asarray(defect_scores, float))
    grid = np.linspace(min(good.min(), bad.min() if len(bad) else good.min()), max(good.max(), bad.max() if len(bad) else good.max()), 200)
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    ax.plot(grid, 1 - np.searchsorted(good, grid, side="right") / len(good), label="false alarms (good images)")
    if len(bad):
        ax.plot(grid, 1 - np.searchsorted(bad, grid, side="right") / len(bad), label="defects detected")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("anomaly score (z, good-image units)")
    ax.set_ylabel("share of images above")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _rows(run_dir: Path) -> list[dict]:
    path = run_dir / "predictions_test.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# settings a defects run never reads (whole-image classification), and those only a student-training method reads
CLASSIFICATION_ONLY = {"val_fraction", "test_fraction", "augment", "explain_examples", "class_names", "refer_below", "max_error",
                       "prediction_sets", "guarantee_level", "calibration_share"}
STUDENT_ONLY = {"epochs", "lr", "weight_decay", "warmup_epochs", "patience", "grad_clip"}
STUDENT_METHODS = {"random-distill", "patchcore+distill"}


def _method(config: dict | None) -> str:
    return str(((config or {}).get("extra") or {}).get("method", "?"))  # as trained, e.g. "patchcore+distill"


def is_defects_run(config: dict | None, metrics: dict | None) -> bool:
    return (config or {}).get("task") == "defects" or "per_defect" in (metrics or {})


def defect_config_rows(config: dict | None) -> list[tuple[str, str]]:
    """The configuration rows a defects run used: no classification settings, no training settings without a student."""
    unused = CLASSIFICATION_ONLY | (set() if _method(config) in STUDENT_METHODS else STUDENT_ONLY)
    return ctx.config_rows({k: v for k, v in (config or {}).items() if k not in unused})


def _pixel(value, had_masks: bool) -> str:
    return ctx.fmt_number(value) if had_masks else NO_MASKS


def _figure(run_dir: Path, name: str) -> str | None:
    path = run_dir / FIGURES[name]
    return png_data_uri(path) if path.is_file() else None


def _examples(rows) -> list[dict]:
    return [{"path": str(r.get("path", "")), "truth": str(r.get("defect_type", "")), "score": ctx.fmt_number(r.get("score"), 2),
             "kind": str(r.get("kind") or "")} for r in ctx.as_list(rows) if isinstance(r, dict)]


def _unlike(metrics: dict, rows: list[dict]) -> dict | None:
    """The unlike-training check: its threshold, the share referred per type, and the referred test images."""
    saved = metrics.get("unlike_training")
    if not isinstance(saved, dict):
        return None
    referred = [{"path": r["path"], "truth": r.get("defect_type", ""), "z": r.get("global_z", ""), "reason": r.get("refer_reason", "")}
                for r in rows if str(r.get("refer_to_human")) == "1"]
    shares = saved.get("referred") or {}
    return {"threshold": ctx.fmt_number(saved.get("threshold"), 1), "quantile": ctx.fmt_number(saved.get("quantile"), 2),
            "rate": ctx.fmt_percent(saved.get("max_false_referral")), "held_out": saved.get("held_out"),
            "floor": ctx.fmt_number(saved.get("floor"), 1),
            "set_by": "floor" if (saved.get("floor") or 0) > (saved.get("quantile") or 0) else "false-referral rate",
            "good": ctx.fmt_percent(shares.get("good")), "referred": referred[:ctx.MAX_EXAMPLES],
            "hidden": max(len(referred) - ctx.MAX_EXAMPLES, 0), "shares": shares}


def defects_context(run_dir: Path, metrics: dict | None, config: dict | None = None, data_summary: dict | None = None) -> dict | None:
    """Everything the defects section shows; None for runs of other tasks. ``config``: the run's config.json, as loaded."""
    if not is_defects_run(config, metrics):
        return None
    metrics = metrics or {}
    rows = _rows(run_dir)
    plot = None
    if rows and "threshold" in metrics:
        good = [float(r["score"]) for r in rows if r["defect_type"] == "good"]
        bad = [float(r["score"]) for r in rows if r["defect_type"] != "good"]
        plot = png_data_uri(threshold_tradeoff(good, bad, metrics["threshold"], run_dir / "plots" / "threshold_tradeoff.png"))
    had_masks = bool(metrics.get("types_with_masks", metrics.get("pixel_auroc") is not None))
    headline = [(label, ctx.fmt_number(metrics.get(key))) for label, key in (
        ("image AUROC", "image_auroc"), ("F1 at the threshold", "f1"), ("false-alarm rate", "false_alarm_rate"),
        ("detection rate", "detection_rate"), ("threshold (z)", "threshold"), ("ms per image", "ms_per_image"))]
    pixel = [("pixel AUROC", _pixel(metrics.get("pixel_auroc"), had_masks)), ("AUPRO (FPR ≤ 0.3)", _pixel(metrics.get("aupro"), had_masks))]
    unlike = _unlike(metrics, rows)
    table = [{"name": r["defect_type"], "count": r["count"], "auroc": ctx.fmt_number(r.get("image_auroc")),
              "detected": ctx.fmt_percent(r.get("detected")), "masks": "yes" if r.get("has_masks", had_masks) else "no",
              "pixel": _pixel(r.get("pixel_auroc"), r.get("has_masks", had_masks)),
              "referred": ctx.fmt_percent(unlike["shares"].get(r["defect_type"])) if unlike else ctx.MISSING,
              "local": r.get("fired_local"), "global": r.get("fired_global")} for r in ctx.as_list(metrics.get("per_defect"))]
    masks_note = (f"Pixel metrics over the good test images and the defect types with masks ({', '.join(metrics['types_with_masks'])})"
                  + (f"; without masks: {', '.join(metrics['types_without_masks'])}." if metrics.get("types_without_masks") else ".")
                  if metrics.get("types_with_masks") else "No defect type has masks: pixel metrics need them.")
    outliers = _examples((data_summary or {}).get("train_outliers"))
    check = metrics.get("false_alarm_check")
    threshold_notes = [line for line in (metrics.get("threshold_rule"), false_alarm_line(check) if check else None) if line]
    return {"headline": [("method", _method(config))] + headline[:2] + pixel + headline[2:], "table": table, "tradeoff": plot,
            "threshold_notes": threshold_notes,
            "has_metrics": "per_defect" in metrics, "masks_note": masks_note, "unlike": unlike,
            "misses": {"uri": _figure(run_dir, "misses"), "rows": _examples(metrics.get("worst_misses"))},
            "false_alarms": {"uri": _figure(run_dir, "false_alarms"), "rows": _examples(metrics.get("worst_false_alarms"))},
            "outliers": {"uri": _figure(run_dir, "train_outliers"), "rows": outliers}}


def outlier_warnings(data_summary: dict | None) -> list[str]:
    """One warning per training image flagged "is it really good?", for the report's warnings list."""
    return [f"training image {r['path']} scores {r['score']:.2f} above the threshold ({r['kind']}): is it really good? "
            "If it shows a defect, remove it from the good images and train again."
            for r in ctx.as_list((data_summary or {}).get("train_outliers")) if isinstance(r, dict) and "path" in r]


class HeatExample(NamedTuple):
    """One row of a heat figure: the photo, its heatmap and (when known) the true defect mask."""

    photo_hw3: np.ndarray  # (H, W, 3) uint8 at the image's own size
    heat_hw: np.ndarray  # (h, w) float heatmap (z, good-image units) at the model's input size
    mask_hw: np.ndarray | None  # (H, W) bool true defect pixels; None when the image has no mask
    caption: str


def heat_scale(threshold: float) -> float:
    """Top of the heatmap colour scale: twice the threshold, so the threshold sits mid-scale and a near miss still shows."""
    return max(2 * threshold, 1.0)


def heat_examples_figure(examples: list[HeatExample], threshold: float, path: str | Path) -> Path:
    """Rows of photo · heatmap over the photo · true mask, with one colour bar (0 to heat_scale) marking the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    top = heat_scale(threshold)
    columns = 3 if any(e.mask_hw is not None for e in examples) else 2
    fig = Figure(figsize=(2.4 * columns + 1.0, 2.3 * len(examples) + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(examples), columns))
    shown = None
    for row, example in zip(axes, examples):
        height, width = example.photo_hw3.shape[:2]
        heat = np.asarray(Image.fromarray(example.heat_hw.astype(np.float32)).resize((width, height), Image.BILINEAR))
        row[0].imshow(example.photo_hw3)
        row[1].imshow(example.photo_hw3)
        # opaque where the heat is high, see-through where it is low: the photo stays readable under a cold map
        shown = row[1].imshow(heat, cmap="jet", vmin=0, vmax=top, alpha=np.clip(0.25 + 0.6 * heat / top, 0.25, 0.85))
        row[0].set_title(example.caption, fontsize=8, loc="left")
        if columns == 3:
            row[2].imshow(example.mask_hw if example.mask_hw is not None else np.zeros((height, width)), cmap="gray", vmin=0, vmax=1)
            row[2].set_title("true defect" if example.mask_hw is not None else "no mask", fontsize=8)
        for ax in row:
            ax.set_xticks([]), ax.set_yticks([])
    bar = fig.colorbar(shown, ax=axes.ravel().tolist(), location="right", shrink=min(0.9, 0.3 + 0.15 * len(examples)))
    bar.ax.axhline(threshold, color="k", linewidth=2)
    bar.set_label(f"score (z); black line: threshold {threshold:.2f}", fontsize=8)
    return _save(fig, path)
