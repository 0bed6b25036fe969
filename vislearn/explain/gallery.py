"""Pictures of what a trained classifier looks at, written into a run folder for the report.

``explain/examples.json``: correct and wrong predictions with Grad-CAM and IG overlays;
``explain/layers.json``: first-layer filters and early/middle/deep feature maps of one image.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..data import eval_transform, read_image
from ..errors import ImageReadError
from .layers import feature_map_grid, feature_maps, first_layer_filters
from .methods import EXPLAINERS
from .overlay import display_image, heatmap_overlay, save_png

DISPLAY_PX = 160  # small training images are shown enlarged so a person can see them


def enlarge(image_hw3: np.ndarray, min_side: int = DISPLAY_PX) -> np.ndarray:
    h, w = image_hw3.shape[:2]
    scale = max(1, -(-min_side // min(h, w)))
    if scale == 1:
        return image_hw3
    return np.asarray(Image.fromarray(image_hw3).resize((w * scale, h * scale), Image.NEAREST))


def pick_examples(rows: list[dict], count: int) -> list[dict]:
    """Half wrong predictions (most confident first: the worrying ones), the rest correct ones."""
    wrong = sorted((r for r in rows if r["correct"] == "0"), key=lambda r: -float(r["confidence"]))
    right = sorted((r for r in rows if r["correct"] == "1"), key=lambda r: r["path"])
    n_wrong = min(len(wrong), count // 2)
    step = max(1, len(right) // max(1, count - n_wrong))
    return wrong[:n_wrong] + right[::step][: count - n_wrong]


def explain_image(model: nn.Module, image_path: str, pre, class_names: list[str], out_dir: Path, stem: str,
                  target: str | None = None, methods=("gradcam", "integrated_gradients")) -> dict:
    """Write the image and one overlay per method (for ``target`` or the predicted class); return their paths."""
    x = eval_transform(pre)(read_image(image_path))[None]
    with torch.no_grad():
        predicted = int(model.eval()(x).argmax(1))
    target_index = class_names.index(target) if target is not None else predicted
    picture = display_image(x[0], pre)
    entry = {"image": save_png(enlarge(picture), out_dir / f"{stem}_image.png"), "target": class_names[target_index]}
    for method in methods:
        heat = EXPLAINERS.get(method)(model, x, [target_index])[0]
        entry[method] = save_png(enlarge(heatmap_overlay(picture, heat)), out_dir / f"{stem}_{method}.png")
    return entry


def write_layer_views(model: nn.Module, image_path: str, pre, out_dir: Path) -> list[dict]:
    """First-layer filters and feature maps at three depths, as PNGs with captions."""
    x = eval_transform(pre)(read_image(image_path))[None]
    views = [{"title": "First-layer filters", "image": save_png(first_layer_filters(model), out_dir / "filters.png"),
              "caption": "Each tile is one filter of the first convolution: early layers learn edge, colour and blob detectors."}]
    captions = {"early": "respond to edges and small strokes", "middle": "combine them into textures and parts",
                "deep": "respond to whole shapes at coarse resolution"}
    for depth, maps in feature_maps(model, x).items():
        path = save_png(feature_map_grid(maps[0] if maps.ndim == 4 else maps), out_dir / f"feature_maps_{depth}.png")
        views.append({"title": f"Feature maps, {depth} layer ({tuple(maps.shape[-3:])[0]} channels at {maps.shape[-2]}x{maps.shape[-1]})",
                      "image": path, "caption": f"The most active channels for {Path(image_path).name}: {depth} layers {captions[depth]}."})
    return views


def write_gallery(run_dir: Path, model: nn.Module, pre, class_names: list[str], split: str = "test", count: int = 12) -> Path:
    """Explain ``count`` predictions of ``predictions_<split>.csv``; write PNGs and the two JSON indexes."""
    from ..engine import write_json

    run_dir = Path(run_dir)
    out_dir = run_dir / "explain"
    with open(run_dir / f"predictions_{split}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    examples = []
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()
    for i, row in enumerate(pick_examples(rows, count)):
        try:
            paths = explain_image(model, row["path"], pre, class_names, out_dir, f"ex_{i:03d}")
        except ImageReadError:
            continue
        examples.append({"path": row["path"], "label": row["label"], "predicted": row["predicted"],
                         "confidence": float(row["confidence"]), "correct": row["correct"] == "1",
                         **{k: str(Path(v).relative_to(run_dir)) if isinstance(v, Path) else v for k, v in paths.items()}})
    write_json(out_dir / "examples.json", examples)
    if examples:
        views = write_layer_views(model, examples[-1]["path"], pre, out_dir)
        write_json(out_dir / "layers.json", [{**v, "image": str(Path(v["image"]).relative_to(run_dir))} for v in views])
    return out_dir
