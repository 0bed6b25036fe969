"""Local maps of different scales and methods put in one unit (their spread on held-out good pixels) and combined."""
from __future__ import annotations

from typing import Iterable, NamedTuple

import torch
import torch.nn.functional as F


class MapScale(NamedTuple):
    """Mean and spread of one local map over the pixels of held-out good images."""

    mean: float
    std: float


def map_scale(maps_bhw: list[torch.Tensor]) -> MapScale:
    values = torch.cat([m.flatten() for m in maps_bhw]).double()
    return MapScale(float(values.mean()), max(float(values.std()), 1e-6))


def fit_scales(maps_per_batch: Iterable[list[torch.Tensor]]) -> list[MapScale]:
    """``maps_per_batch``: for each batch of good images the list of K local maps [(B, h_k, w_k)] -> K scales."""
    columns = list(zip(*maps_per_batch))
    return [map_scale(list(maps)) for maps in columns]


def _on_grid(map_bhw: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    if tuple(map_bhw.shape[-2:]) == tuple(size_hw):
        return map_bhw
    return F.interpolate(map_bhw[:, None], size=size_hw, mode="bilinear", align_corners=False)[:, 0]


def combine_maps(maps_bhw: list[torch.Tensor], scales: list[MapScale]) -> torch.Tensor:
    """Mean of the maps in units of their good-image spread, on the finest grid among them: (B, h, w)."""
    grid = max((tuple(m.shape[-2:]) for m in maps_bhw), key=lambda hw: hw[0] * hw[1])
    return torch.stack([(_on_grid(m, grid) - s.mean) / s.std for m, s in zip(maps_bhw, scales)]).mean(dim=0)


def peak_scale(maps_bhw: list[torch.Tensor]) -> MapScale:
    """Mean and spread of each held-out good image's highest value: a map's chance peaks, in its own units."""
    return map_scale([m.flatten(1).amax(dim=1) for m in maps_bhw])


def fit_peak_scales(maps_per_batch: Iterable[list[torch.Tensor]]) -> list[MapScale]:
    """As :func:`fit_scales`, for :func:`peak_scale`."""
    return [peak_scale(list(maps)) for maps in zip(*maps_per_batch)]


def strongest(maps_bhw: list[torch.Tensor], peak_scales: list[MapScale]) -> torch.Tensor:
    """Pixel-wise maximum of the maps, each in units of its good images' peaks, on the finest grid: (B, h, w).

    A defect seen at one scale only (a speck in the fine map) keeps its full height, where a mean would divide it
    by the number of maps; the peak units keep a map with a long tail on good images from winning every pixel.
    """
    grid = max((tuple(m.shape[-2:]) for m in maps_bhw), key=lambda hw: hw[0] * hw[1])
    return torch.stack([(_on_grid(m, grid) - s.mean) / s.std for m, s in zip(maps_bhw, peak_scales)]).amax(dim=0)
