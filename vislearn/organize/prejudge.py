"""A cheap first look at candidate pairs, thousands at a time, before the full pixel test of :mod:`verdict`.

A near duplicate agrees with its photo pixel for pixel once aligned (the full test's residual <= 0.04); two
different photos of look-alike things do not. This pre-judge measures that agreement roughly, on small grey
thumbnails of every photo (``SIDE`` x ``SIDE``, stretched to a square: a crop stays an axis-aligned scale and
shift), for a whole batch of pairs at once with torch:

1. coarse alignment: normalised cross-correlation of one thumbnail, shrunk to 100/92/85 % per axis, at every
   position inside the other, both ways round (as the full test does, ``COARSE_SIDE`` pixels);
2. Gauss-Newton refinement of the scale and shift per axis with a tone fit (gain, offset and a square term:
   brightness, contrast, gamma), on blurred thumbnails;
3. the residual: RMS difference on the overlap after the tone fit, relative to the thumbnail's spread.

A pair whose pre-judge residual is above ``PASS_RESIDUAL`` is taken not to pass the full near test (pairs the
full test found exact/near measured <= 0.104 on Fashion-MNIST, digits and photo crops; see docs/organize.md) and
is not judged further; nor is a pair whose rough alignment is clearly not one picture inside the other
(:func:`geometry`, :data:`GEOMETRY_GATE`); the others go to the full test, most likely copies first. The pre-judge
never decides that a pair *is* a duplicate.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.device import one_thread
from .pixels import Picture

SIDE = 24  # thumbnail side for the refinement and the residual
COARSE_SIDE = 16  # thumbnail side for the coarse correlation search
CROP_FRACTIONS = (1.0, 0.92, 0.85)
REFINE_STEPS = ((1.5, 2), (0.75, 2))  # (blur in thumbnail pixels, Gauss-Newton steps)
RESIDUAL_SIGMA = 1.0
CONTRAST_FLOOR = 20.0  # grey levels, as the full test
PASS_RESIDUAL = 0.15  # pairs above go no further (exact/near pairs measured <= 0.104)
# A near pair lies one inside the other (the full test: inside >= 0.97, overlap >= 0.75, scale >= 0.97); pairs whose rough
# alignment is clearly not so go no further. Near pairs measured >= 0.963 / 0.73 / 0.98 here (docs/organize.md).
GEOMETRY_GATE = {"inside": 0.9, "overlap": 0.6, "scale": 0.9}
BATCH = 1024  # pairs compared at a time
TIE = 0.1  # the small picture counts as the inner one unless the large one is this much more inside (rough alignment)


class PreJudged(NamedTuple):
    residual: np.ndarray  # (P,) rough aligned residual per pair; NaN when a thumbnail is missing (the full test decides)
    correlation: np.ndarray  # (P,) best coarse correlation
    params: np.ndarray  # (P, 4) the alignment (ax, cx, ay, cy): first's normalised u lies at second's ax u + cx; NaN if missing


class Geometry(NamedTuple):
    """How two aligned pictures lie on each other, as :class:`~vislearn.organize.pixels.PixelMatch` says it (P,) each."""
    inside: np.ndarray  # fraction of the picture lying more inside that is inside the other (1.0 = a crop)
    overlap: np.ndarray  # fraction of the other picture the overlap covers
    scale: np.ndarray  # file pixels of the outer picture per file pixel of the inner one (< 1: an enlarged part)
    side: np.ndarray  # smallest share of a side (width or height) of either picture that both show (1.0: nothing cut)


def off_geometry(found: Geometry) -> np.ndarray:
    """(P,) True where the rough alignment is clearly not that of a copy (below a bound of :data:`GEOMETRY_GATE`)."""
    return np.logical_or.reduce([getattr(found, name) < bound for name, bound in GEOMETRY_GATE.items()])


def geometry(params_p4: np.ndarray, first_wh: np.ndarray, second_wh: np.ndarray) -> Geometry:
    """:class:`Geometry` of pairs aligned by ``params_p4`` (:attr:`PreJudged.params`), the pictures' upright file sizes
    (P, 2) as (width, height), measured as the full test does: from the picture with fewer file pixels, which is the
    one inside when both nearly cover each other (a shrunk copy). On stretched-square thumbnails each axis is a scale
    and shift of its own."""
    params_p4 = np.asarray(params_p4, np.float64).copy()
    small_wh, large_wh = np.array(first_wh, np.float64), np.array(second_wh, np.float64)
    swap = small_wh.prod(1) > large_wh.prod(1)
    small_wh[swap], large_wh[swap] = large_wh[swap], small_wh[swap]
    for a, c in ((0, 1), (2, 3)):  # second's u' lies at first's (u' - c) / a
        gain = np.maximum(params_p4[swap, a], 1e-9)
        params_p4[swap, a], params_p4[swap, c] = 1 / gain, -params_p4[swap, c] / gain
    in_small, in_large, side = np.ones(len(params_p4)), np.ones(len(params_p4)), np.ones(len(params_p4))
    for a, c in ((params_p4[:, 0], params_p4[:, 1]), (params_p4[:, 2], params_p4[:, 3])):
        lo, hi = c, c + a  # the small picture's edges on the large one
        common = np.clip(np.minimum(hi, 1.0) - np.maximum(lo, 0.0), 0.0, None)
        in_small *= common / np.maximum(hi - lo, 1e-9)
        in_large *= common
        side = np.minimum(side, np.minimum(common, common / np.maximum(hi - lo, 1e-9)))
    ratio = params_p4[:, [0, 2]] * large_wh / np.maximum(small_wh, 1)  # large's file pixels per small's, per axis
    scale = np.where(in_small >= in_large - TIE, ratio.min(1), (1 / np.maximum(ratio, 1e-9)).min(1))
    return Geometry(np.maximum(in_small, in_large), np.minimum(in_small, in_large), scale, side)


def thumbnail(picture: Picture | None) -> np.ndarray | None:
    """(SIDE, SIDE) uint8: the picture stretched to a square, or None without a picture."""
    if picture is None:
        return None
    from PIL import Image

    return np.asarray(Image.fromarray(picture.grey_hw).resize((SIDE, SIDE), Image.Resampling.LANCZOS), dtype=np.uint8)


@functools.lru_cache(maxsize=32)
def _blur_matrix(side: int, sigma: float) -> torch.Tensor:
    """(side, side) Gaussian blur along one axis as a matrix, edges repeated: blurred = M @ x."""
    radius = max(1, int(3 * sigma + 0.5))
    offsets = torch.arange(-radius, radius + 1)
    kernel = torch.exp(-0.5 * (offsets.float() / sigma) ** 2)
    kernel = kernel / kernel.sum()
    matrix = torch.zeros(side, side)
    rows = torch.arange(side)[:, None]
    matrix.index_put_((rows.expand(-1, len(offsets)), (rows + offsets).clamp(0, side - 1)), kernel.expand(side, -1), accumulate=True)
    return matrix


@functools.lru_cache(maxsize=64)
def _resize_matrix(side: int, to: int) -> torch.Tensor:
    """(to, side) antialiased bilinear resize along one axis as a matrix: resized = R @ x."""
    eye = torch.eye(side).view(side, 1, 1, side)
    return F.interpolate(eye, size=(1, to), mode="bilinear", antialias=True, align_corners=False).view(side, to).T.contiguous()


def _gaussian(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, 1, S, S) blurred by a separable Gaussian (edges repeated)."""
    if sigma <= 0:
        return images
    m = _blur_matrix(images.shape[-1], sigma)
    return m @ images @ m.T


def _resized(images: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(B, 1, S, S) -> (B, 1, h, w), antialiased bilinear."""
    return _resize_matrix(images.shape[-2], hw[0]) @ images @ _resize_matrix(images.shape[-1], hw[1]).T


def _coarse(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best coarse alignment of (B, 1, S, S) pairs: (correlation (B,), params (B, 4) = (ax, cx, ay, cy)) with a's
    normalised coordinate u (pixel centre (x + 0.5) / S) at b's ``ax u + cx`` (and y alike)."""
    n, side = a.shape[0], a.shape[-1]
    best = torch.full((n,), -2.0)
    params = torch.tensor([1.0, 0.0, 1.0, 0.0]).repeat(n, 1)
    for inner, outer, a_inside in ((a, b, True), (b, a, False)):
        for fy in CROP_FRACTIONS:
            for fx in CROP_FRACTIONS:
                th, tw = round(fy * side), round(fx * side)
                t = _resized(inner, (th, tw))[:, 0]
                t = t - t.mean(dim=(1, 2), keepdim=True)
                t = t / t.flatten(1).norm(dim=1).clamp_min(1e-6)[:, None, None]
                windows = outer[:, 0].unfold(1, th, 1).unfold(2, tw, 1)  # (B, P, Q, th, tw), a view
                dot = torch.einsum("bpqij,bij->bpq", windows, t).flatten(1)  # t has mean 0: no window mean needed
                window_sum = windows.sum(dim=(3, 4)).flatten(1)
                window_sq = (windows ** 2).sum(dim=(3, 4)).flatten(1)
                spread = (window_sq - window_sum ** 2 / (th * tw)).clamp_min(1e-6).sqrt()
                value, where = (dot / spread).max(dim=1)
                positions = side - tw + 1
                oy, ox = (where // positions).float(), (where % positions).float()
                if a_inside:
                    candidate = torch.stack([torch.full_like(ox, tw / side), ox / side, torch.full_like(oy, th / side), oy / side], 1)
                else:
                    candidate = torch.stack([torch.full_like(ox, side / tw), -ox / tw, torch.full_like(oy, side / th), -oy / th], 1)
                better = value > best
                best = torch.where(better, value, best)
                params = torch.where(better[:, None], candidate, params)
    return best, params


def _sample(images: torch.Tensor, params: torch.Tensor, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` (B, C, S, S) read at the other picture's pixel centres under ``params``: (B, C, side, side) and the
    mask (B, side, side) of those inside."""
    u = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    x = params[:, 0, None] * u + params[:, 1, None]  # (B, side)
    y = params[:, 2, None] * u + params[:, 3, None]
    grid = torch.stack(torch.broadcast_tensors(2 * x[:, None, :] - 1, 2 * y[:, :, None] - 1), -1)  # (B, side, side, 2)
    half = 0.5 / images.shape[-1]
    inside = ((x >= half) & (x <= 1 - half))[:, None, :] & ((y >= half) & (y <= 1 - half))[:, :, None]
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False), inside


def _tone_columns(warped: torch.Tensor) -> torch.Tensor:
    """(B, M, 3) the warped grey levels, their square (scaled) and ones: what the tone fit may use."""
    return torch.stack([warped, warped ** 2 / 255.0, torch.ones_like(warped)], -1)


def _solve(columns: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted least squares per pair: (B, M, K) columns, (B, M) target and weight -> (B, K)."""
    cw = columns * weight[..., None]
    gram = cw.transpose(1, 2) @ columns
    ridge = 1e-4 * gram.diagonal(dim1=1, dim2=2).mean(-1, keepdim=True)[..., None] + 1e-6  # no overlap: a zero step
    gram = gram + ridge * torch.eye(gram.shape[-1])
    return torch.linalg.solve(gram, (cw * target[..., None]).sum(1))


def _refine(a: torch.Tensor, b: torch.Tensor, params: torch.Tensor, steps_by_blur=REFINE_STEPS) -> torch.Tensor:
    """Gauss-Newton on (ax, cx, ay, cy) with a gain and offset: a ~ gain * b(warped) + offset, on blurred thumbnails
    (``steps_by_blur``: (blur in thumbnail pixels, steps) in turn)."""
    side = a.shape[-1]
    u = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    ux, uy = u.view(1, 1, side), u.view(1, side, 1)
    for sigma, steps in steps_by_blur:
        sa, sb = _gaussian(a, sigma).flatten(1), _gaussian(b, sigma)
        gy, gx = torch.gradient(sb, dim=(2, 3))
        maps = torch.cat([sb, gx * side, gy * side], 1)
        for _ in range(steps):
            sampled, inside = _sample(maps, params, side)
            warped, dx, dy = sampled[:, 0], sampled[:, 1], sampled[:, 2]
            weight = inside.float().flatten(1)
            count = weight.sum(1, keepdim=True).clamp_min(1.0)
            flat = warped.flatten(1)
            mean_b, mean_a = (flat * weight).sum(1, keepdim=True) / count, (sa * weight).sum(1, keepdim=True) / count
            gain = ((flat - mean_b) * (sa - mean_a) * weight).sum(1, keepdim=True) / (
                ((flat - mean_b) ** 2 * weight).sum(1, keepdim=True).clamp_min(1e-6))
            difference = sa - mean_a - gain * (flat - mean_b)
            jx, jy = gain[:, :, None] * dx, gain[:, :, None] * dy
            jacobian = torch.stack([jx * ux, jx, jy * uy, jy], -1).flatten(1, 2)
            params = params + _solve(jacobian, difference, weight).clamp(-0.2, 0.2)
    return params


def _residual(a: torch.Tensor, b: torch.Tensor, params: torch.Tensor, sigma: float = RESIDUAL_SIGMA) -> torch.Tensor:
    """(B,) RMS of a - tone(b warped) on the overlap, blurred, relative to a's spread there; inf on a tiny overlap."""
    side = a.shape[-1]
    sa, sb = _gaussian(a, sigma), _gaussian(b, sigma)
    warped, inside = _sample(sb, params, side)
    weight = inside.float().flatten(1)
    columns = _tone_columns(warped[:, 0].flatten(1))
    tone = _solve(columns, sa.flatten(1), weight)
    difference = sa.flatten(1) - (columns @ tone[..., None]).squeeze(-1)
    count = weight.sum(1).clamp_min(1.0)
    mean = (a.flatten(1) * weight).sum(1) / count
    spread = (((a.flatten(1) - mean[:, None]) ** 2 * weight).sum(1) / count).sqrt().clamp_min(CONTRAST_FLOOR)
    residual = ((difference ** 2 * weight).sum(1) / count).sqrt() / spread
    return torch.where(count >= 0.25 * side * side, residual, torch.full_like(residual, float("inf")))


def whole_picture_residual(thumbnails_nss: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(P,) the rough residual of pairs compared whole, without moving one against the other (a re-saved, converted or
    brightened copy of the same shape; on fine or repeating texture the rough alignment can drift from it)."""
    out = np.zeros(len(first), np.float32)
    with torch.no_grad(), one_thread():
        for start in range(0, len(first), BATCH):
            a = torch.from_numpy(thumbnails_nss[first[start:start + BATCH]]).float().unsqueeze(1)
            b = torch.from_numpy(thumbnails_nss[second[start:start + BATCH]]).float().unsqueeze(1)
            out[start:start + len(a)] = _residual(a, b, torch.tensor([1.0, 0.0, 1.0, 0.0]).repeat(len(a), 1)).numpy()
    return out


def prejudge(thumbnails_nss: np.ndarray, valid_n: np.ndarray, first: np.ndarray, second: np.ndarray) -> PreJudged:
    """Rough aligned residuals of pairs ``(first[p], second[p])`` of thumbnails (N, SIDE, SIDE) uint8; pairs with a
    missing thumbnail (``valid_n`` False) get NaN (the full test decides them)."""
    residual = np.full(len(first), np.nan, np.float32)
    correlation = np.full(len(first), np.nan, np.float32)
    params_p4 = np.full((len(first), 4), np.nan, np.float32)
    with torch.no_grad(), one_thread():
        for start in range(0, len(first), BATCH):
            i, j = first[start:start + BATCH], second[start:start + BATCH]
            ok = valid_n[i] & valid_n[j]
            if not ok.any():
                continue
            a = torch.from_numpy(thumbnails_nss[i[ok]]).float().unsqueeze(1)
            b = torch.from_numpy(thumbnails_nss[j[ok]]).float().unsqueeze(1)
            best, params = _coarse(_resized(a, (COARSE_SIDE, COARSE_SIDE)), _resized(b, (COARSE_SIDE, COARSE_SIDE)))
            params = _refine(a, b, params)
            rows = np.flatnonzero(ok) + start
            residual[rows] = _residual(a, b, params).numpy()
            correlation[rows] = best.numpy()
            params_p4[rows] = params.numpy()
    return PreJudged(residual, correlation, params_p4)
