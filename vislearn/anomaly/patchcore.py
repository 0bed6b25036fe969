"""PatchCore at two scales, plus a pixel scale: coreset memory banks of normal patch features from a pretrained
backbone; nearest-neighbour distances; alone, the strongest scale per pixel, each in units of its held-out good
images' peaks.

- coarse: the stride-8 and stride-16 stages, each 3x3-pooled (PatchCore's locally aware patches): stains, holes, scratches;
- fine: the stride-8 stage alone, unpooled: a speck of a few pixels fills a ninth of a 3x3-pooled cell and is averaged
  away there, while it moves its own cell's features. Measured image AUROC on tiny specks (PatchCore alone, local
  score, 4 px blur): a 3 px fleck on 128 px brick 0.56 coarse -> 0.99 fine; 6-10 px specks on the 250 px textile set
  0.86 -> 1.00. Neither scale catches the sample's 1-3 px dots on busy grass or gravel (0.4-0.6), nor did stride 2 or 4;
- pixel: a Gaussian of the good images' raw 5 x 5 pixel patches (anomaly/pixel_gaussian.py), which does.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .coreset import coreset_beyond, coreset_size, greedy_coreset
from .features import Description, feature_stages, patch_features, pooled_features, stage_maps
from .front import ConvFront, Front
from .memory_bank import MemoryBank
from .pixel_gaussian import SCORE_STRIDE, PixelGaussian
from .scales import MapScale, fit_peak_scales, strongest

SCALES = ("coarse", "fine", "pixel")  # the order of local_maps; the first two have memory banks
BANKS = SCALES[:2]
FINE_POOL = 1  # the fine scale's neighbourhood: each cell alone
# cells between searches of each bank: the coarse cells are 3x3-pooled, so a cell's neighbours share two thirds of its
# window and the coarse map is smooth at one cell; searched at every other cell (a quarter of the queries) and filled in
# linearly, the coarse search cost 7 instead of 27 ms per 250 px image. The fine map is not smooth (a speck is one cell)
STEPS = (2, 1)


def _flatten(patches_bdhw: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) -> (B*h*w, D)."""
    return patches_bdhw.permute(0, 2, 3, 1).reshape(-1, patches_bdhw.shape[1])


def _fit_bank(features: list[torch.Tensor], owners: list[torch.Tensor], max_memory_mb: float, fraction: float, seed: int,
              name: str, log: Callable[[str], None]) -> MemoryBank:
    features_nd, owners_n = torch.cat(features), torch.cat(owners)
    count = coreset_size(len(features_nd), features_nd.shape[1], max_memory_mb, fraction)
    picks = greedy_coreset(features_nd, count, seed=seed)
    log(f"patchcore {name}: memory bank of {count:,} of {len(features_nd):,} patch features ({features_nd.shape[1]} dims, "
        f"{count * features_nd.shape[1] * 4 / 2**20:.1f} MB)")
    return MemoryBank(features_nd[picks], owners_n[picks])


def _extend_bank(bank: MemoryBank, new_nd: torch.Tensor, owners_n: torch.Tensor, max_memory_mb: float, fraction: float,
                 seed: int, name: str) -> str:
    """Adds to ``bank`` ``fraction`` of the new (N, D) patch vectors (the fit's share), picked by a coreset that starts
    from the bank, within ``max_memory_mb`` for the whole bank (not MAX_CORESET: a few images' patches may pass it,
    and the search time grows by the same share). Returns the log line."""
    room = int(max_memory_mb * 2**20 // (4 * new_nd.shape[1])) - len(bank)
    picks = coreset_beyond(bank.features_md, new_nd, min(round(fraction * len(new_nd)), room), seed=seed)
    before = len(bank)
    bank.add(new_nd[picks], owners_n[picks])
    return (f"patchcore {name}: memory bank {before:,} -> {len(bank):,} vectors ({len(picks):,} of the {len(new_nd):,} new patch "
            f"features, the ones farthest from the bank; {fraction:.0%} as at fit, within {max_memory_mb:g} MB)")


def _fill_between(sampled_bhw: torch.Tensor, size_hw: tuple[int, int], step: int) -> torch.Tensor:
    """(B, h', w') values at every ``step``-th cell -> (B, h, w): the sampled cells kept exactly, linear in between,
    the last sampled row and column repeated up to the edge."""
    hs, ws = sampled_bhw.shape[-2:]
    full = F.interpolate(sampled_bhw[:, None], size=((hs - 1) * step + 1, (ws - 1) * step + 1), mode="bilinear", align_corners=True)
    return F.pad(full, (0, size_hw[1] - full.shape[-1], 0, size_hw[0] - full.shape[-2]), mode="replicate")[:, 0]


def _distances(bank: MemoryBank, patches_bdhw: torch.Tensor, leave_out: torch.Tensor | None, step: int = 1) -> torch.Tensor:
    """(B, D, h, w) -> (B, h, w) distance of each patch to its nearest bank vector (from another image with ``leave_out``);
    with ``step`` > 1 searched at every ``step``-th cell only and filled in between."""
    b, _, h, w = patches_bdhw.shape
    if step > 1:
        return _fill_between(_distances(bank, patches_bdhw[:, :, ::step, ::step], leave_out), (h, w), step)
    if leave_out is None:
        return bank.nearest_distances(_flatten(patches_bdhw)).view(b, h, w)
    return torch.cat([bank.nearest_distances_excluding(_flatten(patches_bdhw[i:i + 1]), int(leave_out[i]))
                      for i in range(b)]).view(b, h, w)


class PatchCore:
    """``fit`` collects patch features of good images at both scales and keeps a greedy coreset of each within
    ``max_memory_mb``; the held-out good images (``val_loader``) set each scale's unit (the mean and spread of
    their peaks; without them both maps keep their raw distances)."""

    needs_pretrained = True

    def __init__(self, backbone: nn.Module, max_memory_mb: float = 256, coreset_fraction: float = 0.1, seed: int = 0):
        # channels_last: Lite0's depthwise stages ran 1.45x faster at 250 px on 2 CPU cores (interleaved A/B, same maps)
        self.backbone = backbone.eval().to(memory_format=torch.channels_last)
        self.stages = feature_stages(backbone)
        self.max_memory_mb, self.coreset_fraction, self.seed = max_memory_mb, coreset_fraction, seed
        self.banks: list[MemoryBank] = []
        self.pixels = PixelGaussian()
        self.scales: list[MapScale] = [MapScale(0.0, 1.0)] * len(SCALES)
        self.front: Front | None = None  # built once the pixel Gaussian is fitted

    def _patches(self, images_bchw: torch.Tensor) -> list[torch.Tensor]:
        """[coarse (B, D_c, h, w), fine (B, D_f, h, w)] patch features on the stride-8 grid."""
        return self._patches_of(stage_maps(self.backbone, images_bchw, self.stages))

    def _patches_of(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        return [patch_features(maps), patch_features(maps[:1], pool=FINE_POOL)]

    def conv_front(self, heads: tuple = (), owners: tuple = ()) -> ConvFront:
        """The pixel passes of scoring in one module: images -> (*stage maps, pixel map, *``heads``' maps)."""
        return ConvFront(self.backbone, self.stages, [self.pixels.distance_map, *heads], owners)

    def convs(self, images_bchw: torch.Tensor) -> list[torch.Tensor]:
        """[*stage maps (B, C_i, h_i, w_i), pixel map (B, H/2, W/2)] of a batch, by the fastest backend that agrees."""
        if self.front is None:
            self.front = Front(self.conv_front())
        return self.front(images_bchw)

    def fit(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], log: Callable[[str], None] = print,
            val_loader=None, **_) -> None:
        """``batches`` of (images (B, 3, H, W), image ids (B,)) of good images; ``val_loader``: held-out good images."""
        features, owners = [[] for _ in BANKS], []
        backbone = Front(ConvFront(self.backbone, self.stages, []))  # the pixel Gaussian and the student are not fitted yet
        for images, ids in batches:
            self.pixels.add(images)
            patches = self._patches_of(backbone(images))
            for kept, scale in zip(features, patches):
                kept.append(_flatten(scale))
            owners.append(ids.repeat_interleave(patches[0].shape[2] * patches[0].shape[3]))
        self.banks = [_fit_bank(f, owners, self.max_memory_mb, self.coreset_fraction, self.seed, name, log)
                      for f, name in zip(features, BANKS)]
        self.pixels.finish()
        self.front = None
        log(f"fitting: {backbone.decision}")
        log(f"patchcore scales: coarse = stages {', '.join(self.stages)} 3x3-pooled; fine = stage {self.stages[0]} "
            f"{FINE_POOL}x{FINE_POOL}; pixel = Gaussian of raw {self.pixels.patch}x{self.pixels.patch} pixel patches, "
            f"scored on a stride-{SCORE_STRIDE} grid")
        if val_loader is not None:
            self.scales = fit_peak_scales(self.local_maps(b.images) for b in val_loader if len(b))
            log(self.front.decision)
            log("patchcore: peaks of held-out good images " + ", ".join(f"{n} {s.mean:.3g} ± {s.std:.3g}"
                                                                       for n, s in zip(SCALES, self.scales)))

    def add_good(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], fitted_images: int) -> list[str]:
        """Adds good images (``batches`` of images (B, 3, H, W), ids (B,)) to both memory banks (see :func:`_extend_bank`)
        and the pixel Gaussian (a look of their own, or joined into the newest look: :meth:`PixelGaussian.finish`);
        the peak scales stay. The new vectors' owners are ``fitted_images + ids`` (fitted images own 0 .. n - 1), for
        leave-one-out. Returns the log lines."""
        features, owners = [[] for _ in BANKS], []
        self.pixels.reopen(fitted_images)
        for images, ids in batches:
            self.pixels.add(images)
            patches = self._patches(images)
            for kept, scale in zip(features, patches):
                kept.append(_flatten(scale))
            owners.append((ids + fitted_images).repeat_interleave(patches[0].shape[2] * patches[0].shape[3]))
        new_images = len(torch.cat(owners).unique())
        how = self.pixels.finish(new_images)
        self.front = None
        lines = [_extend_bank(bank, torch.cat(f), torch.cat(owners), self.max_memory_mb, self.coreset_fraction, self.seed, name)
                 for bank, f, name in zip(self.banks, features, BANKS)]
        return lines + [f"patchcore pixel: Gaussian of {self.pixels.patch}x{self.pixels.patch} pixel patches, {new_images} new "
                        f"images beside {fitted_images} fitted: {how}"]

    def local_maps(self, images_bchw: torch.Tensor, leave_out: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[coarse, fine] raw distance maps, each (B, H/8, W/8), and the pixel map (B, H/2, W/2)."""
        return self._maps_and_patches(images_bchw, leave_out)[0]

    def _maps_and_patches(self, images_bchw, leave_out=None) -> tuple[list[torch.Tensor], torch.Tensor]:
        return self.maps_from_convs(self.convs(images_bchw), leave_out)

    def maps_from_convs(self, convs: list[torch.Tensor], leave_out=None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """:meth:`convs`' output -> raw [coarse, fine, pixel] maps and the coarse patch features (B, D_c, h, w)."""
        *stages, pixel = convs
        patches = self._patches_of(stages)
        maps = [_distances(bank, p, leave_out, step) for bank, p, step in zip(self.banks, patches, STEPS)]
        return [*maps, pixel], patches[0]

    def describe_with_maps(self, images_bchw: torch.Tensor, leave_out: torch.Tensor | None = None,
                           convs: list[torch.Tensor] | None = None) -> tuple[Description, list[torch.Tensor]]:
        """The Description (local map (B, H/2, W/2): the strongest scale in units of its good images' peaks; pooled
        features of the coarse scale, trimmed by its own map) and the raw [coarse, fine, pixel] maps; ``convs``: the
        batch's :meth:`convs`, when a caller has them already."""
        maps, coarse_patches = self.maps_from_convs(convs if convs is not None else self.convs(images_bchw), leave_out)
        return Description(strongest(maps, self.scales), pooled_features(coarse_patches, maps[0])), maps

    def describe(self, images_bchw: torch.Tensor, leave_out: torch.Tensor | None = None) -> Description:
        """Local map (B, h, w) and pooled features; ``leave_out`` (B,) ids skip each image's own patches."""
        return self.describe_with_maps(images_bchw, leave_out)[0]

    def tensors(self) -> dict[str, torch.Tensor]:
        banks = {f"bank.{name}.{part}": t for name, bank in zip(BANKS, self.banks)
                 for part, t in (("features", bank.features_md), ("owners", bank.owners_m))}
        return {**banks, **self.pixels.tensors(), "patchcore.scales": torch.tensor([list(s) for s in self.scales])}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        if "bank.features" in tensors:  # one bank: saved before PatchCore kept a fine scale for specks
            raise CheckpointError("this defect run was trained before vislearn kept two PatchCore scales (a fine one finds "
                                  "specks); train it again with `vislearn train defects` (about as long as before)")
        if "pixel.weight" not in tensors:  # two banks only: saved before the pixel scale
            raise CheckpointError("this defect run was trained before vislearn kept a pixel scale (it finds specks of 1-3 px); "
                                  "train it again with `vislearn train defects` (about as long as before)")
        self.banks = [MemoryBank(tensors[f"bank.{name}.features"], tensors[f"bank.{name}.owners"]) for name in BANKS]
        self.pixels = PixelGaussian()
        self.pixels.load(tensors)
        self.front = None
        self.scales = [MapScale(*map(float, row)) for row in tensors["patchcore.scales"]]
