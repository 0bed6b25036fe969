"""Defect metrics: image AUROC and F1 at the threshold, pixel AUROC and AUPRO when masks exist, per defect type."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from ..anomaly.aupro import aupro


def _auroc(labels, scores) -> float | None:
    labels = np.asarray(labels)
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def defect_metrics(types: list[str], scores: np.ndarray, threshold: float, heat_nhw: np.ndarray | None = None,
                   masks_nhw: np.ndarray | None = None) -> dict:
    """``types`` (N,) "good" or a defect name, ``scores`` (N,); heat/masks (N, H, W) where every image has a mask or is good."""
    is_defect = np.asarray([t != "good" for t in types])
    flagged = np.asarray(scores) > threshold
    out = {"num_images": len(types), "num_good": int((~is_defect).sum()), "threshold": threshold,
           "image_auroc": _auroc(is_defect, scores), "f1": float(f1_score(is_defect, flagged, zero_division=0)),
           "false_alarm_rate": float(flagged[~is_defect].mean()) if (~is_defect).any() else None,
           "detection_rate": float(flagged[is_defect].mean()) if is_defect.any() else None}
    if heat_nhw is not None and masks_nhw is not None and masks_nhw.any():
        out["pixel_auroc"] = _auroc(masks_nhw.ravel(), heat_nhw.ravel())
        out["aupro"] = aupro(heat_nhw, masks_nhw, steps=100)
    return out


def per_defect_rows(types: list[str], scores: np.ndarray, threshold: float, kinds: list[str], heat_nhw=None, masks_nhw=None) -> list[dict]:
    """One row per defect type against the good images: count, AUROC, share detected, pixel AUROC, which score fired."""
    types_a, kinds_a = np.asarray(types), np.asarray(kinds)
    good = types_a == "good"
    rows = []
    for name in sorted(set(types) - {"good"}):
        pick = good | (types_a == name)
        row = {"defect_type": name, "count": int((types_a == name).sum()),
               "image_auroc": _auroc(~good[pick], np.asarray(scores)[pick]),
               "detected": float((np.asarray(scores)[types_a == name] > threshold).mean()),
               "fired_local": int(((kinds_a == "local") & (types_a == name)).sum()),
               "fired_global": int(((kinds_a == "global") & (types_a == name)).sum())}
        if heat_nhw is not None and masks_nhw is not None:
            row["pixel_auroc"] = _auroc(masks_nhw[pick].ravel(), heat_nhw[pick].ravel())
        rows.append(row)
    return rows
