"""Which resolution a defect run works at, and images above the bound described in overlapping native-resolution tiles.

A speck of 8 px in a 250 px photo is 4 px at 128 px: half a cell of the backbone's 8-px stage, gone in its
3x3 pooling. So a run works at the images' own size; larger ones are not shrunk but cut into tiles of the
bound, each described alone, and the tiles' maps averaged where they overlap.
"""
from __future__ import annotations

from statistics import median
from typing import Callable, NamedTuple

import torch

from ..engine.sliding_window import TILE_OVERLAP, tile_starts
from .features import Description

MAX_NATIVE_SIDE = 512  # larger images are tiled: a 512 px image costs ~4x a 256 px one in time and memory
MIN_SIDE = 128  # smaller images are upsampled: the backbone's 8-px stage then still has a 16 x 16 grid
MAX_SIDE = 2048  # bounded work per image: larger images are downscaled to this before tiling


class Resolution(NamedTuple):
    image_size: int  # every image is resized to image_size x image_size (its native size when square and in bounds)
    tile: int | None  # side of the tiles it is described in; None: the whole image at once
    reason: str  # one line for the log: what was chosen and why


def choose_resolution(sizes_wh: list[tuple[int, int]], max_native: int = MAX_NATIVE_SIDE) -> Resolution:
    """The training images' median short side, within [MIN_SIDE, MAX_SIDE]; tiles of ``max_native`` above ``max_native``."""
    short = int(median(min(w, h) for w, h in sizes_wh))
    if short < MIN_SIDE:
        return Resolution(MIN_SIDE, None, f"images are {short} px (median short side): upsampled to {MIN_SIDE} px "
                                          "so the backbone's 8-px stage keeps a fine grid")
    if short <= max_native:
        return Resolution(short, None, f"native resolution, {short} px (median short side <= {max_native} px): "
                                       "small defects keep every pixel")
    side = min(short, MAX_SIDE)
    shrunk = f", downscaled to the {MAX_SIDE} px bound" if side < short else " at native resolution"
    return Resolution(side, max_native, f"images are {short} px (median short side) > {max_native} px: {side} px{shrunk}, "
                                        f"described in {max_native} px tiles overlapping by {TILE_OVERLAP:.0%}, maps stitched")


def tile_offsets(side: int, tile: int, overlap: float = TILE_OVERLAP) -> list[tuple[int, int]]:
    """(y, x) top-left corners of ``tile`` x ``tile`` windows covering a ``side`` x ``side`` image."""
    starts = tile_starts(side, tile, max(1, int(round(tile * (1 - overlap)))))
    return [(y, x) for y in starts for x in starts]


def cut_tiles(images_bchw: torch.Tensor, tile: int) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """(B, 3, S, S) -> (B * T, 3, tile, tile), image-major (image 0's T tiles first), and the T offsets."""
    offsets = tile_offsets(images_bchw.shape[-1], tile)
    tiles = torch.stack([images_bchw[:, :, y:y + tile, x:x + tile] for y, x in offsets], dim=1)
    return tiles.flatten(0, 1), offsets


def stitch(maps_nhw: torch.Tensor, offsets: list[tuple[int, int]], side: int, tile: int) -> torch.Tensor:
    """(B * T, h, w) tile maps on the feature grid -> (B, side * h / tile, side * w / tile), averaged where tiles overlap."""
    count = len(offsets)
    maps = maps_nhw.view(-1, count, *maps_nhw.shape[-2:])
    h, w = maps.shape[-2:]
    scale_y, scale_x = h / tile, w / tile
    out_h, out_w = int(round(side * scale_y)), int(round(side * scale_x))
    summed = maps.new_zeros(maps.shape[0], out_h, out_w)
    counts = maps.new_zeros(1, out_h, out_w)
    for t, (y, x) in enumerate(offsets):
        gy, gx = min(int(round(y * scale_y)), out_h - h), min(int(round(x * scale_x)), out_w - w)
        summed[:, gy:gy + h, gx:gx + w] += maps[:, t]
        counts[:, gy:gy + h, gx:gx + w] += 1
    return summed / counts


def describe_tiled(describe: Callable[..., Description], images_bchw: torch.Tensor, tile: int,
                   leave_out: torch.Tensor | None = None) -> Description:
    """A method's ``describe`` over tiles: the local map stitched (B, h, w), pooled features averaged over tiles (B, D)."""
    tiles, offsets = cut_tiles(images_bchw, tile)
    ids = None if leave_out is None else leave_out.repeat_interleave(len(offsets))
    described = describe(tiles, ids)
    pooled = described.pooled_bd.view(len(images_bchw), len(offsets), -1).mean(dim=1)
    return Description(stitch(described.local_map_bhw, offsets, images_bchw.shape[-1], tile), pooled)


class TiledLoader:
    """A loader whose batches carry tiles instead of whole images (labels and indices repeated per tile):
    what fitting sees when images are above the bound. Anything else is the wrapped loader's."""

    def __init__(self, loader, tile: int):
        self.loader, self.tile = loader, tile

    def __iter__(self):
        for batch in self.loader:
            if not len(batch):
                yield batch
                continue
            tiles, offsets = cut_tiles(batch.images, self.tile)
            repeat = len(offsets)
            yield type(batch)(tiles, batch.labels.repeat_interleave(repeat), batch.indices.repeat_interleave(repeat), batch.failed)

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)
