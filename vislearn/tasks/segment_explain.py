"""What drove a segmentation: Grad-CAM on a class's mean logit over the pixels predicted as that class."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..data.mask_dataset import image_tensor
from ..data.mask_transforms import to_model_input
from ..errors import VislearnError
from ..explain.gradcam import gradcam
from ..explain.overlay import heatmap_overlay, save_png


class RegionScores(nn.Module):
    """(B, 3, H, W) -> (B, K): each class's mean logit over the pixels the model gives that class
    (over every pixel when it gives the class none), so Grad-CAM answers "why these pixels are class k"."""

    def __init__(self, segmenter: nn.Module):
        super().__init__()
        self.segmenter = segmenter

    def forward(self, images_bchw: torch.Tensor) -> torch.Tensor:
        logits = self.segmenter(images_bchw)  # (B, K, H, W)
        chosen = torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2).float().detach()
        area = chosen.sum(dim=(2, 3))
        region = (logits * chosen).sum(dim=(2, 3)) / area.clamp_min(1)
        return torch.where(area > 0, region, logits.mean(dim=(2, 3)))


def deepest_encoder_layer(segmenter: nn.Module) -> str:
    """Module name (inside RegionScores) of the encoder's deepest feature map."""
    info = getattr(segmenter.encoder, "feature_info", None)
    if not info:
        raise VislearnError(f"{type(segmenter.encoder).__name__} reports no feature_info: cannot pick a layer to explain")
    return f"segmenter.encoder.{info[-1]['module']}"


def explain_classes(segmenter: nn.Module, path: str, pre, class_names: list[str], out_dir: Path, stem: str,
                    target: str | None = None) -> list[dict]:
    """One Grad-CAM overlay PNG per class shown in the image (or only ``target``); rows of class, share, picture."""
    image = image_tensor(path)
    size = pre.image_size
    resized = torch.nn.functional.interpolate(image[None].float(), size=(size, size), mode="bilinear", align_corners=False)[0]
    x = to_model_input(pre)(resized.round().clamp(0, 255).to(torch.uint8))[None]
    model = RegionScores(segmenter.eval())
    with torch.no_grad():
        shown = segmenter(x).argmax(1)[0]
    if target is not None:
        if target not in class_names:
            raise VislearnError(f"--target {target!r} is not a class of this run ({', '.join(class_names)})")
        classes = [class_names.index(target)]
    else:
        classes = [int(k) for k in torch.unique(shown) if int(k) != 0] or [0]  # background only when nothing else shows
    photo = resized.permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    rows, layer = [], deepest_encoder_layer(segmenter)
    for k in classes:
        heat = gradcam(model, x, k, layer=layer)[0]
        picture = save_png(heatmap_overlay(photo, heat), Path(out_dir) / f"{stem}_gradcam_{class_names[k]}.png")
        rows.append({"class": class_names[k], "share": float((shown == k).float().mean()), "picture": str(picture)})
    return rows


def cli_explain(args, log) -> dict:
    """``vislearn explain RUN IMAGE [--target CLASS]`` on a segment run."""
    from .verbs import explain

    rows = explain(args.run, args.image, args.out, args.method, args.target)["classes"]
    log("explained " + ", ".join(f"{r['class']} ({r['share']:.0%} of pixels)" for r in rows) + "; wrote:\n  "
        + "\n  ".join(r["picture"] for r in rows))
    return {"classes": rows}
