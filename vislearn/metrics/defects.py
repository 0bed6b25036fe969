"""Defect metrics: image AUROC and F1 at the threshold, pixel AUROC and AUPRO wherever masks exist, per defect type.

Pixel metrics use every test image whose pixels have a ground truth: the defective images that come with a
mask, plus every good image (its mask is all zero). Defect types without masks are left out of them, and the
per-type rows say which types had masks. With no masks at all the pixel metrics are None, shown as "no masks".
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from .aupro import aupro

DRIFT_P = 0.01  # false alarms on good test images this unlikely under the threshold's promise: warn (drift)
NO_MASKS = "no masks"  # what the log and the report show instead of a pixel metric when no defect type has masks


class PixelTruth(NamedTuple):
    """The test images whose pixels have a ground truth (defective with a mask file, or good)."""

    types: list[str]  # (n,) "good" or a defect type
    heat_nhw: np.ndarray  # (n, H, W) float heatmaps
    masks_nhw: np.ndarray  # (n, H, W) bool defect masks (all False for good images)


def _auroc(labels, scores) -> float | None:
    labels = np.asarray(labels)
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def _masked_types(pixels: PixelTruth | None) -> list[str]:
    return sorted({t for t in pixels.types if t != "good"}) if pixels is not None else []


def pixel_metrics(pixels: PixelTruth | None) -> dict:
    """Pixel AUROC (scikit-learn) and AUPRO over the images in ``pixels``; None for both without defect pixels."""
    if pixels is None or not pixels.masks_nhw.any():
        return {"pixel_auroc": None, "aupro": None}
    return {"pixel_auroc": _auroc(pixels.masks_nhw.ravel(), pixels.heat_nhw.ravel()),
            "aupro": aupro(pixels.heat_nhw, pixels.masks_nhw, steps=100)}


def defect_metrics(types: list[str], scores: np.ndarray, threshold: float, pixels: PixelTruth | None = None) -> dict:
    """``types`` (N,) "good" or a defect name, ``scores`` (N,); ``pixels``: the images with a pixel ground truth."""
    is_defect = np.asarray([t != "good" for t in types])
    flagged = np.asarray(scores) > threshold
    masked = _masked_types(pixels)
    return {"num_images": len(types), "num_good": int((~is_defect).sum()), "threshold": threshold,
            "image_auroc": _auroc(is_defect, scores), "f1": float(f1_score(is_defect, flagged, zero_division=0)),
            "false_alarm_rate": float(flagged[~is_defect].mean()) if (~is_defect).any() else None,
            "detection_rate": float(flagged[is_defect].mean()) if is_defect.any() else None,
            **pixel_metrics(pixels if masked else None),
            "types_with_masks": masked, "types_without_masks": sorted(set(types) - {"good"} - set(masked)),
            "pixel_images": len(pixels.types) if masked else 0}


def false_alarm_check(flagged_good: int, num_good: int, conformal: dict | None, level: float = DRIFT_P) -> dict | None:
    """The good test images flagged, against what the threshold promised. A conformal threshold at rank k of n
    calibration scores lets new good images through at a rate that is Beta(n + 1 - k, k)-distributed over calibration
    draws (mean: the promise), so the count flagged among ``num_good`` is beta-binomial (scipy): ``p_value`` =
    P(at least ``flagged_good``); below ``level`` these good images are unlike the calibration ones (a new batch
    drifted). ``expected`` is the central 95 % range of the flagged share. None for runs without a conformal threshold."""
    if not conformal or not num_good or "rank" not in conformal:
        return None
    from scipy.stats import betabinom

    n, k = conformal["calibration_images"], conformal["rank"]
    counts = betabinom(num_good, n + 1 - k, k)
    p_value = float(counts.sf(flagged_good - 1))
    return {"flagged": flagged_good, "good": num_good, "rate": flagged_good / num_good,
            "promised": conformal["guaranteed_false_alarm"], "expected": [float(counts.ppf(0.025)) / num_good,
                                                                         float(counts.ppf(0.975)) / num_good],
            "p_value": p_value, "drift": p_value < level}


def false_alarm_line(check: dict) -> str:
    """The good test images flagged against the threshold's promise, for the log and the report."""
    said = (f"good test images flagged: {check['flagged']} of {check['good']} ({check['rate']:.1%}); the threshold promised "
            f"{check['promised']:.1%} (95 % of calibration draws give {check['expected'][0]:.1%}-{check['expected'][1]:.1%})")
    if check["drift"]:
        return (f"warning: {said}: so many are unlikely (p = {check['p_value']:.3g}); these good images differ from the "
                "training ones (a new batch?): check them, and train again with good images of this batch")
    return said


def _pixels_of(pixels: PixelTruth, name: str) -> PixelTruth | None:
    """The good images and those of defect type ``name`` among ``pixels``; None when ``name`` has no masks."""
    if name not in pixels.types:
        return None
    pick = np.asarray([t in ("good", name) for t in pixels.types])
    return PixelTruth([t for t, p in zip(pixels.types, pick) if p], pixels.heat_nhw[pick], pixels.masks_nhw[pick])


def per_defect_rows(types: list[str], scores: np.ndarray, threshold: float, kinds: list[str],
                    pixels: PixelTruth | None = None) -> list[dict]:
    """One row per defect type against the good images: count, AUROC, share detected, whether it had masks and
    then its pixel AUROC, which score fired."""
    types_a, kinds_a, scores = np.asarray(types), np.asarray(kinds), np.asarray(scores)
    good = types_a == "good"
    rows = []
    for name in sorted(set(types) - {"good"}):
        pick = good | (types_a == name)
        own = _pixels_of(pixels, name) if pixels is not None else None
        rows.append({"defect_type": name, "count": int((types_a == name).sum()),
                     "image_auroc": _auroc(~good[pick], scores[pick]),
                     "detected": float((scores[types_a == name] > threshold).mean()),
                     "has_masks": own is not None,
                     "pixel_auroc": _auroc(own.masks_nhw.ravel(), own.heat_nhw.ravel()) if own is not None else None,
                     "fired_local": int(((kinds_a == "local") & (types_a == name)).sum()),
                     "fired_global": int(((kinds_a == "global") & (types_a == name)).sum())})
    return rows


def pixel_text(metrics: dict, key: str = "pixel_auroc") -> str:
    """A pixel metric for the log: 4 decimals, or "no masks" when no defect type had masks."""
    value = metrics.get(key)
    return f"{value:.4f}" if value is not None else NO_MASKS if not metrics.get("types_with_masks") else "–"
