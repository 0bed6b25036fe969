"""Segmentation models by name: a U-Net decoder on any backbone that answers the timm feature contract.

The encoder is built by :func:`vislearn.models.create_model` (so ``weights="auto"`` loads the packaged
EfficientNet-Lite0 offline) and asked for multi-scale features with ``forward_intermediates``; vislearn's
own small CNNs, which only list ``feature_info``, are tapped with forward hooks scoped to one call.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import Registry
from .backbones import create_model
from .tiny import TinyCNN

SEG_MODELS: Registry[Callable[..., nn.Module]] = Registry("segmentation model")
MAX_DECODER_WIDTH = 128


def feature_levels(encoder: nn.Module) -> tuple[list[int], list[int]]:
    """(feature_info indices, channels): the deepest feature of each distinct stride, shallow to deep."""
    info = list(getattr(encoder.feature_info, "info", encoder.feature_info))
    last_of_stride = {d["reduction"]: i for i, d in enumerate(info)}
    indices = sorted(last_of_stride.values())
    return indices, [int(info[i]["num_chs"]) for i in indices]


class _Taps:
    """Forward hooks on named modules for one forward pass; removed on exit."""

    def __init__(self, model: nn.Module, names: list[str]):
        self.modules = [model.get_submodule(n) for n in names]
        self.outputs: dict[int, torch.Tensor] = {}

    def __enter__(self):
        self.handles = [m.register_forward_hook(self._keep(i)) for i, m in enumerate(self.modules)]
        return self

    def _keep(self, i: int):
        def hook(_module, _inputs, output):
            self.outputs[i] = output
        return hook

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Two 3x3 conv + BN + ReLU; the first conv strided by ``stride`` (2 halves the resolution)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class EncoderDecoder(nn.Module):
    """``(B, 3, H, W) -> (B, num_classes, H, W)`` logits: encoder features fused deep to shallow (U-Net).

    Each decoder step upsamples to the next shallower feature's size (any stride pattern works), concatenates
    it and applies two 3x3 convs; a 1x1 conv gives per-class logits, upsampled bilinearly to the input size.
    """

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.indices, channels = feature_levels(encoder)
        self.uses_intermediates = hasattr(encoder, "forward_intermediates")
        if self.uses_intermediates and hasattr(encoder, "prune_intermediate_layers"):
            try:  # drop the classifier head and unused deep blocks: fewer weights to save
                encoder.prune_intermediate_layers(self.indices, prune_head=True)
            except (NotImplementedError, AssertionError, TypeError, ValueError):
                pass
        self.encoder = encoder
        self.num_classes = num_classes
        self.pretrained_cfg = getattr(encoder, "pretrained_cfg", {})
        widths = [min(max(c, 16), MAX_DECODER_WIDTH) for c in channels]
        self.top = _block(channels[-1], widths[-1])
        self.blocks = nn.ModuleList(_block(widths[i + 1] + channels[i], widths[i]) for i in reversed(range(len(channels) - 1)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features, shallow to deep, each (B, C_i, H / s_i, W / s_i)."""
        if self.uses_intermediates:
            return self.encoder.forward_intermediates(x, indices=self.indices, intermediates_only=True)
        info = list(self.encoder.feature_info)
        with _Taps(self.encoder, [info[i]["module"] for i in self.indices]) as taps:
            self.encoder.forward_features(x)
        return [taps.outputs[i] for i in range(len(self.indices))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        y = self.top(features[-1])
        for skip, block in zip(reversed(features[:-1]), self.blocks):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        return F.interpolate(self.head(y), size=x.shape[-2:], mode="bilinear", align_corners=False)


class TinyEncoder(nn.Module):
    """Four strided stages (strides 2, 4, 8, 16) answering ``feature_info`` and ``forward_intermediates`` like timm."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48, 64), in_chans: int = 3):
        super().__init__()
        chans = (in_chans,) + tuple(widths)
        self.stages = nn.ModuleList(_block(chans[i], chans[i + 1], stride=2) for i in range(len(widths)))
        self.feature_info = [dict(module=f"stages.{i}", num_chs=w, reduction=2 ** (i + 1)) for i, w in enumerate(widths)]
        self.pretrained_cfg = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), input_size=(in_chans, 96, 96), interpolation="bilinear")

    def forward_intermediates(self, x: torch.Tensor, indices: list[int] | None = None, intermediates_only: bool = True) -> list[torch.Tensor]:
        wanted = set(range(len(self.stages)) if indices is None else indices)
        features = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in wanted:
                features.append(x)
        return features


@SEG_MODELS.register("tiny_unet")
def tiny_unet(num_classes: int, weights: str | None = None) -> nn.Module:
    """U-Net on a 4-stage strided CNN (widths 16/32/48/64, ~0.2 M weights): trains on a CPU in minutes."""
    return EncoderDecoder(TinyEncoder(), num_classes)


@SEG_MODELS.register("tiny_cnn_unet")
def tiny_cnn_unet(num_classes: int, weights: str | None = None) -> nn.Module:
    """U-Net on vislearn's TinyCNN classifier backbone (features tapped by hooks; full-resolution stem, slower)."""
    return EncoderDecoder(TinyCNN(num_classes=1, width=16), num_classes)


def create_segmentation_model(name: str, num_classes: int, weights: str | None = "auto") -> nn.Module:
    """A registered segmentation model, or a U-Net on backbone ``name`` (a vislearn or timm name) with ``weights``."""
    if name in SEG_MODELS:
        return SEG_MODELS.get(name)(num_classes, weights)
    return EncoderDecoder(create_model(name, 1000, weights), num_classes)
