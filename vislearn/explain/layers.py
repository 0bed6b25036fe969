"""What the layers themselves look like: first-layer filters and feature maps at three depths."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import UnknownNameError
from .common import evaluating, model_device
from .grid import colorize, scale_to_uint8, tile_grid, upscale_nearest
from .hooks import capture

# depth word -> position in feature_info
DEPTHS = {
    "early": lambda count: 0,
    "middle": lambda count: count // 2,
    "deep": lambda count: count - 1,
}


def first_conv(model: nn.Module) -> nn.Module:
    """The first convolution: ``pretrained_cfg["first_conv"]`` when the model names it, else the first Conv2d."""
    name = (getattr(model, "pretrained_cfg", None) or {}).get("first_conv")
    if isinstance(name, (list, tuple)):
        name = name[0] if name else None
    if name:
        return model.get_submodule(name)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d and no pretrained_cfg['first_conv']: no filters to show")
    return convs[0]


def _filters_rgb(weight_oikk: torch.Tensor) -> np.ndarray:
    """(O, I, kh, kw) conv weights -> (O, kh, kw, 3); non-RGB inputs shown as the mean over input channels, in grey."""
    weight = weight_oikk.detach().float().cpu()
    if weight.shape[1] != 3:
        weight = weight.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    return weight.permute(0, 2, 3, 1).numpy()


def first_layer_filters(model: nn.Module, min_kernel_px: int = 24, gap_px: int = 2) -> np.ndarray:
    """(H, W, 3) uint8 grid of the first conv's filters, each min-max scaled on its own.

    Kernels are enlarged by nearest neighbour to at least ``min_kernel_px`` so 3x3 filters are visible.
    """
    filters = scale_to_uint8(_filters_rgb(first_conv(model).weight), axes=(1, 2, 3))
    return tile_grid(upscale_nearest(filters, min_kernel_px), gap_px=gap_px)


def feature_layer(model: nn.Module, depth: str) -> str:
    """Module name for a depth word ("early", "middle", "deep") or a ``feature_info`` module name."""
    modules = [info["module"] for info in model.feature_info]
    if depth in DEPTHS:
        return modules[DEPTHS[depth](len(modules))]
    if depth in modules:
        return depth
    raise UnknownNameError(f"unknown depth {depth!r}; use one of {', '.join(DEPTHS)} or a feature_info module: {', '.join(modules)}")


def feature_maps(model: nn.Module, image_1chw: torch.Tensor, depths=("early", "middle", "deep")) -> dict[str, torch.Tensor]:
    """``{depth: (C, h, w) float CPU tensor}``: what the ``feature_info`` modules at those depths output.

    ``image_1chw``: one normalised image, (1, C, H, W) or (C, H, W). "early", "middle" and "deep" pick
    the first, middle and last ``feature_info`` modules; a module name picks that module.
    """
    image = image_1chw if image_1chw.ndim == 4 else image_1chw[None]
    names = {depth: feature_layer(model, depth) for depth in depths}
    with evaluating(model), torch.no_grad(), capture(model, list(names.values())) as seen:
        model(image.to(model_device(model)))
    return {depth: seen.activations[name][0].float().cpu().contiguous() for depth, name in names.items()}


def most_active_channels(maps_chw: torch.Tensor, count: int) -> torch.Tensor:
    """Indices (<= count,) of the channels with the largest mean |activation|, most active first."""
    activity = maps_chw.detach().abs().float().mean(dim=(1, 2))
    return activity.argsort(descending=True)[:count]


def feature_map_grid(maps_chw: torch.Tensor, max_channels: int = 16, min_tile_px: int = 48, colormap: str = "viridis") -> np.ndarray:
    """(H, W, 3) uint8 grid of the ``max_channels`` most active channels of (C, h, w) maps, most active first.

    Each channel is min-max scaled on its own, coloured with ``colormap`` and enlarged to ``min_tile_px``.
    """
    channels = maps_chw.detach().float().cpu()[most_active_channels(maps_chw, max_channels)].numpy()
    tiles = colorize(scale_to_uint8(channels, axes=(1, 2)), colormap)
    return tile_grid(upscale_nearest(tiles, min_tile_px))
