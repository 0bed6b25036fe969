"""A second, finer look at the pairs the pre-judge lets through, before the full pixel test.

On a large collection of look-alikes most pairs that pass the pre-judge (:mod:`vislearn.organize.prejudge`, 24-px
thumbnails) are not copies: two different trousers of one cut, two crops of one photo that overlap a lot. The full
test (:mod:`vislearn.organize.verdict`, ~60-250 ms a pair, one core) would call them similar or nothing. This stage
settles most of them on ``FINE_SIDE``-px thumbnails of every photo, thousands of pairs at a time with torch:

1. the pre-judge's alignment, refined by Gauss-Newton with the tone fit on the finer thumbnails;
2. the residual after the tone fit and the worst ``WINDOW`` x ``WINDOW`` window of it (less blur than the pre-judge:
   a different product's seams and prints show), relative to the thumbnail's spread on the overlap, the better of the
   two ways round (a brightened copy with clipped highlights);
3. how the two lie on each other (:func:`~vislearn.organize.prejudge.geometry`); pairs of the same shape are also
   looked at unmoved (a re-saved or brightened copy), and the better look counts.

A pair goes to the full test only when all of :data:`FINE_GATE` hold; the bounds were set on planted copies
(resized, recompressed, cropped, brightened, EXIF-rotated, converted, edited) of Fashion-MNIST, digits and photo
crops with a margin (docs/organize.md, "The fine look"). It never decides that a pair *is* a copy. A pair it
settles is shown as ``similar`` when its fine residual says the two look alike and overlap (what the full test
asks of similar pairs), else it is not a duplicate.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.device import one_thread
from .pixels import Picture
from .prejudge import CONTRAST_FLOOR, Geometry, _gaussian, _refine, _sample, _solve, _tone_columns, geometry

FINE_SIDE = 48  # thumbnail side of the fine look
FINE_STEPS = ((1.0, 2), (0.5, 1))  # (blur in fine-thumbnail pixels, Gauss-Newton steps), from the pre-judge's alignment
FINE_SIGMA = 1.0  # blur of the difference before it is measured, in fine-thumbnail pixels
WINDOW = 6  # fine-thumbnail pixels per side of the worst window
# A pair goes on to the full test only when every bound holds (planted copies measured: see docs/organize.md).
# side: the full test's near bound is 0.875; planted copies measured >= 0.896 there, crops of one photo that are not copies
# <= 0.85 (two crops of one photo, one inside the other: the most common pair of a photo collection that is not a copy)
FINE_GATE = {"residual": 0.15, "worst_window": 0.40, "inside": 0.95, "overlap": 0.70, "scale": 0.90, "side": 0.84}
UPPER_BOUNDS = ("residual", "worst_window")  # the other bounds are lower bounds
BATCH = 512  # pairs compared at a time


class FineLook(NamedTuple):
    residual: np.ndarray  # (P,) RMS of the aligned, tone-fitted difference / spread; NaN when a thumbnail is missing
    worst_window: np.ndarray  # (P,) the same in the worst WINDOW x WINDOW window of the overlap
    shape: Geometry  # how the two lie on each other under the refined alignment


def fine_thumbnail(picture: Picture | None) -> np.ndarray | None:
    """(FINE_SIDE, FINE_SIDE) uint8: the picture stretched to a square, or None without a picture."""
    if picture is None:
        return None
    from PIL import Image

    return np.asarray(Image.fromarray(picture.grey_hw).resize((FINE_SIDE, FINE_SIDE), Image.Resampling.LANCZOS), np.uint8)


def _measured(a: torch.Tensor, b: torch.Tensor, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) residual and worst window of the aligned pair (B, 1, S, S) each, the better of the two ways round (b's tones
    fitted to a's, or a's to b's: a brightened copy with clipped highlights is a function of its photo, not the
    reverse, as in the full test); inf on a tiny overlap."""
    side = a.shape[-1]
    warped, inside = _sample(b, params, side)
    weight = inside.float().flatten(1)
    one = _one_way(a.flatten(1), warped.flatten(1), weight, a.shape)
    other = _one_way(warped.flatten(1), a.flatten(1), weight, a.shape)
    better = other[0] < one[0]
    residual, worst = torch.where(better, other[0], one[0]), torch.where(better, other[1], one[1])
    tiny = weight.sum(1) < 0.25 * side * side
    return residual.masked_fill(tiny, float("inf")), worst.masked_fill(tiny, float("inf"))


def _one_way(target: torch.Tensor, source: torch.Tensor, weight: torch.Tensor, shape) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) residual and worst window of ``target - tone(source)`` (B, M) on ``weight`` (B, M), relative to the target's
    spread there; ``shape``: (B, 1, S, S) of the grid."""
    columns = _tone_columns(source)
    tone = _solve(columns, target, weight)
    difference = (target - (columns @ tone[..., None]).squeeze(-1)) * weight
    blurred_diff, blurred_weight = _gaussian(difference.view(shape), FINE_SIGMA), _gaussian(weight.view(shape), FINE_SIGMA)
    squared = ((blurred_diff / blurred_weight.clamp_min(1e-3)) ** 2).flatten(1) * weight
    count = weight.sum(1).clamp_min(1.0)
    mean = (target * weight).sum(1) / count
    spread = (((target - mean[:, None]) ** 2 * weight).sum(1) / count).sqrt().clamp_min(CONTRAST_FLOOR)
    window_sum = F.avg_pool2d(squared.view(shape), WINDOW, stride=1)
    window_weight = F.avg_pool2d(weight.view(shape), WINDOW, stride=1)
    window = torch.where(window_weight >= 0.99, window_sum / window_weight.clamp_min(1e-3), torch.zeros_like(window_sum))
    return (squared.sum(1) / count).sqrt() / spread, window.flatten(1).max(1).values.sqrt() / spread


def fine_look(fine_nss: np.ndarray, valid_n: np.ndarray, size_n2: np.ndarray, first: np.ndarray, second: np.ndarray,
              params_p4: np.ndarray) -> FineLook:
    """The fine look at pairs ``(first[p], second[p])`` of fine thumbnails (N, FINE_SIDE, FINE_SIDE) uint8, starting
    from the pre-judge's alignment ``params_p4`` (P, 4); upright file sizes ``size_n2`` (N, 2) for the geometry."""
    residual = np.full(len(first), np.nan, np.float32)
    worst = np.full(len(first), np.nan, np.float32)
    params_out = np.array(params_p4, np.float32, copy=True)
    with torch.no_grad(), one_thread():
        for start in range(0, len(first), BATCH):
            i, j = first[start:start + BATCH], second[start:start + BATCH]
            ok = valid_n[i] & valid_n[j] & np.isfinite(params_p4[start:start + BATCH]).all(1)
            if not ok.any():
                continue
            a = torch.from_numpy(fine_nss[i[ok]]).float().unsqueeze(1)
            b = torch.from_numpy(fine_nss[j[ok]]).float().unsqueeze(1)
            params = _refine(a, b, torch.from_numpy(params_out[start:start + BATCH][ok]), FINE_STEPS)
            rows = np.flatnonzero(ok) + start
            r, w = _measured(_gaussian(a, 0.5), _gaussian(b, 0.5), params)
            residual[rows], worst[rows], params_out[rows] = r.numpy(), w.numpy(), params.numpy()
    return FineLook(residual, worst, geometry(params_out, size_n2[first], size_n2[second]))


def fine_passes(look: FineLook) -> np.ndarray:
    """(P,) True where the pair may be a copy (every bound of :data:`FINE_GATE` holds) or could not be looked at
    (a missing thumbnail: the full test decides)."""
    values = {"residual": look.residual, "worst_window": look.worst_window, **look.shape._asdict()}
    passes = np.logical_and.reduce([values[name] <= bound if name in UPPER_BOUNDS else values[name] >= bound
                                    for name, bound in FINE_GATE.items()])
    return passes | np.isnan(look.residual)
