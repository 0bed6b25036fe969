"""Segmentation metrics from torchmetrics: per-class IoU and Dice, mean IoU, pixel accuracy.

Pixels whose true value is 255 are not scored. A class absent from both truth and prediction has no
IoU (NaN, left out of the mean) rather than a perfect or a zero score.
"""
from __future__ import annotations

import math

import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex
from torchmetrics.functional.classification import multiclass_jaccard_index

from ..data.masks import IGNORE_INDEX
from .loss import MeanLoss


def _nan_to_none(values: torch.Tensor) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


def mean_iou(pred_hw: torch.Tensor, true_hw: torch.Tensor, num_classes: int) -> float:
    """Mean IoU of one image (or a batch) over the classes present in its truth or prediction."""
    iou = multiclass_jaccard_index(pred_hw, true_hw, num_classes, average="none", ignore_index=IGNORE_INDEX,
                                   zero_division=float("nan"))
    return float(torch.nanmean(iou)) if not torch.isnan(iou).all() else float("nan")


class SegmentationScores:
    """Streamed over batches: ``update(pred (B, H, W) class indices, true (B, H, W))``, then ``compute()``."""

    def __init__(self, num_classes: int, validate: bool = True):
        args = dict(num_classes=num_classes, ignore_index=IGNORE_INDEX, validate_args=validate)
        self.iou = MulticlassJaccardIndex(average="none", zero_division=float("nan"), **args)
        self.dice = MulticlassF1Score(average="none", multidim_average="global", **args)
        self.accuracy = MulticlassAccuracy(average="micro", multidim_average="global", **args)
        self.pixels = torch.zeros(num_classes, dtype=torch.long)

    def update(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        """State stays on the batches' device: nothing is read back per batch."""
        pred, true = pred.detach(), true.detach()
        if self.pixels.device != true.device:
            self.pixels = self.pixels.to(true.device)
        for metric in (self.iou, self.dice, self.accuracy):
            metric.to(true.device).update(pred, true)
        scored = true[true != IGNORE_INDEX]
        self.pixels += torch.bincount(scored.flatten().long(), minlength=len(self.pixels))[: len(self.pixels)]

    def compute(self, class_names: list[str] | None = None) -> dict:
        """miou, mean_dice, pixel_accuracy and per_class_iou rows {name, iou, dice, pixels, pixel_share}."""
        iou = self.iou.compute().cpu()
        dice = torch.where(torch.isnan(iou), torch.nan, self.dice.compute().cpu())  # absent class: no Dice either
        names = class_names or [str(k) for k in range(len(iou))]
        total = max(int(self.pixels.sum()), 1)
        rows = [{"name": n, "iou": i, "dice": d, "pixels": int(p), "pixel_share": int(p) / total}
                for n, i, d, p in zip(names, _nan_to_none(iou), _nan_to_none(dice), self.pixels.tolist())]
        return {"miou": float(torch.nanmean(iou)), "mean_dice": float(torch.nanmean(dice)),
                "pixel_accuracy": float(self.accuracy.compute()), "per_class_iou": rows}


class SegmentationMeter:
    """The engine's validation meter: mean loss, mean IoU (the score) and pixel accuracy."""

    def __init__(self, num_classes: int):
        self.scores = SegmentationScores(num_classes, validate=False)
        self.loss = MeanLoss()

    def update(self, logits: torch.Tensor, masks: torch.Tensor, loss: torch.Tensor) -> None:
        self.scores.update(logits.argmax(dim=1), masks)
        self.loss.update(loss, len(masks))

    def compute(self) -> dict[str, float]:
        if self.loss.count == 0:
            return {"loss": float("nan"), "miou": 0.0, "pixel_accuracy": 0.0}
        scores = self.scores.compute()
        return {"loss": self.loss.compute(), "miou": scores["miou"], "pixel_accuracy": scores["pixel_accuracy"]}
