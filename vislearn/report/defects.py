"""The defects section of the report: headline figures, the per-defect-type table, the threshold trade-off, worst misses."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from . import context as ctx
from .embed import png_data_uri
from .plots import _save


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


def defects_context(run_dir: Path, metrics: dict | None, config: dict | None = None) -> dict | None:
    """Everything the defects section shows; None for runs of other tasks. ``config``: the run's config.json, as loaded."""
    if not metrics or "per_defect" not in metrics:
        return None
    rows = _rows(run_dir)
    plot = None
    if rows:
        good = [float(r["score"]) for r in rows if r["defect_type"] == "good"]
        bad = [float(r["score"]) for r in rows if r["defect_type"] != "good"]
        plot = png_data_uri(threshold_tradeoff(good, bad, metrics["threshold"], run_dir / "plots" / "threshold_tradeoff.png"))
    headline = [(label, ctx.fmt_number(metrics.get(key))) for label, key in (
        ("image AUROC", "image_auroc"), ("F1 at the threshold", "f1"), ("pixel AUROC", "pixel_auroc"), ("AUPRO (FPR ≤ 0.3)", "aupro"),
        ("false-alarm rate", "false_alarm_rate"), ("detection rate", "detection_rate"), ("threshold (z)", "threshold"),
        ("ms per image", "ms_per_image"))]
    table = [{"name": r["defect_type"], "count": r["count"], "auroc": ctx.fmt_number(r.get("image_auroc")),
              "detected": ctx.fmt_percent(r.get("detected")), "pixel": ctx.fmt_number(r.get("pixel_auroc")),
              "local": r.get("fired_local"), "global": r.get("fired_global")} for r in metrics["per_defect"]]
    misses = [{"uri": png_data_uri(m["overlay"]) if Path(m.get("overlay", "")).is_file() else None,
               "caption": f"{m['defect_type']} · score {m['score']:.2f} · {'flagged' if m['is_defect'] else 'passed'}",
               "path": m["path"]} for m in metrics.get("worst_misses", [])]
    method = str(((config or {}).get("extra") or {}).get("method", "?"))  # as trained, e.g. "patchcore+distill"
    return {"headline": [("method", method)] + headline, "table": table, "tradeoff": plot, "misses": misses}
