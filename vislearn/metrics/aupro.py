"""AUPRO: area under the per-region-overlap curve up to a false-positive rate (0.3), normalised to [0, 1]."""
from __future__ import annotations

import numpy as np
from skimage.measure import label, regionprops


def pro_curve(heatmaps_nhw: np.ndarray, masks_nhw: np.ndarray, steps: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, PRO) at ``steps`` thresholds over the heatmaps' range, FPR ascending.

    PRO at a threshold: mean over every connected defect region of the share of its pixels above it.
    FPR: share of defect-free pixels above it.
    """
    heat = np.asarray(heatmaps_nhw, dtype=np.float64)
    masks = np.asarray(masks_nhw) > 0
    regions = [(i, r.coords) for i in range(len(masks)) for r in regionprops(label(masks[i], connectivity=2))]
    if not regions:
        raise ValueError("AUPRO needs at least one defect region in the masks")
    region_scores = [heat[i][coords[:, 0], coords[:, 1]] for i, coords in regions]
    normal = np.sort(heat[~masks])
    thresholds = np.linspace(heat.max(), heat.min(), steps)
    fpr = 1.0 - np.searchsorted(normal, thresholds, side="right") / max(len(normal), 1)
    pro = np.array([np.mean([(s > t).mean() for s in region_scores]) for t in thresholds])
    # below every score, everything is flagged: the curve ends at (1, 1)
    return np.concatenate([[0.0], fpr, [1.0]]), np.concatenate([[0.0], pro, [1.0]])


def aupro(heatmaps_nhw: np.ndarray, masks_nhw: np.ndarray, max_fpr: float = 0.3, steps: int = 200) -> float:
    """Area under PRO(FPR) for FPR in [0, max_fpr], divided by max_fpr (1.0 = every region found before any false alarm)."""
    fpr, pro = pro_curve(heatmaps_nhw, masks_nhw, steps)
    keep = fpr <= max_fpr
    x, y = fpr[keep], pro[keep]
    if x[-1] < max_fpr:  # close the curve at max_fpr by interpolating to the next point
        nxt = np.searchsorted(fpr, max_fpr)
        if nxt < len(fpr):
            y_end = np.interp(max_fpr, fpr[nxt - 1:nxt + 1], pro[nxt - 1:nxt + 1])
            x, y = np.append(x, max_fpr), np.append(y, y_end)
    return float(np.trapezoid(y, x) / max_fpr)
