"""A segment run's trained model, read back from the run folder (below train, outputs and explanations)."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from ...engine import BEST, load_tensors
from ...errors import CheckpointError
from ...models.segmentation import create_segmentation_model


def load_segmentation_model(run) -> nn.Module:
    """A run's best weights in a freshly built segmentation model (CPU, eval mode); safetensors only."""
    model = create_segmentation_model(run.config.model, len(run.class_names), weights="none")
    try:
        model.load_state_dict(load_tensors(Path(run.dir) / BEST)[0])
    except RuntimeError as exc:
        raise CheckpointError(f"{Path(run.dir) / BEST}: does not fit segmentation model {run.config.model} ({exc})") from None
    return model.eval()
