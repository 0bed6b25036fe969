"""The CenterNet loss: penalty-reduced focal loss on Gaussian centre heatmaps, L1 on log size and centre offset,
and (box loss "giou", the default for new runs) the generalized IoU of the box decoded at each object's centre cell,
which rewards overlap directly: L1 on log size treats a 10 % error on a small and a large side alike, IoU does not.

Targets are built on the fly from each image's ``boxes_xyxy`` (input pixels) at the head's stride.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss

GAUSSIAN_ALPHA = 0.54  # TTFNet: the Gaussian's sigma is alpha * box side / 6, per axis
SIZE_WEIGHT, OFFSET_WEIGHT = 1.0, 1.0
GIOU_WEIGHT = 2.0
BOX_LOSSES = ("l1", "giou")  # "l1": the loss of runs before the GIoU term


class CenterTargets(NamedTuple):
    heatmap: torch.Tensor  # (B, K, h, w) in [0, 1], exactly 1 at each object's centre cell
    centres: torch.Tensor  # (M, 3) long: image, y, x of each object's centre cell
    size: torch.Tensor  # (M, 2) log(w / stride), log(h / stride)
    offset: torch.Tensor  # (M, 2) in [0, 1): centre minus its cell


def center_targets(targets: list[dict], num_classes: int, map_hw: tuple[int, int], stride: int) -> CenterTargets:
    """All images' objects at once: one Gaussian per object, merged per (image, class) by maximum."""
    h, w = map_hw
    boxes = torch.cat([t["boxes_xyxy"].float().reshape(-1, 4) for t in targets]) / stride
    classes = torch.cat([t["class_ids"].reshape(-1) for t in targets]).long()
    images = torch.cat([torch.full((len(t["class_ids"]),), b, dtype=torch.long, device=boxes.device) for b, t in enumerate(targets)])
    heatmap = torch.zeros(len(targets) * num_classes, h * w, device=boxes.device)
    if len(boxes) == 0:
        empty = boxes.new_zeros(0, 2)
        return CenterTargets(heatmap.view(len(targets), num_classes, h, w), torch.zeros(0, 3, dtype=torch.long, device=boxes.device), empty, empty)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    bw, bh = (boxes[:, 2] - boxes[:, 0]).clamp(min=1e-3), (boxes[:, 3] - boxes[:, 1]).clamp(min=1e-3)
    ix, iy = cx.long().clamp(0, w - 1), cy.long().clamp(0, h - 1)
    sx, sy = (GAUSSIAN_ALPHA * bw / 6).clamp(min=0.5), (GAUSSIAN_ALPHA * bh / 6).clamp(min=0.5)
    xs, ys = torch.arange(w, device=boxes.device), torch.arange(h, device=boxes.device)
    gx = torch.exp(-((xs[None] - ix[:, None]) ** 2) / (2 * sx[:, None] ** 2))  # (N, w)
    gy = torch.exp(-((ys[None] - iy[:, None]) ** 2) / (2 * sy[:, None] ** 2))  # (N, h)
    gauss = (gy[:, :, None] * gx[:, None, :]).view(len(boxes), -1)
    rows = (images * num_classes + classes)[:, None].expand(-1, h * w)
    heatmap.scatter_reduce_(0, rows, gauss, reduce="amax")
    centres = torch.stack([images, iy, ix], dim=1)
    return CenterTargets(heatmap.view(len(targets), num_classes, h, w), centres,
                         torch.stack([bw.log(), bh.log()], dim=1), torch.stack([cx - ix, cy - iy], dim=1))


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CornerNet's focal loss on (B, K, h, w) logits against Gaussian targets, summed over cells (divide by #objects)."""
    p = logits.float().sigmoid().clamp(1e-4, 1 - 1e-4)
    positive = target.eq(1).float()
    pos = F.logsigmoid(logits.float()) * (1 - p) ** 2 * positive
    neg = F.logsigmoid(-logits.float()) * p**2 * (1 - target) ** 4 * (1 - positive)
    return -(pos.sum() + neg.sum())


def centre_cell_boxes(size: torch.Tensor, offset: torch.Tensor, cells_yx: torch.Tensor) -> torch.Tensor:
    """Boxes_xyxy (M, 2 + 2) in cells, decoded as :func:`vislearn.models.centernet.candidates` does: size (M, 2) raw log
    size, offset (M, 2) in [0, 1), cells_yx (M, 2) the centre cells."""
    centre = cells_yx.flip(1).float() + offset
    half = size.clamp(-4, 6).exp() / 2
    return torch.cat([centre - half, centre + half], dim=1)


def centernet_loss(outputs: dict[str, torch.Tensor], targets: list[dict], stride: int, box_loss: str = "l1") -> torch.Tensor:
    """Focal heatmap loss per object + L1 on log size and offset (+ GIoU of the decoded box when ``box_loss`` is "giou")."""
    if box_loss not in BOX_LOSSES:
        raise ValueError(f"unknown box loss {box_loss!r}; known: {', '.join(BOX_LOSSES)}")
    heat = outputs["heatmap"]
    t = center_targets(targets, heat.shape[1], tuple(heat.shape[-2:]), stride)
    n = max(1, len(t.centres))
    loss = focal_loss(heat, t.heatmap) / n
    if len(t.centres):
        b, y, x = t.centres.unbind(1)
        size = outputs["size"].float().permute(0, 2, 3, 1)[b, y, x]
        offset = outputs["offset"].float().sigmoid().permute(0, 2, 3, 1)[b, y, x]
        loss = loss + SIZE_WEIGHT * F.l1_loss(size, t.size) + OFFSET_WEIGHT * F.l1_loss(offset, t.offset)
        if box_loss == "giou":
            cells = t.centres[:, 1:]
            truth = centre_cell_boxes(t.size, t.offset, cells)
            loss = loss + GIOU_WEIGHT * generalized_box_iou_loss(centre_cell_boxes(size, offset, cells), truth, reduction="mean")
    return loss
