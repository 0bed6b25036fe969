"""Dense prediction on images of any size: overlapping tiles of the training size, logits averaged."""
from __future__ import annotations

import torch
from torch import nn

from .device import autocast

TILE_OVERLAP = 0.25  # share of a tile its neighbours overlap: the one default of segment training, eval and predict


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile offsets covering ``length``: every ``stride`` pixels, the last one flush with the end."""
    if length <= tile:
        return [0]
    return list(range(0, length - tile, stride)) + [length - tile]


@torch.no_grad()
def sliding_window_logits(model: nn.Module, image_chw: torch.Tensor, tile: int, overlap: float = TILE_OVERLAP,
                          pad_value_c: torch.Tensor | None = None, batch_size: int = 8, precision: str = "fp32") -> torch.Tensor:
    """(K, H, W) float logits of one normalised image (3, H, W), on the model's device.

    An image smaller than ``tile`` is padded (with ``pad_value_c``, the normalised value of a black pixel,
    as in training) and cropped back; a larger one is covered by ``tile`` x ``tile`` windows overlapping
    by ``overlap`` of a tile, whose logits are averaged where they overlap.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    device = next(model.parameters()).device
    _, h, w = image_chw.shape
    hp, wp = max(h, tile), max(w, tile)
    fill = torch.zeros(3) if pad_value_c is None else pad_value_c
    padded = fill.view(3, 1, 1).expand(3, hp, wp).clone().to(device)
    padded[:, :h, :w] = image_chw.to(device)
    stride = max(1, int(round(tile * (1 - overlap))))
    windows = [(y, x) for y in tile_starts(hp, tile, stride) for x in tile_starts(wp, tile, stride)]
    summed, counts = None, torch.zeros(1, hp, wp, device=device)
    for i in range(0, len(windows), batch_size):
        chunk = windows[i:i + batch_size]
        crops = torch.stack([padded[:, y:y + tile, x:x + tile] for y, x in chunk])
        with autocast(device, precision):
            logits = model(crops).float()
        if summed is None:
            summed = torch.zeros(logits.shape[1], hp, wp, device=device)
        for (y, x), tile_logits in zip(chunk, logits):
            summed[:, y:y + tile, x:x + tile] += tile_logits
            counts[:, y:y + tile, x:x + tile] += 1
    return (summed / counts)[:, :h, :w]
