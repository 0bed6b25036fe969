"""Patch features and pooled (whole-image) features from a backbone's ``feature_info`` stages."""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..explain.hooks import capture


class Description(NamedTuple):
    """What a method says about a batch: a local distance map and pooled features for the global score."""

    local_map_bhw: torch.Tensor  # (B, h, w) distance of each patch to normal, on the feature grid
    pooled_bd: torch.Tensor  # (B, D) whole-image features (channel means and spreads)


def feature_stages(model: nn.Module, reductions: tuple[int, ...] = (8, 16)) -> list[str]:
    """Module names of the stages at ``reductions`` (PatchCore's mid-level layers); else the two deepest up to 16."""
    info = list(model.feature_info)
    chosen = [f["module"] for f in info if f["reduction"] in reductions]
    if len(chosen) < len(reductions):
        chosen = [f["module"] for f in info if f["reduction"] <= max(reductions)][-len(reductions):]
    return chosen


@torch.no_grad()
def stage_maps(model: nn.Module, images_bchw: torch.Tensor, stages: list[str]) -> list[torch.Tensor]:
    """Feature maps [(B, C_i, h_i, w_i)] of the named stages for one forward pass."""
    with capture(model, stages) as seen:
        model.forward_features(images_bchw)
    return [seen.activations[name].float() for name in stages]


def patch_features(maps: list[torch.Tensor]) -> torch.Tensor:
    """Locally aware patch features: each map 3x3 average-pooled, upsampled to the first map's grid, concatenated.

    [(B, C_i, h_i, w_i)] -> (B, sum C_i, h_0, w_0).
    """
    size = maps[0].shape[-2:]
    pooled = [F.avg_pool2d(m, 3, stride=1, padding=1, count_include_pad=False) for m in maps]
    return torch.cat([p if p.shape[-2:] == size else F.interpolate(p, size=size, mode="bilinear", align_corners=False)
                      for p in pooled], dim=1)


def pooled_features(maps: list[torch.Tensor]) -> torch.Tensor:
    """[(B, C_i, h_i, w_i)] -> (B, 2 * sum C_i): per-channel mean and standard deviation of every map.

    Means catch colour drift; spreads catch blur and stretched texture, which look normal patch by patch.
    """
    return torch.cat([torch.cat([m.mean(dim=(2, 3)), m.std(dim=(2, 3))], dim=1) for m in maps], dim=1)
