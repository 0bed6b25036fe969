"""A detect run's options and its trained detector, read back from the run folder (below train, outputs and CLI)."""
from __future__ import annotations

import torch

from ...config import TrainConfig
from ...engine import BEST, load_tensors
from ...errors import CheckpointError
from ...models import Preprocessing
from ...models.detection import create_detector

DEFAULTS = {"conf": 0.25, "iou": 0.5, "layout": "auto"}
NEW_RUN_DEFAULTS = {"box_loss": "giou", "resize_mode": "letterbox"}  # written into each new run; runs without them trained on "l1", "stretch"


def options(config: TrainConfig) -> dict:
    return {**DEFAULTS, **config.extra}


def thresholds(run, conf: float | None, iou: float | None) -> tuple[float, float]:
    """(conf, iou): the given ones, else the run's."""
    opts = options(run.config)
    return (opts["conf"] if conf is None else conf), (opts["iou"] if iou is None else iou)


def load_detector(run) -> tuple[torch.nn.Module, Preprocessing]:
    """The best epoch's detector of a run folder, in eval mode on the CPU (safetensors only)."""
    model = create_detector(run.config.model, len(run.class_names), "none", run.preprocessing.image_size)
    weights, _ = load_tensors(run.dir / BEST)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{run.dir / BEST}: does not fit detector {run.config.model} ({exc})") from None
    return model.eval(), run.preprocessing
