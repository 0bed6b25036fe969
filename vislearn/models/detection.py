"""Detectors by name: vislearn's CenterNet (``tiny_det``, or on any timm encoder by its timm name) and torchvision's.

Every detector has ``detector_kind`` ("centernet" or "torchvision"), which tells the task how to train and decode it.
torchvision detectors take images in 0..1 (they normalise inside), labels 1..K (0 is their background).
"""
from __future__ import annotations

from functools import partial

from torch import nn

from ..errors import UnknownNameError, WeightsUnavailableError
from ..registry import Registry
from .backbones import Preprocessing, create_model, preprocessing_for
from .centernet import CenterNet, TinyEncoder

DETECTORS: Registry = Registry("detector")
TORCHVISION = ("fcos_resnet50_fpn", "retinanet_resnet50_fpn", "fasterrcnn_resnet50_fpn", "fasterrcnn_mobilenet_v3_large_fpn",
               "retinanet_resnet50_fpn_v2", "fasterrcnn_resnet50_fpn_v2")
UNIT_RANGE = Preprocessing((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0)  # torchvision detectors normalise inside


@DETECTORS.register("tiny_det")
def tiny_det(num_classes: int, weights: str | None = "none", image_size: int = 128) -> nn.Module:
    """CenterNet on a 4-stage, 16-to-128-channel CNN (about 0.5 M parameters, 70 M multiply-adds at 128 px): trains on a laptop CPU."""
    if weights not in (None, "none", "auto"):
        raise WeightsUnavailableError(f"tiny_det has no pretrained weights ({weights!r}); use --weights none")
    return CenterNet(TinyEncoder(width=16), num_classes, width=32)


def _torchvision(name: str, num_classes: int, weights: str | None = "none", image_size: int = 128) -> nn.Module:
    """torchvision's ``name`` with K + 1 classes at ``image_size``; ImageNet backbone weights from the hub unless "none"."""
    from torchvision.models import detection

    backbone = None if weights in (None, "none") or _is_file(weights) else "DEFAULT"
    kwargs = {"min_size": image_size, "max_size": image_size}  # torchvision would otherwise upscale to 800 px
    if name.startswith("fcos"):
        kwargs["score_thresh"] = 0.05  # FCOS keeps only scores >= 0.2 by default, which cuts the mAP's PR curve short
    try:
        model = getattr(detection, name)(weights=None, weights_backbone=backbone, num_classes=num_classes + 1, **kwargs)
    except Exception as exc:  # download failures surface as URLError, OSError, RuntimeError...
        if backbone is None:
            raise
        raise WeightsUnavailableError(f"could not get ImageNet backbone weights for {name!r} ({exc}). Offline? "
                                      "Use --weights none, or a local .safetensors/.pth state dict of the whole detector") from None
    if _is_file(weights):
        from .weights import read_state_dict

        model.load_state_dict(read_state_dict(weights))
    model.detector_kind = "torchvision"
    return model


def _is_file(weights) -> bool:
    return weights not in (None, "none", "auto", "hub")


for _name in TORCHVISION:
    DETECTORS.register(_name)(partial(_torchvision, _name))


def create_detector(name: str, num_classes: int, weights: str | None = "none", image_size: int = 128) -> nn.Module:
    """A registered detector, or CenterNet on the timm encoder ``name`` (weights as in :func:`create_model`)."""
    if name in DETECTORS:
        return DETECTORS.get(name)(num_classes, weights=weights, image_size=image_size)
    import timm

    if not timm.is_model(name):
        raise UnknownNameError(f"unknown detector {name!r}: not one of {', '.join(DETECTORS.names())} nor a timm encoder name")
    encoder = create_model(name, 1000, weights)
    return CenterNet(encoder, num_classes, width=96, pretrained_cfg=dict(getattr(encoder, "pretrained_cfg", {})))


def detector_preprocessing(model: nn.Module, image_size: int) -> Preprocessing:
    if getattr(model, "detector_kind", "") == "torchvision":
        return Preprocessing(UNIT_RANGE.mean, UNIT_RANGE.std, image_size)
    return preprocessing_for(model, image_size)
