"""Export of a defects run that describes images in tiles (images above ``--max-native-side``): the method's
description of ONE tile in ONNX; cutting the image into tiles, stitching their patch maps, the whole-image Gaussian,
the upsampled and smoothed heatmap and the calibrated z-scores in numpy, from the sidecar and its arrays.

This is :meth:`vislearn.anomaly.detector.Detector.score` with ``tile`` set, step by step: the image (S x S, the
run's size) is cut into T x T tiles every round(T x (1 - overlap)) px (the last flush with the edge); each tile's
patch map (h, w) is averaged where tiles overlap on the feature grid; pooled features are averaged over the tiles.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..anomaly.detector import SMOOTH_SIGMA_PX, _gaussian_kernel
from ..anomaly.tiling import tile_offsets
from ..engine.sliding_window import TILE_OVERLAP

OUTPUTS = ("local_map", "pooled")


class TileDescription(nn.Module):
    """tiles (N, 3, T, T) -> local_map (N, h, w) on the feature grid, pooled (N, D): the method's ``describe``."""

    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, tiles_nchw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        described = self.method.describe(tiles_nchw)
        return described.local_map_bhw, described.pooled_bd


def tiling_entry(detector, image_size: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The sidecar's ``tiling`` and ``calibration`` (how the maps are stitched and the image score taken) and the
    arrays the numpy side reads (the whole-image Gaussian)."""
    c = detector.calibration
    tiling = {"image_size": image_size, "tile": detector.tile, "overlap": TILE_OVERLAP,
              "smooth_kernel": _gaussian_kernel(SMOOTH_SIGMA_PX).tolist(),
              "local": c.local._asdict(), "global": c.global_._asdict(),
              "rule": (f"the {image_size} px input is cut into {detector.tile} px tiles every round(tile x (1 - overlap)) px, "
                       "the last flush with the edge; the graph describes each tile: local_map (h, w), pooled (D); tile maps are "
                       "averaged where they overlap on the feature grid (tile offsets scaled by h / tile, rounded), pooled "
                       "features averaged over tiles; heatmap = bilinear upsampling (align_corners=False) to the input size, "
                       "then smooth_kernel along rows, then columns (reflected edges); global = Mahalanobis distance of the "
                       "pooled features (arrays global_mean_d, global_precision_dd); z = (value - mean) / std with the local "
                       "and global stats; local_z = max of the heatmap's z; where global_z > threshold and > local_z every "
                       "pixel is at least global_z; score = max(local_z, global_z)")}
    arrays = {"global_mean_d": detector.mean_d.numpy(), "global_precision_dd": detector.precision_dd.numpy()}
    return tiling, arrays


def tiled_scores(run_graph, images_bchw: np.ndarray, tiling: dict, arrays: dict, threshold: float) -> tuple[np.ndarray, ...]:
    """(B, 3, S, S) -> score (B,), local_z (B,), global_z (B,), heatmap (B, S, S): the tiled scoring chain in numpy,
    ``run_graph`` answering (N, 3, T, T) tiles with [local_map (N, h, w), pooled (N, D)]."""
    side, tile = images_bchw.shape[-1], tiling["tile"]
    offsets = tile_offsets(side, tile, tiling["overlap"])
    tiles = np.stack([images_bchw[:, :, y:y + tile, x:x + tile] for y, x in offsets], axis=1)  # (B, T, 3, tile, tile)
    local_map, pooled = run_graph(tiles.reshape(-1, *tiles.shape[2:]))
    maps = stitch(local_map.reshape(len(images_bchw), len(offsets), *local_map.shape[-2:]), offsets, side, tile)
    heat = smooth(upsample_bilinear(maps, (side, side)), np.asarray(tiling["smooth_kernel"], np.float32))
    global_ = mahalanobis(pooled.reshape(len(images_bchw), len(offsets), -1).mean(axis=1), arrays)
    local_map_z = _z(heat, tiling["local"])
    global_z, local_z = _z(global_, tiling["global"]), local_map_z.reshape(len(heat), -1).max(axis=1)
    fired = (global_z > threshold) & (global_z > local_z)
    floor = np.where(fired, global_z, np.float32(-np.inf)).astype(np.float32)
    return np.maximum(local_z, global_z), local_z, global_z, np.maximum(local_map_z, floor[:, None, None])


def stitch(maps_bthw: np.ndarray, offsets: list[tuple[int, int]], side: int, tile: int) -> np.ndarray:
    """(B, T, h, w) tile maps -> (B, H, W) on the whole image's feature grid, averaged where tiles overlap."""
    h, w = maps_bthw.shape[-2:]
    scale_y, scale_x = h / tile, w / tile
    out_h, out_w = int(round(side * scale_y)), int(round(side * scale_x))
    summed = np.zeros((len(maps_bthw), out_h, out_w), np.float32)
    counts = np.zeros((1, out_h, out_w), np.float32)
    for t, (y, x) in enumerate(offsets):
        gy, gx = min(int(round(y * scale_y)), out_h - h), min(int(round(x * scale_x)), out_w - w)
        summed[:, gy:gy + h, gx:gx + w] += maps_bthw[:, t]
        counts[:, gy:gy + h, gx:gx + w] += 1
    return summed / counts


def _source_pixels(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output pixel: the two input pixels it lies between and the weight of the second (half-pixel centres)."""
    scale = np.float32(in_size / out_size)
    source = np.maximum((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    first = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    return first, np.minimum(first + 1, in_size - 1), (source - first).astype(np.float32)


def upsample_bilinear(maps_bhw: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(B, h, w) -> (B, H, W), bilinear with half-pixel centres (PyTorch's ``align_corners=False``, no antialias)."""
    y0, y1, fy = _source_pixels(maps_bhw.shape[1], size_hw[0])
    x0, x1, fx = _source_pixels(maps_bhw.shape[2], size_hw[1])
    rows = maps_bhw[:, y0] * (1 - fy)[None, :, None] + maps_bhw[:, y1] * fy[None, :, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def smooth(heat_bhw: np.ndarray, kernel_k: np.ndarray) -> np.ndarray:
    """(B, H, W) blurred by the 1-d ``kernel_k`` along rows, then columns, with reflected edges."""
    half = len(kernel_k) // 2
    padded = np.pad(heat_bhw, ((0, 0), (half, half), (half, half)), mode="reflect")
    height, width = heat_bhw.shape[1:]
    rows = sum(k * padded[:, :, i:i + width] for i, k in enumerate(kernel_k))
    return sum(k * rows[:, i:i + height] for i, k in enumerate(kernel_k)).astype(np.float32)


def mahalanobis(pooled_bd: np.ndarray, arrays: dict) -> np.ndarray:
    """(B, D) -> (B,) distance to the whole-image Gaussian of good images (the sidecar's arrays)."""
    centred = pooled_bd.astype(np.float32) - arrays["global_mean_d"]
    return np.sqrt(np.maximum(((centred @ arrays["global_precision_dd"]) * centred).sum(axis=1), 0))


def _z(values: np.ndarray, stats: dict) -> np.ndarray:
    return ((values - np.float32(stats["mean"])) / np.float32(stats["std"])).astype(np.float32)
