"""Classification metrics, all computed by torchmetrics; plain dicts out for JSON and the report."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassCalibrationError,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from .loss import MeanLoss

REFER_THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 20)] + [0.96, 0.97, 0.98, 0.99]


class ClassificationMeter:
    """Running loss, accuracy and macro-F1 over batches of logits (B, K) and labels (B,).

    State stays on the batches' device and nothing is read back per batch, so a GPU never waits
    for the meter inside the training loop; ``compute`` syncs once.
    """

    def __init__(self, num_classes: int):
        self.accuracy = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        self.macro_f1 = MulticlassF1Score(num_classes, average="macro", validate_args=False)
        self.loss = MeanLoss()

    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        if self.accuracy.device != logits.device:
            self.accuracy.to(logits.device)
            self.macro_f1.to(logits.device)
        self.accuracy.update(logits, labels)
        self.macro_f1.update(logits, labels)
        self.loss.update(loss, len(labels))

    def compute(self) -> dict[str, float]:
        if self.loss.count == 0:
            return {"loss": float("nan"), "accuracy": 0.0, "macro_f1": 0.0}
        return {"loss": self.loss.compute(), "accuracy": float(self.accuracy.compute()),
                "macro_f1": float(self.macro_f1.compute())}


def reliability_bins(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> dict:
    """Per confidence bin: mean confidence, accuracy and count (what a reliability diagram draws)."""
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, n_bins + 1)
    which = torch.bucketize(confidence, edges[1:-1], right=True)
    out = {"bin_edges": edges.tolist(), "bin_accuracy": [], "bin_confidence": [], "bin_count": []}
    for b in range(n_bins):
        mask = which == b
        n = int(mask.sum())
        out["bin_count"].append(n)
        out["bin_accuracy"].append(float(correct[mask].mean()) if n else 0.0)
        out["bin_confidence"].append(float(confidence[mask].mean()) if n else 0.0)
    return out


def coverage_curve(probs: torch.Tensor, labels: torch.Tensor, thresholds=REFER_THRESHOLDS) -> list[dict]:
    """Accuracy on the images kept, and the share kept, when those below a confidence are referred."""
    confidence, predicted = probs.max(dim=1)
    correct = predicted == labels
    rows = []
    for t in thresholds:
        kept = confidence >= t
        n = int(kept.sum())
        rows.append({"threshold": t, "coverage": n / max(len(labels), 1),
                     "accuracy": float(correct[kept].float().mean()) if n else float("nan")})
    return rows


def classification_report(probs: torch.Tensor, labels: torch.Tensor, class_names: list[str], n_bins: int = 15) -> dict:
    """All evaluation numbers for calibrated ``probs`` (N, K) against ``labels`` (N,)."""
    k = len(class_names)
    per_p = MulticlassPrecision(k, average=None)(probs, labels)
    per_r = MulticlassRecall(k, average=None)(probs, labels)
    per_f = MulticlassF1Score(k, average=None)(probs, labels)
    support = torch.bincount(labels, minlength=k)
    present = labels.unique()
    auroc = float(MulticlassAUROC(k, average="macro")(probs, labels)) if len(present) == k else float("nan")
    return {
        "num_images": int(len(labels)),
        "accuracy": float(MulticlassAccuracy(k, average="micro")(probs, labels)),
        "macro_f1": float(MulticlassF1Score(k, average="macro")(probs, labels)),
        "auroc": auroc,
        "ece": float(MulticlassCalibrationError(k, n_bins=n_bins, norm="l1")(probs, labels)),
        "nll": float(F.nll_loss(probs.clamp_min(1e-12).log(), labels)),
        "per_class": [
            {"name": name, "precision": float(per_p[i]), "recall": float(per_r[i]), "f1": float(per_f[i]), "support": int(support[i])}
            for i, name in enumerate(class_names)
        ],
        "confusion_matrix": MulticlassConfusionMatrix(k)(probs, labels).tolist(),
        "reliability": reliability_bins(probs, labels, n_bins),
        "coverage": coverage_curve(probs, labels),
    }
