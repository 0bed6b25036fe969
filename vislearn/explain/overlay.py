"""Heatmaps over photos, and writing the pictures to disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image

from ..data.transforms import denormalize


def display_image(image_chw: torch.Tensor, pre) -> np.ndarray:
    """Normalised model input (3, H, W) -> (H, W, 3) uint8, undoing ``pre``'s mean/std."""
    return (denormalize(image_chw.detach(), pre).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _resize_heatmap(heatmap_hw, size_hw: tuple[int, int]) -> np.ndarray:
    """(h, w) numpy or torch heatmap -> (H, W) float numpy clipped to [0, 1]."""
    if torch.is_tensor(heatmap_hw):
        heat = heatmap_hw.detach().float().cpu()
    else:
        heat = torch.from_numpy(np.asarray(heatmap_hw, dtype=np.float32))
    if heat.ndim != 2:
        raise ValueError(f"expected one (h, w) heatmap, got shape {tuple(heat.shape)}; pass heat_bhw[i] for image i")
    if tuple(heat.shape) != tuple(size_hw):
        heat = F.interpolate(heat[None, None], size=size_hw, mode="bilinear", align_corners=False)[0, 0]
    return heat.clamp(0, 1).numpy()


def heatmap_overlay(image_hw3_uint8: np.ndarray, heatmap_hw, alpha: float = 0.45, colormap: str = "jet") -> np.ndarray:
    """(H, W, 3) uint8 photo blended with a (h, w) heatmap in [0, 1] coloured by ``colormap``.

    The heatmap (numpy or torch) is resized bilinearly to (H, W); ``alpha`` is the heat's weight.
    """
    image = np.asarray(image_hw3_uint8)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}; see display_image() for model inputs")
    heat = _resize_heatmap(heatmap_hw, image.shape[:2])
    colour = colormaps[colormap](heat)[..., :3] * 255
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colour
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def save_png(array: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W) or (H, W, 3|4) uint8 array as a PNG, creating parent folders; returns the path."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: expected a uint8 image array, got {array.dtype}; scale to 0..255 first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")
    return path
