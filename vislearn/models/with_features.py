"""A classifier that also returns its penultimate features, as one tensor every predict backend can run.

``WithFeatures(model)(images_bchw)`` is ``(B, K + D)``: the K class logits, then the D pooled features
the linear head reads (timm's ``forward_head(pre_logits=True)``; vislearn's own backbones answer the same
contract). One output keeps the eager and the ONNX backends unchanged; :func:`split_outputs` undoes it.
"""
from __future__ import annotations

import torch
from torch import nn


class WithFeatures(nn.Module):
    def __init__(self, model: nn.Module, num_classes: int):
        super().__init__()
        self.model = model
        self.num_classes = num_classes

    def forward(self, images_bchw: torch.Tensor) -> torch.Tensor:
        features_map = self.model.forward_features(images_bchw)
        pooled_bd = self.model.forward_head(features_map, pre_logits=True)
        logits_bk = self.model.forward_head(features_map)
        return torch.cat([logits_bk, pooled_bd.flatten(1).to(logits_bk.dtype)], dim=1)


def split_outputs(outputs: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K + D) -> logits (B, K), features (B, D)."""
    return outputs[:, :num_classes], outputs[:, num_classes:]
