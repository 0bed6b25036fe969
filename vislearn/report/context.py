"""Turn run-folder JSON into the plain rows and strings the HTML template shows.

Every builder accepts None (file missing) and missing keys; numbers are formatted
here so the template only places strings. Escaping is left to the template.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from .embed import run_image_uri

MISSING = "–"
MAX_LISTED = 500  # skipped files / warnings beyond this are counted, not listed
MAX_EXAMPLES = 24  # per grid; each cell embeds three images


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_number(value: object, digits: int = 3) -> str:
    if is_number(value):
        return str(value) if isinstance(value, int) else f"{value:.{digits}f}"
    return MISSING if value is None or isinstance(value, float) else str(value)  # None, NaN, inf


def fmt_percent(value: object, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%" if is_number(value) else fmt_number(value)


def as_list(value: object) -> list:
    """value if it is a JSON list, else [] (a malformed field must not break the report)."""
    return value if isinstance(value, list) else []


def as_dict(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _fmt_config_value(value: object) -> str:
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:10])
        return f"{shown}, … ({len(value)} items)" if len(value) > 10 else f"[{shown}]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_rows(config: Mapping | None, prefix: str = "") -> list[tuple[str, str]]:
    """Flat (key, value) rows; nested objects become dotted keys like preprocessing.mean."""
    rows: list[tuple[str, str]] = []
    for key, value in (config or {}).items():
        if isinstance(value, Mapping):
            rows.extend(config_rows(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", _fmt_config_value(value)))
    return rows


def class_names(config: Mapping | None, data_summary: Mapping | None, metrics: Mapping | None) -> list[str]:
    """Class names in model-output order: config first, then data summary, then per-class metrics."""
    for source in (config, data_summary):
        names = as_list((source or {}).get("class_names"))
        if names:
            return [str(n) for n in names]
    return [str(row.get("name", i)) if isinstance(row, Mapping) else str(i)
            for i, row in enumerate(as_list((metrics or {}).get("per_class")))]


def ordered_counts(data_summary: Mapping | None) -> dict[str, dict[str, int]]:
    """counts per split with classes in class_names order (unknown classes appended)."""
    summary = data_summary or {}
    counts = as_dict(summary.get("counts"))
    order = [str(n) for n in as_list(summary.get("class_names"))]
    result = {}
    for split, per_class in counts.items():
        if isinstance(per_class, Mapping):
            names = order + [n for n in per_class if n not in order]
            result[split] = {n: per_class[n] for n in names if is_number(per_class.get(n))}
    return result


def count_table(counts: Mapping[str, Mapping[str, int]]) -> dict | None:
    """Images per class per split: {splits, rows: [{name, counts, total}], totals}."""
    splits = list(counts)
    names = list(dict.fromkeys(n for split in splits for n in counts[split]))
    if not names:
        return None
    rows = []
    for name in names:
        per_split = [counts[split].get(name, 0) for split in splits]
        rows.append({"name": name, "counts": per_split, "total": sum(per_split)})
    totals = [sum(counts[split].values()) for split in splits]
    return {"splits": splits, "rows": rows, "totals": totals, "total": sum(totals)}


def summary_cards(run) -> list[dict]:
    """The headline numbers at the top of the report, each {label, value}."""
    config, metrics, calibration = run.config or {}, run.metrics or {}, run.calibration or {}
    table = count_table(ordered_counts(run.data_summary))
    cards = [
        ("Task", config.get("task")),
        ("Model", config.get("model")),
        (f"{str(metrics.get('split', 'test')).capitalize()} accuracy", fmt_percent(metrics.get("accuracy"))),
        ("Macro-F1", fmt_number(metrics.get("macro_f1"))),
        *([("Mean IoU", fmt_number(metrics["miou"]))] if "miou" in metrics else []),  # segment runs
        *([("mAP@.5", fmt_number(metrics["map50"])), ("mAP@[.5:.95]", fmt_number(metrics.get("map")))]
          if "map50" in metrics else []),  # detect runs
        *([("Image AUROC", fmt_number(metrics["image_auroc"])), ("Pixel AUROC", fmt_number(metrics.get("pixel_auroc")))]
          if "image_auroc" in metrics else []),  # defects runs
        ("ECE", fmt_number(metrics.get("ece"))),
        ("Temperature", fmt_number(calibration.get("temperature"), 2)),
        ("Images evaluated", fmt_number(metrics.get("num_images"))),
        ("Images in dataset", fmt_number(table["total"] if table else None)),
    ]
    if {"miou", "map50", "image_auroc"} & set(metrics):  # segment, detect, defects: no whole-image accuracy or calibration
        cards = [c for c in cards if c[1] != MISSING and c[0] != "Images in dataset"]
        cards.append(("Images in dataset", fmt_number((run.data_summary or {}).get("num_images"))))
    return [{"label": label, "value": MISSING if value is None else str(value)} for label, value in cards]


def metric_rows(metrics: Mapping | None) -> list[tuple[str, str]]:
    metrics = metrics or {}
    names = [("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"), ("auroc", "AUROC"),
             ("ece", "Expected calibration error (ECE)"), ("nll", "Negative log-likelihood (NLL)"),
             ("miou", "Mean IoU"), ("mean_dice", "Mean Dice"), ("pixel_accuracy", "Pixel accuracy"),
             ("map50", "mAP@.5 (COCO)"), ("map", "mAP@[.5:.95] (COCO)"), ("map75", "mAP@.75 (COCO)")]
    rows = [(label, fmt_number(metrics[key], 4)) for key, label in names if key in metrics]
    if "num_images" in metrics:
        rows.append(("Images", fmt_number(metrics["num_images"])))
    return rows


def per_class_rows(metrics: Mapping | None) -> list[dict]:
    """One row per class with formatted scores and f1_width (0-100) for an inline bar."""
    rows = []
    for i, row in enumerate(as_list((metrics or {}).get("per_class"))):
        if not isinstance(row, Mapping):
            continue
        f1 = row.get("f1")
        rows.append({
            "name": str(row.get("name", i)),
            "precision": fmt_number(row.get("precision")),
            "recall": fmt_number(row.get("recall")),
            "f1": fmt_number(f1),
            "f1_width": round(100 * min(max(f1, 0.0), 1.0)) if is_number(f1) else 0,
            "support": fmt_number(row.get("support")),
        })
    return rows


def calibration_rows(calibration: Mapping | None) -> list[tuple[str, str, str]]:
    """(measure, before, after) on the validation split, for the measures present."""
    calibration = calibration or {}
    rows = []
    for key, label in (("nll", "NLL"), ("ece", "ECE")):
        before, after = calibration.get(f"val_{key}_before"), calibration.get(f"val_{key}_after")
        if before is not None or after is not None:
            rows.append((f"Validation {label}", fmt_number(before, 4), fmt_number(after, 4)))
    return rows


def _example_cell(run_dir: Path, example: Mapping) -> dict:
    label, predicted = example.get("label"), example.get("predicted")
    panels = [("image", "Image"), ("gradcam", "Grad-CAM"), ("integrated_gradients", "Integrated gradients")]
    return {
        "path": str(example.get("path", "")),
        "label": MISSING if label is None else str(label),
        "predicted": MISSING if predicted is None else str(predicted),
        "confidence": fmt_percent(example.get("confidence")),
        "panels": [{"caption": caption, "uri": run_image_uri(run_dir, example.get(key))}
                   for key, caption in panels if key in example],
    }


def example_grids(run_dir: Path, examples: Sequence | None) -> dict[str, dict]:
    """{"correct": {...}, "wrong": {...}}, each {cells, hidden} with at most MAX_EXAMPLES cells."""
    groups: dict[str, list] = {"correct": [], "wrong": []}
    for example in examples or []:
        if not isinstance(example, Mapping):
            continue
        correct = example.get("correct")
        if correct is None:
            correct = example.get("label") == example.get("predicted")
        groups["correct" if correct else "wrong"].append(example)
    return {name: {"cells": [_example_cell(run_dir, e) for e in group[:MAX_EXAMPLES]],
                   "hidden": max(len(group) - MAX_EXAMPLES, 0)}
            for name, group in groups.items()}


def layer_items(run_dir: Path, layers: Sequence | None) -> list[dict]:
    return [{"title": str(layer.get("title", "")), "caption": str(layer.get("caption", "")),
             "uri": run_image_uri(run_dir, layer.get("image"))}
            for layer in layers or [] if isinstance(layer, Mapping)]


def skipped_and_warnings(data_summary: Mapping | None, more_warnings: Sequence[str] = ()) -> dict:
    """Skipped files ({path, reason}) and warnings (the data summary's, then ``more_warnings``), capped at MAX_LISTED each."""
    summary = data_summary or {}
    skipped = [{"path": str(s.get("path", "")), "reason": str(s.get("reason", ""))}
               for s in as_list(summary.get("skipped")) if isinstance(s, Mapping)]
    warnings = [str(w) for w in as_list(summary.get("warnings"))] + list(more_warnings)
    return {"skipped": skipped[:MAX_LISTED], "skipped_hidden": max(len(skipped) - MAX_LISTED, 0),
            "warnings": warnings[:MAX_LISTED], "warnings_hidden": max(len(warnings) - MAX_LISTED, 0)}
