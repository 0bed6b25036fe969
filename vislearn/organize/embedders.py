"""Embedders by name: a model that turns (B, 3, H, W) images into (B, D) L2-normalised vectors.

``lite0`` (default, offline): ImageNet EfficientNet-Lite0, several layers pooled, plus ImageNet top-5 per image
for naming. ``openclip:<arch>``: image and text embeddings (weights from a file or the hub). ``self-supervised``:
a small CNN learnt on the collection itself (see :mod:`vislearn.organize.selfsup`).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from ..errors import UnknownNameError
from ..registry import Registry
from .embedder import TOP_K, Embedded, Embedder, l2  # noqa: F401  (re-exported: callers import them from here)

EMBEDDERS: Registry = Registry("embedder")


def grid_pool(maps_bchw: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C * 4): the mean of each quadrant (odd sizes share the middle row/column).

    Same numbers as ``adaptive_avg_pool2d(x, 2)`` for even sizes, but exports to ONNX (sizes become constants).
    """
    h, w = maps_bchw.shape[-2:]
    top, left = (int(h) + 1) // 2, (int(w) + 1) // 2
    cells = [maps_bchw[..., :top, :left], maps_bchw[..., :top, w - left:], maps_bchw[..., h - top:, :left], maps_bchw[..., h - top:, w - left:]]
    return torch.stack([c.mean((2, 3)) for c in cells], -1).flatten(1)


class EfficientNetLayers(nn.Module):
    """timm EfficientNet -> (B, D + 1000): mid-level maps pooled on a 2x2 grid (where things are), deeper
    ones pooled whole (what is there), each block L2-normalised so no layer dominates; then the logits."""

    GRID_BLOCKS = (3, 4)
    POOLED_BLOCKS = (5,)
    GRID_WEIGHT = 2.0  # where-things-are counts double: measured best on photos and digits (docs/organize.md)

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        m = self.model
        h = m.bn1(m.conv_stem(images))
        parts = []
        for i, block in enumerate(m.blocks):
            h = block(h)
            if i in self.GRID_BLOCKS:
                parts.append(self.GRID_WEIGHT * l2(grid_pool(h)))
            elif i in self.POOLED_BLOCKS:
                parts.append(l2(h.mean((2, 3))))
        pooled = m.bn2(m.conv_head(h)).mean((2, 3))
        parts.append(l2(pooled))  # last: the plain pooled embedding, the evaluation's baseline slice
        weights = len(self.GRID_BLOCKS) * self.GRID_WEIGHT ** 2 + len(parts) - len(self.GRID_BLOCKS)
        embedding = torch.cat(parts, 1) / math.sqrt(weights)  # unit length
        return torch.cat([embedding, m.classifier(pooled)], 1)


def layer_names() -> list[str]:
    """Names of the parts of :class:`EfficientNetLayers`' embedding, in the order of :func:`layer_dims`."""
    return ([f"block {i} (2x2 grid)" for i in EfficientNetLayers.GRID_BLOCKS] + [f"block {i}" for i in EfficientNetLayers.POOLED_BLOCKS]
            + ["pooled"])


def layer_dims(model: nn.Module) -> list[int]:
    """Width of each part of :class:`EfficientNetLayers`' embedding, in order (the last is the pooled one)."""
    chs = [b[-1].conv_pwl.out_channels if hasattr(b[-1], "conv_pwl") else b[-1].conv_pw.out_channels for b in model.blocks]
    return [chs[i] * 4 for i in EfficientNetLayers.GRID_BLOCKS] + [chs[i] for i in EfficientNetLayers.POOLED_BLOCKS] + [model.num_features]


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet-1k class descriptions ("Egyptian cat", "seashore, coast, ..."), shipped with timm."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(info.num_classes())]


@EMBEDDERS.register("lite0")
def lite0(weights: str | None = None, image_size: int = 224, **_) -> Embedder:
    from ..models import create_model, preprocessing_for

    model = create_model("tf_efficientnet_lite0", 1000, weights or "auto").eval()
    pre = preprocessing_for(model, image_size)
    dims = layer_dims(model)
    key = f"lite0-{image_size}-{'+'.join(map(str, dims))}-grid{EfficientNetLayers.GRID_WEIGHT:g}" + (f"-{Path(weights).name}" if weights else "")
    return Embedder("lite0", key, EfficientNetLayers(model).eval(), sum(dims), image_size, pre.mean, pre.std,
                    class_names=imagenet_class_names(), pooled_dim=dims[-1], parts=tuple(zip(layer_names(), dims)))


@EMBEDDERS.register("openclip")
def openclip(arch: str = "ViT-B-32", weights: str | None = None, **options) -> Embedder:
    from .openclip import openclip_embedder

    return openclip_embedder(arch, weights, **options)


@EMBEDDERS.register("self-supervised")
def self_supervised(weights: str | None = None, **options) -> Embedder:
    from .selfsup import selfsup_embedder

    return selfsup_embedder(weights, **options)


def create_embedder(spec: str, **options) -> Embedder:
    """``lite0``, ``self-supervised`` or ``openclip:<arch>`` (e.g. ``openclip:ViT-B-32``)."""
    name, _, arg = spec.partition(":")
    if name not in EMBEDDERS:
        raise UnknownNameError(f"unknown embedder {spec!r}; known: lite0, self-supervised, openclip:<arch> (e.g. openclip:ViT-B-32)")
    return EMBEDDERS.get(name)(arch=arg, **options) if arg else EMBEDDERS.get(name)(**options)
