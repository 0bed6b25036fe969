"""Small images laid out as one picture: filters, feature-map channels."""
from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps


def scale_to_uint8(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Min-max each slice over ``axes`` to 0..255 uint8 (a constant slice becomes 0)."""
    low = values.min(axis=axes, keepdims=True)
    span = np.maximum(values.max(axis=axes, keepdims=True) - low, 1e-12)
    return np.round((values - low) / span * 255).astype(np.uint8)


def colorize(gray_nhw: np.ndarray, colormap: str = "viridis") -> np.ndarray:
    """(N, h, w) uint8 -> (N, h, w, 3) uint8 through a matplotlib colormap."""
    return (colormaps[colormap](gray_nhw)[..., :3] * 255).round().astype(np.uint8)


def upscale_nearest(tiles_nhwc: np.ndarray, min_side_px: int) -> np.ndarray:
    """Repeat pixels by the smallest integer factor that makes the shorter side at least ``min_side_px``."""
    factor = max(1, math.ceil(min_side_px / min(tiles_nhwc.shape[1:3])))
    return tiles_nhwc.repeat(factor, axis=1).repeat(factor, axis=2)


def tile_grid(tiles_nhwc: np.ndarray, gap_px: int = 2, background: int = 255) -> np.ndarray:
    """(N, h, w, 3) uint8 tiles -> one (rows*h + (rows-1)*gap, cols*w + (cols-1)*gap, 3) image.

    ``cols = ceil(sqrt(N))``, tiles fill rows left to right; empty cells and gaps are ``background``.
    """
    count, height, width, channels = tiles_nhwc.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = np.full((rows * height + (rows - 1) * gap_px, cols * width + (cols - 1) * gap_px, channels), background, np.uint8)
    for index, tile in enumerate(tiles_nhwc):
        top = (index // cols) * (height + gap_px)
        left = (index % cols) * (width + gap_px)
        grid[top:top + height, left:left + width] = tile
    return grid
