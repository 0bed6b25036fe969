"""Running a trained model over a loader (labelled or not) and gathering its outputs."""
from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from .device import autocast


@torch.inference_mode()
def collect_outputs(model: nn.Module, loader, device: torch.device, precision: str = "fp32",
                    fmt: torch.memory_format = torch.contiguous_format, desc: str = "evaluate", progress: bool = True):
    """(outputs (N, ...) float32 on CPU, labels (N,), dataset indices (N,), failed problems)."""
    model.eval()
    outputs, labels, indices, failed = [], [], [], []
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False, unit="batch", dynamic_ncols=True):
        failed.extend(batch.failed)
        if len(batch) == 0:
            continue
        with autocast(device, precision):
            out = model(batch.images.to(device, memory_format=fmt))
        outputs.append(out.float().cpu())
        labels.append(batch.labels)
        indices.append(batch.indices)
    if not outputs:
        return torch.empty(0), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long), failed
    return torch.cat(outputs), torch.cat(labels), torch.cat(indices), failed
