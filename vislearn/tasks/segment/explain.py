"""What drove a segmentation: Grad-CAM on a class's mean logit over the pixels predicted as that class
(:class:`~vislearn.explain.gradcam.RegionMeanLogit`)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ...data.mask_dataset import image_tensor
from ...data.mask_transforms import to_model_input
from ...errors import VislearnError
from ...explain.common import as_model_input
from ...explain.gradcam import GradCAM, RegionMeanLogit
from ...explain.overlay import heatmap_overlay, save_png


def deepest_encoder_layer(segmenter: nn.Module) -> str:
    """Module name (in the segmenter) of the encoder's deepest feature map."""
    info = getattr(segmenter.encoder, "feature_info", None)
    if not info:
        raise VislearnError(f"{type(segmenter.encoder).__name__} reports no feature_info: cannot pick a layer to explain")
    return f"encoder.{info[-1]['module']}"


def explain_classes(segmenter: nn.Module, path: str, pre, class_names: list[str], out_dir: Path, stem: str,
                    target: str | None = None) -> list[dict]:
    """One Grad-CAM overlay PNG per class shown in the image (or only ``target``); rows of class, share, picture."""
    image = image_tensor(path)
    size = pre.image_size
    resized = torch.nn.functional.interpolate(image[None].float(), size=(size, size), mode="bilinear", align_corners=False)[0]
    x = to_model_input(pre)(resized.round().clamp(0, 255).to(torch.uint8))[None]
    if target is not None and target not in class_names:
        raise VislearnError(f"--target {target!r} is not a class of this run ({', '.join(class_names)})")
    photo = resized.permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    rows = []
    with GradCAM(segmenter, deepest_encoder_layer(segmenter)) as cam:
        shown = cam.forward(as_model_input(segmenter, x)).detach().argmax(1)[0]
        if target is not None:
            classes = [class_names.index(target)]
        else:
            classes = [int(k) for k in torch.unique(shown) if int(k) != 0] or [0]  # background only when nothing else shows
        for k in classes:
            heat = cam([RegionMeanLogit(k)], x.shape[-2:])[0]
            picture = save_png(heatmap_overlay(photo, heat), Path(out_dir) / f"{stem}_gradcam_{class_names[k]}.png")
            rows.append({"class": class_names[k], "share": float((shown == k).float().mean()), "picture": str(picture)})
    return rows


def cli_explain(args, log) -> dict:
    """``vislearn explain RUN IMAGE [--target CLASS]`` on a segment run."""
    from ..verbs import explain

    rows = explain(args.run, args.image, args.out, args.method, args.target)["classes"]
    log("explained " + ", ".join(f"{r['class']} ({r['share']:.0%} of pixels)" for r in rows) + "; wrote:\n  "
        + "\n  ".join(r["picture"] for r in rows))
    return {"classes": rows}
