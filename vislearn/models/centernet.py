"""vislearn's own one-stage anchor-free detector: a CenterNet-style head (Zhou et al. 2019, "Objects as Points")
on a small FPN that fuses the multi-scale features of any encoder answering timm's ``forward_intermediates``.

Per output cell (stride s): a heatmap logit per class (peak = object centre), log box size in cells, centre offset.
The loss lives in the task (:mod:`vislearn.tasks.detect.loss`); decoding is here, beside the model.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

STRIDES = (4, 8, 16, 32)  # encoder levels the neck fuses, finest first
PRIOR = 0.1  # initial heatmap probability (CenterNet's bias -2.19): most cells are background


class Detections(NamedTuple):
    """One image's detections, best first: boxes_xyxy (D, 4) in input pixels, scores (D,), class_ids (D,)."""

    boxes_xyxy: torch.Tensor
    scores: torch.Tensor
    class_ids: torch.Tensor


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinyEncoder(nn.Module):
    """Four strided conv stages (strides 4, 8, 16, 32) for CPU runs; answers ``forward_intermediates`` like timm."""

    def __init__(self, width: int = 16, in_chans: int = 3):
        super().__init__()
        w = width
        self.stem = _conv(in_chans, w, 2)
        chans = [w, 2 * w, 4 * w, 8 * w, 8 * w]
        self.stages = nn.ModuleList(nn.Sequential(_conv(chans[i], chans[i + 1], 2), _conv(chans[i + 1], chans[i + 1])) for i in range(4))
        self.feature_info = [dict(module=f"stages.{i}", num_chs=chans[i + 1], reduction=2 ** (i + 2)) for i in range(4)]
        self.pretrained_cfg = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), input_size=(in_chans, 128, 128))

    def forward_intermediates(self, x: torch.Tensor, indices=None, intermediates_only: bool = True) -> list[torch.Tensor]:
        x, out = self.stem(x), []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if indices is None or i in indices:
                out.append(x)
        return out


class Encoder(nn.Module):
    """Any ``forward_intermediates`` model -> the last feature map at each stride in STRIDES it reaches."""

    def __init__(self, model: nn.Module, probe_size: int = 128):
        super().__init__()
        was_training = model.training
        with torch.no_grad():
            maps = model.eval().forward_intermediates(torch.zeros(1, 3, probe_size, probe_size), indices=None, intermediates_only=True)
        model.train(was_training)
        by_stride = {}
        for index, fmap in enumerate(maps):
            stride = probe_size // fmap.shape[-1]
            if stride in STRIDES:
                by_stride[stride] = (index, fmap.shape[1])
        if not by_stride:
            raise ValueError(f"{type(model).__name__}: no feature map at strides {STRIDES} (got {[tuple(m.shape) for m in maps]})")
        self.strides = sorted(by_stride)
        self.indices = [by_stride[s][0] for s in self.strides]
        self.channels = [by_stride[s][1] for s in self.strides]
        if hasattr(model, "prune_intermediate_layers"):  # drop the classifier head and unused deeper blocks
            try:
                model.prune_intermediate_layers(self.indices, prune_norm=False, prune_head=True)
            except (TypeError, NotImplementedError, AssertionError):
                pass
        self.model = model

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.model.forward_intermediates(x, indices=self.indices, intermediates_only=True)


class Neck(nn.Module):
    """Top-down fusion (FPN without the extra outputs): coarse maps upsampled and added into the finest one."""

    def __init__(self, channels: list[int], width: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        self.smooth = _conv(width, width)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        fused = self.lateral[-1](features[-1])
        for lateral, fmap in zip(reversed(self.lateral[:-1]), reversed(features[:-1])):
            fused = lateral(fmap) + F.interpolate(fused, size=fmap.shape[-2:], mode="nearest")
        return self.smooth(fused)


def _output(width: int, out: int, bias: float = 0.0) -> nn.Conv2d:
    conv = nn.Conv2d(width, out, 1)
    nn.init.constant_(conv.bias, bias)
    return conv


class CenterNet(nn.Module):
    """``(B, 3, H, W) -> {"heatmap": (B, K, h, w) logits, "size": (B, 2, h, w) log(w, h / stride), "offset": (B, 2, h, w)}``."""

    detector_kind = "centernet"

    def __init__(self, encoder: nn.Module, num_classes: int, width: int = 64, pretrained_cfg: dict | None = None):
        super().__init__()
        self.encoder = Encoder(encoder)
        self.neck = Neck(self.encoder.channels, width)
        self.stride = self.encoder.strides[0]
        self.num_classes = num_classes
        self.trunk = _conv(width, width)  # shared by the three 1x1 outputs: a third of separate heads' cost on CPU
        self.heatmap = _output(width, num_classes, -math.log((1 - PRIOR) / PRIOR))
        self.size = _output(width, 2, math.log(4.0))
        self.offset = _output(width, 2)
        self.pretrained_cfg = pretrained_cfg or getattr(encoder, "pretrained_cfg", {})
        self.explain_layer = "neck.smooth"  # the fused feature map Grad-CAM explains

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        fused = self.trunk(self.neck(self.encoder(images)))
        return {"heatmap": self.heatmap(fused), "size": self.size(fused), "offset": self.offset(fused)}


def peaks(heatmap_logits: torch.Tensor, top_k: int) -> tuple[torch.Tensor, ...]:
    """Local maxima (3x3) of the class heatmaps: scores, class ids, ys, xs, each (B, top_k)."""
    heat = heatmap_logits.sigmoid()
    heat = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    b, k, h, w = heat.shape
    scores, flat = heat.reshape(b, -1).topk(min(top_k, k * h * w))
    return scores, flat // (h * w), (flat % (h * w)) // w, flat % w


def candidates(outputs: dict[str, torch.Tensor], i: int, stride: int, conf: float, top_k: int = 100) -> tuple[torch.Tensor, ...]:
    """Image ``i``'s peaks above ``conf`` before NMS: boxes_xyxy (D, 4) clipped to the input, scores, class ids, ys, xs."""
    scores, class_ids, ys, xs = (t[0] for t in peaks(outputs["heatmap"][i:i + 1].float(), top_k))
    keep = scores >= conf
    scores, class_ids, y, x = scores[keep], class_ids[keep], ys[keep], xs[keep]
    offset = outputs["offset"][i][:, y, x].float().sigmoid()
    size = outputs["size"][i][:, y, x].float().clamp(-4, 6).exp()
    cx, cy = (x + offset[0]) * stride, (y + offset[1]) * stride
    w, h = size[0] * stride, size[1] * stride
    map_h, map_w = outputs["heatmap"].shape[-2:]
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
    boxes = torch.minimum(boxes.clamp(min=0), boxes.new_tensor([map_w, map_h, map_w, map_h]) * stride)
    return boxes, scores, class_ids, y, x


def decode(outputs: dict[str, torch.Tensor], stride: int, conf: float = 0.01, iou: float = 0.5, max_dets: int = 100) -> list[Detections]:
    """Boxes from the heatmap peaks, kept above ``conf``, then class-wise NMS at ``iou`` (torchvision's batched_nms)."""
    found = []
    for i in range(outputs["heatmap"].shape[0]):
        boxes, scores, class_ids, _, _ = candidates(outputs, i, stride, conf, max_dets)
        kept = batched_nms(boxes, scores, class_ids, iou)[:max_dets]
        found.append(Detections(boxes[kept], scores[kept], class_ids[kept]))
    return found
