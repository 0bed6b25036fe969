"""Semantic segmentation: a U-Net on any backbone, cross-entropy + Dice, mean IoU; whole images scored by sliding window."""
from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from ...config import TrainConfig
from ...data.mask_dataset import make_mask_loader
from ...data.mask_transforms import eval_pair_transform, train_pair_transform
from ...data.masks import IGNORE_INDEX, MaskData, MaskSample, read_mask_data
from ...engine import BEST, default_workers, fit, load_tensors, pick_device, pick_precision, write_json
from ...engine.sliding_window import TILE_OVERLAP
from ...metrics.segmentation import SegmentationMeter
from ...models import Preprocessing, preprocessing_for
from ...models.segmentation import create_segmentation_model
from ..common import log_data_notes
from .outputs import evaluate_samples

SUMMARY_KEYS = ("split", "miou", "mean_dice", "pixel_accuracy")  # what `vislearn train segment --json` prints
DEFAULTS = {"dice_weight": 0.5, "tile_overlap": TILE_OVERLAP}
MAX_AUTO_SIZE = 512  # auto tile size: median image side, at most this (larger images are tiled)


def options(config: TrainConfig) -> dict:
    return {**DEFAULTS, **config.extra}


def dice_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice averaged over classes present in the batch; logits (B, K, H, W), masks (B, H, W), 255 ignored."""
    scored = (masks != IGNORE_INDEX).unsqueeze(1)
    probs = logits.float().softmax(dim=1) * scored
    one_hot = F.one_hot(masks.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2) * scored
    inter = (probs * one_hot).sum(dim=(0, 2, 3))
    total = probs.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    present = one_hot.sum(dim=(0, 2, 3)) > 0
    dice = (2 * inter + 1) / (total + 1)
    return 1 - dice[present].mean() if present.any() else logits.sum() * 0


class SegmentTask:
    """What the engine needs from segmentation: a loss and a validation meter scored by mean IoU."""

    score_name = "miou"

    def __init__(self, num_classes: int, dice_weight: float = 0.5):
        self.num_classes = num_classes
        self.dice_weight = dice_weight

    def loss(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits.float(), masks, ignore_index=IGNORE_INDEX)
        return loss + self.dice_weight * dice_loss(logits, masks) if self.dice_weight else loss

    def new_meter(self) -> SegmentationMeter:
        return SegmentationMeter(self.num_classes)


def auto_tile_size(samples: list[MaskSample], limit: int = MAX_AUTO_SIZE) -> int:
    """Median longer image side rounded up to 32, within [64, ``limit``]."""
    median = statistics.median(max(s.size_wh) for s in samples) if samples else limit
    return max(64, min(limit, int(-(-median // 32) * 32)))


def loaders(data: MaskData, pre: Preprocessing, config: TrainConfig):
    workers = default_workers() if config.workers < 0 else config.workers
    train = make_mask_loader(data.splits["train"], train_pair_transform(pre, config.augment), config.batch_size, True, workers, config.seed)
    val = make_mask_loader(data.splits["val"], eval_pair_transform(pre), config.batch_size, False, workers)
    return train, val


def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Read image/mask pairs, train, then score whole images of the test split (else val) with the best weights."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = read_mask_data(config.data, config.seed, config.val_fraction, config.test_fraction)
    log_data_notes(data.warnings, data.skipped, log)
    torch.manual_seed(config.seed)
    model = create_segmentation_model(config.model, len(data.class_names), config.weights)
    size = config.image_size or auto_tile_size(data.splits["train"])
    pre = preprocessing_for(model, size)
    config = config.replace(image_size=size, extra=options(config))
    log(f"data {data.source}: {len(data.class_names)} classes ({', '.join(data.class_names)}), "
        + ", ".join(f"{k} {len(v)}" for k, v in data.splits.items()) + f"; model {config.model} on {size}px tiles")
    device = pick_device(config.device)
    runtime = {"device": str(device), "precision": pick_precision(device, config.precision), "torch": torch.__version__}
    write_json(run_dir / "config.json", {**config.to_dict(), "class_names": data.class_names, "preprocessing": pre.to_dict(),
                                         "runtime": runtime})
    write_json(run_dir / "data_summary.json", data.summary())
    train_loader, val_loader = loaders(data, pre, config)
    task = SegmentTask(len(data.class_names), config.extra["dice_weight"])
    result = fit(model, task, train_loader, val_loader, config, run_dir, resume, log, progress)
    summary = data.summary()
    summary["skipped"] += [vars(p) for p in result.skipped if p.path not in {s["path"] for s in summary["skipped"]}]
    write_json(run_dir / "data_summary.json", summary)
    model.load_state_dict(load_tensors(run_dir / BEST)[0])
    split = "test" if data.splits.get("test") else "val"
    metrics = evaluate_samples(model.eval(), data.splits[split], data.class_names, pre, config, run_dir, split, progress)
    metrics.update(best_epoch=result.best_epoch, stopped_early=result.stopped_early)
    write_json(run_dir / "metrics.json", metrics)
    return {"model": model, "data": data, "preprocessing": pre, "metrics": metrics, "config": config}
