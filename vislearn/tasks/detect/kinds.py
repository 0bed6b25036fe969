"""How each kind of detector trains, decodes and is explained: vislearn's CenterNet and torchvision's detectors.

``forward`` returns ``{"maps" | "losses": ..., "detections": list[Detections] | None}``: detections only in eval mode.
torchvision detectors compute their losses inside ``forward(images, targets)`` in train mode and return only
detections in eval mode, so their validation loss is reported as NaN (the score, mAP@.5, is what early stopping uses).
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import batched_nms

from ...models.centernet import Detections, candidates, decode
from ...registry import Registry
from .loss import centernet_loss

KINDS: Registry = Registry("detector kind")
EVAL_CONF = 0.01  # validation and mAP keep low-confidence boxes: AP integrates over every score threshold


def filtered(found: Detections, conf: float, iou: float) -> Detections:
    """Keep scores >= ``conf``, then class-wise NMS at ``iou``."""
    keep = found.scores >= conf
    boxes, scores, class_ids = found.boxes_xyxy[keep], found.scores[keep], found.class_ids[keep]
    kept = batched_nms(boxes.float(), scores.float(), class_ids, iou)
    return Detections(boxes[kept], scores[kept], class_ids[kept])


@KINDS.register("centernet")
class CenterNetKind:
    @staticmethod
    def forward(model: nn.Module, images: torch.Tensor, targets) -> dict:
        maps = model(images)
        return {"maps": maps, "detections": None if model.training else decode(maps, model.stride, EVAL_CONF)}

    @staticmethod
    def loss(model: nn.Module, outputs: dict, targets: list[dict], box_loss: str = "l1") -> torch.Tensor:
        return centernet_loss(outputs["maps"], targets, model.stride, box_loss)

    @staticmethod
    def detect(model: nn.Module, images: torch.Tensor, conf: float, iou: float) -> list[Detections]:
        return decode(model(images), model.stride, conf, iou)

    @staticmethod
    def explain_layer(model: nn.Module) -> str:
        return model.explain_layer

    @staticmethod
    def scored(model: nn.Module, image_bchw: torch.Tensor, conf: float, iou: float) -> tuple[Detections, torch.Tensor]:
        """Detections of one image and, per detection, its heatmap logit still attached to the graph (for Grad-CAM)."""
        maps = model(image_bchw)
        boxes, scores, class_ids, ys, xs = candidates({k: v.detach() for k, v in maps.items()}, 0, model.stride, conf)
        kept = batched_nms(boxes, scores, class_ids, iou)
        logits = maps["heatmap"][0, class_ids[kept], ys[kept], xs[kept]]
        return Detections(boxes[kept], scores[kept], class_ids[kept]), logits


def _tv_targets(targets: list[dict]) -> list[dict]:
    return [{"boxes": t["boxes_xyxy"], "labels": t["class_ids"] + 1} for t in targets]


def _from_tv(found: list[dict]) -> list[Detections]:
    return [Detections(d["boxes"], d["scores"], d["labels"] - 1) for d in found]


@KINDS.register("torchvision")
class TorchvisionKind:
    @staticmethod
    def forward(model: nn.Module, images: torch.Tensor, targets) -> dict:
        if model.training:
            return {"losses": model(list(images), _tv_targets(targets)), "detections": None}
        return {"losses": None, "detections": _from_tv(model(list(images)))}

    @staticmethod
    def loss(model: nn.Module, outputs: dict, targets: list[dict], box_loss: str = "l1") -> torch.Tensor:
        """torchvision's own losses (``box_loss`` is CenterNet's option: torchvision detectors keep theirs)."""
        losses = outputs["losses"]
        if losses is None:
            return torch.tensor(float("nan"))
        return sum(losses.values())

    @staticmethod
    def detect(model: nn.Module, images: torch.Tensor, conf: float, iou: float) -> list[Detections]:
        return [filtered(d, conf, iou) for d in _from_tv(model(list(images)))]

    @staticmethod
    def explain_layer(model: nn.Module) -> str:
        """The deepest block of the backbone body (its output is one tensor, before the FPN)."""
        return "backbone.body." + list(model.backbone.body.named_children())[-1][0]

    @staticmethod
    def scored(model: nn.Module, image_bchw: torch.Tensor, conf: float, iou: float) -> tuple[Detections, torch.Tensor]:
        found = _from_tv(model(list(image_bchw)))[0]
        keep = found.scores >= conf
        kept = torch.nonzero(keep).flatten()
        kept = kept[batched_nms(found.boxes_xyxy[kept].detach(), found.scores[kept].detach(), found.class_ids[kept], iou)]
        detached = Detections(found.boxes_xyxy[kept].detach(), found.scores[kept].detach(), found.class_ids[kept])
        return detached, found.scores[kept]


def kind_of(model: nn.Module):
    return KINDS.get(getattr(model, "detector_kind", "centernet"))
