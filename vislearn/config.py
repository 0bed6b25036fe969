"""Run configuration: a frozen dataclass that round-trips through the JSON beside each checkpoint."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainConfig:
    task: str = "classify"
    data: str = ""
    model: str = "tf_efficientnet_lite0"
    weights: str = "auto"  # "auto" | "hub" | "none" | path to a local weights file
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float | None = 0.05  # None: the optimizer's own (engine/recipe.py: AdamW 0.05, SGD 5e-4)
    optimizer: str = "adamw"  # "adamw" | "sgd" (Nesterov momentum 0.9): engine/recipe.py OPTIMIZERS
    schedule: str = "cosine"  # "cosine" (warm-up, cosine to 1 %) | "onecycle": per step, engine/recipe.py SCHEDULES
    label_smoothing: float = 0.0  # classify: share of each target spread over all the classes
    warmup_epochs: float = 1.0
    patience: int = 5  # early stopping: epochs without a better validation score
    image_size: int | None = None  # None: from the data (median size, clamped to 64..model default)
    augment: str = "light"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # "auto" | "fp32" | "bf16" | "fp16"
    channels_last: bool | None = None  # None: auto, for conv models on CUDA and CPU (engine/recipe.choose_memory_format)
    workers: int = -1  # -1: one per core but one
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    grad_clip: float | None = 5.0
    # several batches per optimizer step, and several processes (torchrun): see docs/distributed.md
    accumulate: int = 1  # batches whose gradients make one optimizer step
    global_batch: int | None = None  # images per optimizer step over all processes: sets accumulate
    sync_bn: bool = False  # BatchNorm statistics over all processes' batches (CUDA only)
    explain_examples: int = 12
    # referral (classify): see vislearn/tasks/classify/referral.py
    calibration_share: float = 0.5  # of the held-out images: calibrate (the rest picks the epoch)
    refer_below: float = 0.8  # fixed confidence threshold, used when max_error is None
    max_error: float | None = None  # guaranteed error rate among the images decided without a human
    guarantee_level: float = 0.95  # probability with which max_error holds
    prediction_sets: float | None = None  # coverage level of conformal prediction sets
    unlike_rate: float = 0.05  # at most this share of images like the training ones referred as "unlike training images"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**d)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
