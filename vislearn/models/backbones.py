"""Backbones by name: vislearn's own (registered) or any timm architecture, with their preprocessing."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from ..registry import Registry
from .cnn5 import FiveConvCNN
from .small_cnn import SmallImageCNN
from .tiny import TinyCNN
from .weights import load_from_hub, load_into, packaged_weights_path, read_state_dict

BACKBONES: Registry = Registry("backbone")
DEFAULT_MODEL = "tf_efficientnet_lite0"


@dataclass(frozen=True)
class Preprocessing:
    """What the weights expect; saved beside every checkpoint so ``predict`` never guesses."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: int
    interpolation: str = "bilinear"
    resize_mode: str = "stretch"  # "letterbox": keep the aspect ratio and pad to a square (detect runs since issue 18)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        return cls(tuple(d["mean"]), tuple(d["std"]), int(d["image_size"]), d.get("interpolation", "bilinear"),
                   d.get("resize_mode", "stretch"))


@BACKBONES.register("tiny_cnn")
def tiny_cnn(num_classes: int, in_chans: int = 3) -> nn.Module:
    return TinyCNN(num_classes=num_classes, in_chans=in_chans, width=32)


@BACKBONES.register("tiny_cnn_small")
def tiny_cnn_small(num_classes: int, in_chans: int = 3) -> nn.Module:
    return TinyCNN(num_classes=num_classes, in_chans=in_chans, width=8)


@BACKBONES.register("small_cnn")
def small_cnn(num_classes: int, in_chans: int = 3) -> nn.Module:
    return SmallImageCNN(num_classes=num_classes, in_chans=in_chans, width=32)



@BACKBONES.register("cnn5")
def cnn5(num_classes: int, in_chans: int = 3) -> nn.Module:
    return FiveConvCNN(num_classes=num_classes, in_chans=in_chans, width=32)


def list_models(pattern: str = "") -> list[str]:
    import timm

    own = [n for n in BACKBONES.names() if pattern in n]
    return own + timm.list_models(f"*{pattern}*" if pattern else "")


def _build(name: str, num_classes: int, in_chans: int) -> nn.Module:
    if name in BACKBONES:
        return BACKBONES.get(name)(num_classes=num_classes, in_chans=in_chans)
    import timm

    if not timm.is_model(name):
        from ..errors import UnknownNameError

        raise UnknownNameError(f"unknown model {name!r}: not a vislearn backbone ({', '.join(BACKBONES.names())}) "
                               "nor a timm architecture (see `vislearn models`)")
    return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_chans)


def create_model(name: str, num_classes: int, weights: str | None = "auto", in_chans: int = 3) -> nn.Module:
    """A classifier ``(B, in_chans, H, W) -> (B, num_classes)`` with the timm backbone contract.

    ``weights``: ``"auto"`` (weights shipped in a package, else the hub; none for vislearn's own
    backbones), ``"hub"``, ``None``/``"none"`` (random init), or a path to a local weights file.
    """
    if weights in (None, "none"):
        return _build(name, num_classes, in_chans)
    if weights == "auto" and name in BACKBONES:
        return _build(name, num_classes, in_chans)
    if weights == "auto":
        weights = str(packaged_weights_path(name) or "hub")
    if weights == "hub":
        return load_from_hub(name, num_classes, in_chans)
    # num_classes=0 (pooled features): load into a model with a head, so weights saved with a classifier
    # still match tensor for tensor, then drop the head
    model = _build(name, num_classes or 1, in_chans)
    classifier = getattr(model, "pretrained_cfg", {}).get("classifier")
    load_into(model, read_state_dict(weights), classifier, source=str(weights))
    if num_classes == 0 and hasattr(model, "reset_classifier"):
        model.reset_classifier(0)
    return model


def preprocessing_for(model: nn.Module, image_size: int | None = None) -> Preprocessing:
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    size = image_size or int(cfg.get("input_size", (3, 224, 224))[-1])
    return Preprocessing(
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        image_size=size,
        interpolation=cfg.get("interpolation", "bilinear"),
    )
