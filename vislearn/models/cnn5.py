"""``cnn5``: five 3x3 convolutions with BatchNorm for small images (28-64 px: Fashion-MNIST, digits, thumbnails).

Unlike ``small_cnn`` (stride-2 stem) it keeps the input's full resolution in its first block, which is what makes a
28 px picture's fine strokes learnable in few epochs: at 28 px it reached the plain loop's accuracy per epoch of
issue 17 (same layers), at 0.6x tiny_cnn's arithmetic. Widths ``width``, ``width`` | 2x, 2x | 4x; max pools between
the blocks; TinyCNN's average pool and linear head (no dropout: a few epochs of flips do not overfit it).

Contract (shared with timm, as :class:`~vislearn.models.tiny.TinyCNN`): ``feature_info``, ``forward_features`` ->
(B, 4 x width, H/4, W/4), ``forward_head`` -> (B, classes), ``pretrained_cfg``.
"""
from __future__ import annotations

from torch import nn

from .small_cnn import conv_bn_relu
from .tiny import TinyCNN


class FiveConvCNN(TinyCNN):
    def __init__(self, num_classes: int = 10, in_chans: int = 3, width: int = 32, drop_rate: float = 0.0):
        super().__init__(num_classes, in_chans, width, drop_rate)
        w = width
        self.stem = nn.Sequential(*conv_bn_relu(in_chans, w))
        self.stages = nn.Sequential(nn.Sequential(*conv_bn_relu(w, w)),
                                    nn.Sequential(nn.MaxPool2d(2), *conv_bn_relu(w, 2 * w), *conv_bn_relu(2 * w, 2 * w)),
                                    nn.Sequential(nn.MaxPool2d(2), *conv_bn_relu(2 * w, 4 * w)))
        self.feature_info = [
            dict(module="stem", num_chs=w, reduction=1),
            dict(module="stages.0", num_chs=w, reduction=1),
            dict(module="stages.1", num_chs=2 * w, reduction=2),
            dict(module="stages.2", num_chs=4 * w, reduction=4),
        ]
