"""A CNN for small images (28-64 px: Fashion-MNIST, digits, thumbnails) that costs little on a CPU.

``tiny_cnn`` runs two convolutions at full resolution; at 28 px most of its time goes there. This model halves the
resolution in its first convolution (stride 2) and spends its width at 1/2 and 1/4 of the input side, so a training
step costs 0.6x its arithmetic at 28 px (130 vs 220 MFLOP an image; docs/scale.md, time to accuracy).

Contract (shared with timm, as :class:`~vislearn.models.tiny.TinyCNN`): ``feature_info``, ``forward_features`` ->
(B, C, H/4, W/4), ``forward_head`` -> (B, classes), ``pretrained_cfg``.
"""
from __future__ import annotations

from torch import nn

from .tiny import TinyCNN


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class SmallImageCNN(TinyCNN):
    """Stem (stride 2, ``width``), two convolutions at 1/2 (2x width), max pool, two at 1/4 (4x width); TinyCNN's
    average pool, dropout and linear head on the 4x ``width`` features."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, width: int = 32, drop_rate: float = 0.1):
        super().__init__(num_classes, in_chans, width, drop_rate)
        w = width
        self.stem = nn.Sequential(*conv_bn_relu(in_chans, w, stride=2))
        self.stages = nn.Sequential(nn.Sequential(*conv_bn_relu(w, 2 * w), *conv_bn_relu(2 * w, 2 * w)),
                                    nn.Sequential(nn.MaxPool2d(2), *conv_bn_relu(2 * w, 4 * w), *conv_bn_relu(4 * w, 4 * w)))
        self.feature_info = [
            dict(module="stem", num_chs=w, reduction=2),
            dict(module="stages.0", num_chs=2 * w, reduction=2),
            dict(module="stages.1", num_chs=4 * w, reduction=4),
        ]
