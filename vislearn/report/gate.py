"""The report's "Compared with the earlier run" section: a run trained with ``--from RUN`` shows RUN and itself side by
side on the same frozen images (``gate.json``, written by the regression gate): the verdict and why, the headline
figures, recall per class, and the images only one of the two gets right."""
from __future__ import annotations

from pathlib import Path

from .contact_sheet import thumbnail
from .context import fmt_number
from .run_files import read_json

THUMB_PX = 96
HEADLINE = (("accuracy", "Accuracy", False), ("macro_f1", "Macro-F1", False), ("ece", "Expected calibration error", True))


def _headline_rows(gate: dict) -> list[dict]:
    rows = []
    for key, label, lower_is_better in HEADLINE:
        pair = gate.get(key)
        if not isinstance(pair, dict) or "old" not in pair:
            continue
        change = pair["new"] - pair["old"]
        better = change < 0 if lower_is_better else change > 0
        rows.append({"label": label, "old": fmt_number(pair["old"], 4), "new": fmt_number(pair["new"], 4), "change": f"{change:+.4f}",
                     "tone": "" if abs(change) < 1e-12 else ("better" if better else "worse")})
    return rows


def _class_rows(gate: dict) -> list[dict]:
    worse = set(gate.get("worse_classes", []))
    return [{"name": c["name"], "support": c["support"], "old": fmt_number(c["old_recall"], 4), "new": fmt_number(c["new_recall"], 4),
             "change": f"{c['new_recall'] - c['old_recall']:+.4f}", "worse": c["name"] in worse}
            for c in gate.get("per_class", [])]


def _cells(rows: list[dict]) -> list[dict]:
    return [{**r, "uri": thumbnail(r["path"], THUMB_PX)} for r in rows]


def gate_context(run_dir: Path) -> dict | None:
    """Everything the section shows; None for a run without ``gate.json`` (not trained with ``--from``)."""
    gate, problem = read_json(Path(run_dir) / "gate.json", dict)
    if gate is None:
        return {"problem": problem} if problem else None
    interval = gate.get("difference_interval_95") or [float("nan")] * 2
    mcnemar = gate.get("mcnemar", {})
    changed = gate.get("changed", {})
    return {
        "problem": None,
        "promoted": bool(gate.get("promoted")),
        "reasons": gate.get("reasons", []),
        "old_run": gate.get("old_run", ""),
        "split": gate.get("split", ""),
        "images": gate.get("images", 0),
        "margin": gate.get("margin"),
        "interval": f"[{interval[0]:+.4f}, {interval[1]:+.4f}]",
        "only_old": mcnemar.get("only_old_right", 0),
        "only_new": mcnemar.get("only_new_right", 0),
        "p_value": f"{mcnemar.get('p_value', float('nan')):.3g}",
        "headline": _headline_rows(gate),
        "classes": _class_rows(gate),
        "fixed": _cells(changed.get("fixed", [])),
        "broken": _cells(changed.get("broken", [])),
    }
