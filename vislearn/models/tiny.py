"""A small CNN for CPU smoke runs that answers the same contract as timm models.

Contract (shared with timm): ``feature_info`` (list of dicts with ``module``, ``num_chs``,
``reduction``), ``forward_features`` -> (B, C, H', W'), ``forward_head`` -> (B, classes),
``pretrained_cfg`` with ``mean``/``std``/``input_size``/``classifier``/``first_conv``.
"""
from __future__ import annotations

import torch
from torch import nn


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class TinyCNN(nn.Module):
    """Three conv stages (widths ``width``, 2x, 4x), global average pool, linear head."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, width: int = 32, drop_rate: float = 0.1):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(in_chans, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.stages = nn.Sequential(_stage(w, w), _stage(w, 2 * w), _stage(2 * w, 4 * w))
        self.num_features = 4 * w
        self.num_classes = num_classes
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes)
        self.feature_info = [
            dict(module="stem", num_chs=w, reduction=1),
            dict(module="stages.0", num_chs=w, reduction=2),
            dict(module="stages.1", num_chs=2 * w, reduction=4),
            dict(module="stages.2", num_chs=4 * w, reduction=8),
        ]
        self.pretrained_cfg = dict(
            mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), input_size=(in_chans, 32, 32),
            interpolation="bilinear", classifier="fc", first_conv="stem.0",
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean(dim=(2, 3)))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
