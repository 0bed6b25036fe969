"""A fitted defect detector: one method's local map plus a whole-image Gaussian, both calibrated on good images."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .features import Description
from .gaussian import fit_gaussian, mahalanobis
from .threshold import ConformalThreshold, GoodStats, conformal_threshold, good_stats
from .tiling import describe_tiled

# Gaussian smoothing of the upsampled local map, in input pixels: 4 (PatchCore's) spread a 3 px speck over a
# 16 px disc (image AUROC on 3 px flecks on brick 0.944 at 4, 0.972 at 2; textile thread pixel AUROC unchanged)
SMOOTH_SIGMA_PX = 2.0


class DefectScores(NamedTuple):
    """Scores of a batch; z-scores are in standard deviations of held-out good images."""

    score_b: torch.Tensor  # (B,) max(local_z, global_z): the image's anomaly score
    local_z_b: torch.Tensor  # (B,) strongest patch, calibrated
    global_z_b: torch.Tensor  # (B,) Mahalanobis distance of pooled features, calibrated
    heatmap_bhw: torch.Tensor  # (B, H, W) per-pixel score at input resolution, same units as score_b


@dataclass
class Calibration:
    local: GoodStats
    global_: GoodStats
    threshold: float  # on DefectScores.score_b: above it, an image is defective
    max_false_alarm: float
    conformal: ConformalThreshold | None = None  # how the threshold was set (None: runs saved before it was kept)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    """(k,) normalised 1-d Gaussian, k = 4 sigma rounded up to odd: torchvision's gaussian_blur kernel, one axis."""
    size = int(4 * sigma) | 1
    offsets = torch.arange(size, dtype=torch.float32) - size // 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def upsample_map(local_map_bhw: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) patch map -> (B, H, W), bilinear then Gaussian-smoothed (reflected edges). The blur runs as two
    1-d passes, rows then columns: torchvision's 2-d kernel to 5e-7, 1.6 instead of 2.9 ms CPU per 250 px map."""
    heat = F.interpolate(local_map_bhw[:, None].float(), size=size_hw, mode="bilinear", align_corners=False)
    kernel = _gaussian_kernel(SMOOTH_SIGMA_PX)
    half = len(kernel) // 2
    heat = F.pad(heat, (half, half, half, half), mode="reflect")
    return F.conv2d(F.conv2d(heat, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))[:, 0]


class Detector:
    """``method`` (PatchCore, RandomDistill, ...) + Gaussian of pooled features + calibration;
    with ``tile``, images are described in overlapping tiles of that side and the maps stitched."""

    def __init__(self, method, mean_d=None, precision_dd=None, calibration: Calibration | None = None, tile: int | None = None):
        self.method, self.mean_d, self.precision_dd, self.calibration = method, mean_d, precision_dd, calibration
        self.tile = tile

    def describe(self, images_bchw: torch.Tensor, leave_out=None) -> Description:
        """The method's Description of a batch (B, 3, S, S), tiled when ``S`` exceeds the tile."""
        if self.tile and images_bchw.shape[-1] > self.tile:
            return describe_tiled(self.method.describe, images_bchw, self.tile, leave_out)
        return self.method.describe(images_bchw, leave_out)

    def fit_global(self, pooled_nd: torch.Tensor) -> None:
        self.mean_d, self.precision_dd = fit_gaussian(pooled_nd)

    def raw_scores(self, images_bchw: torch.Tensor, leave_out=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(heatmap (B, H, W) in the method's distance units, global Mahalanobis (B,))."""
        return self.raw_from(self.describe(images_bchw, leave_out), tuple(images_bchw.shape[-2:]))

    def raw_from(self, described: Description, size_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`raw_scores` of a batch the method has already described (no second pass over its images)."""
        heat = upsample_map(described.local_map_bhw, size_hw)
        return heat, mahalanobis(described.pooled_bd, self.mean_d, self.precision_dd)

    def calibrate(self, tune_raw: tuple[torch.Tensor, torch.Tensor], calibration_raw: tuple[torch.Tensor, torch.Tensor],
                  max_false_alarm: float) -> Calibration:
        """z-scores from the tuning good images' raw scores (heat (N, H, W), global (N,)); the threshold, a conformal
        quantile, from the calibration good images' (M, H, W), (M,), which tuned nothing (not even the z-scores)."""
        heat, global_ = tune_raw
        self.calibration = Calibration(good_stats(heat.flatten(1).max(dim=1).values), good_stats(global_), 0.0, max_false_alarm)
        conformal = conformal_threshold(self.calibrated(*calibration_raw).score_b, max_false_alarm)
        self.calibration.threshold, self.calibration.conformal = conformal.threshold, conformal
        return self.calibration

    def calibrated(self, heat_bhw: torch.Tensor, global_b: torch.Tensor) -> DefectScores:
        c = self.calibration
        local_map = c.local.z(heat_bhw)
        global_z = c.global_.z(global_b)
        local_z = local_map.flatten(1).max(dim=1).values
        # a global defect is everywhere: where the global score fires (above the threshold and above the local one),
        # every pixel scores at least the image's global z. Flooring every image instead raised all pixels of images
        # with a local defect above the defect's own (their global z is up too): pixel AUROC on the textile set's thin
        # threads 0.91 floored, 0.99 not; on 3 px specks 0.47 -> 0.97
        fired = (global_z > c.threshold) & (global_z > local_z)
        floor = torch.where(fired, global_z, torch.full_like(global_z, float("-inf")))
        heatmap = torch.maximum(local_map, floor[:, None, None])
        return DefectScores(torch.maximum(local_z, global_z), local_z, global_z, heatmap)

    def score(self, images_bchw: torch.Tensor, leave_out=None) -> DefectScores:
        return self.calibrated(*self.raw_scores(images_bchw, leave_out))

    def scoring_backend(self) -> str:
        """Which backend ran the method's pass over the pixels of the last batch scored, and why (for logs and metrics)."""
        front = getattr(self.method, "front", None)
        return front.decision if front is not None else "PyTorch"

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**self.method.tensors(), "global.mean": self.mean_d, "global.precision": self.precision_dd}

    def metadata(self) -> dict:
        c = self.calibration
        return {"local": c.local._asdict(), "global": c.global_._asdict(), "threshold": c.threshold,
                "max_false_alarm": c.max_false_alarm, "conformal": c.conformal._asdict() if c.conformal else None}

    @classmethod
    def restore(cls, method, tensors: dict[str, torch.Tensor], meta: dict, tile: int | None = None) -> "Detector":
        method.load(tensors)
        conformal = ConformalThreshold(**meta["conformal"]) if meta.get("conformal") else None
        calibration = Calibration(GoodStats(**meta["local"]), GoodStats(**meta["global"]), meta["threshold"], meta["max_false_alarm"],
                                  conformal)
        return cls(method, tensors["global.mean"], tensors["global.precision"], calibration, tile)
