"""Is a retrained model at least as good as the one it would replace? Old and new scored on the same frozen images.

- Accuracy, macro-F1 and ECE of each (torchmetrics, via :func:`classification_report`), recall per class.
- The paired difference in accuracy with a bootstrap 95 % interval (the images resampled together).
- McNemar's exact test on the images only one model gets right (scipy's binomial test on the discordant pairs).

Rule (stated in the log and ``gate.json``): the new model is promoted unless its accuracy is lower by more than
``margin`` (default 0.01), or McNemar shows it significantly worse (it alone wrong on more images, p < 0.05).
Per-class drops larger than the margin are listed either way, so a person sees where it got worse.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import binomtest

from .classification import classification_report

SIGNIFICANCE = 0.05


def compare_models(old_probs_nk: torch.Tensor, new_probs_nk: torch.Tensor, labels_n: torch.Tensor, class_names: list[str],
                   margin: float = 0.01, resamples: int = 2000, seed: int = 0) -> dict:
    """The gate's figures and verdict for calibrated probabilities of the old and new model on the same N images."""
    old = classification_report(old_probs_nk, labels_n, class_names)
    new = classification_report(new_probs_nk, labels_n, class_names)
    old_right = (old_probs_nk.argmax(1) == labels_n).numpy()
    new_right = (new_probs_nk.argmax(1) == labels_n).numpy()
    only_old, only_new = int((old_right & ~new_right).sum()), int((~old_right & new_right).sum())
    p_value = float(binomtest(min(only_old, only_new), only_old + only_new, 0.5).pvalue) if only_old + only_new else 1.0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels_n), (resamples, len(labels_n)))
    differences = new_right[picks].mean(1) - old_right[picks].mean(1)
    difference = float(new_right.mean() - old_right.mean())
    per_class = [{"name": a["name"], "support": a["support"], "old_recall": round(a["recall"], 4), "new_recall": round(b["recall"], 4)}
                 for a, b in zip(old["per_class"], new["per_class"])]
    reasons = []
    if difference < -margin:
        reasons.append(f"accuracy fell by {-difference:.4f} ({old['accuracy']:.4f} -> {new['accuracy']:.4f}), more than the margin {margin}")
    if only_old > only_new and p_value < SIGNIFICANCE:
        reasons.append(f"significantly more images wrong: {only_old} only the new model gets wrong vs {only_new} only the old "
                       f"one does (McNemar exact p = {p_value:.3g})")
    worse = [c["name"] for c in per_class if c["support"] and c["old_recall"] - c["new_recall"] > margin]
    return {"promoted": not reasons, "reasons": reasons, "margin": margin, "images": int(len(labels_n)),
            "accuracy": {"old": old["accuracy"], "new": new["accuracy"]}, "macro_f1": {"old": old["macro_f1"], "new": new["macro_f1"]},
            "ece": {"old": old["ece"], "new": new["ece"]}, "accuracy_difference": difference,
            "difference_interval_95": [float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))],
            "mcnemar": {"only_old_right": only_old, "only_new_right": only_new, "p_value": p_value},
            "worse_classes": worse, "per_class": per_class}
