"""Where one picture lies in the other: an axis-aligned scale and shift (a crop followed by any resize), found
coarsely by normalised cross-correlation and refined by Gauss-Newton. Used by :mod:`vislearn.organize.pixels`.

``params`` are always (ax, bx, ay, by): the small grid's pixel (x, y) lies at (ax x + bx, ay y + by) on the
other picture's grid of the same shape.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image
from scipy.ndimage import gaussian_filter, map_coordinates

CROP_FRACTIONS = (1.0, 0.92, 0.85)  # of each side's length, tried both ways round


def _ncc_map(image_hw: np.ndarray, template_hw: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``template`` at every position inside ``image`` (P, Q); few positions
    here (the template is 85-100 % of the image), so sliding windows beat an FFT."""
    windows = sliding_window_view(image_hw, template_hw.shape)
    centred = windows - windows.mean(axis=(2, 3), keepdims=True)
    t = template_hw - template_hw.mean()
    return np.einsum("pqij,ij->pq", centred, t) / (np.sqrt((centred ** 2).sum(axis=(2, 3)) * (t ** 2).sum()) + 1e-9)


def coarse_candidates(small_hw: np.ndarray, large_hw: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(NCC, (ax, bx, ay, by)) best first: small's pixel (x, y) lies at large's (ax x + bx, ay y + by); both on one
    grid. The best position of each crop of CROP_FRACTIONS per axis, the small one inside the large one or the
    other way round."""
    h, w = small_hw.shape
    found = []
    for inner, outer, small_inside in ((small_hw, large_hw, True), (large_hw, small_hw, False)):
        for fy in CROP_FRACTIONS:
            for fx in CROP_FRACTIONS:
                th, tw = max(3, round(fy * h)), max(3, round(fx * w))
                template = np.asarray(Image.fromarray(inner).resize((tw, th), Image.Resampling.BILINEAR), dtype=np.float32)
                if template.std() < 1e-3:
                    continue
                scores = _ncc_map(outer, template)
                oy, ox = np.unravel_index(np.argmax(scores), scores.shape)
                ax, ay = tw / w, th / h  # inner pixel x sits at outer ox + (x + 0.5) ax - 0.5
                bx, by = ox + 0.5 * ax - 0.5, oy + 0.5 * ay - 0.5
                params = (ax, bx, ay, by) if small_inside else (1 / ax, -bx / ax, 1 / ay, -by / ay)
                found.append((float(scores[oy, ox]), np.array(params)))
    return sorted(found, key=lambda f: -f[0])


def to_grid(params: np.ndarray, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> np.ndarray:
    """The same alignment expressed on another grid size (pixel centres at (i + 0.5) / side)."""
    ax, bx, ay, by = params
    fx, fy = to_hw[1] / from_hw[1], to_hw[0] / from_hw[0]
    return np.array([ax, (bx + 0.5 - 0.5 * ax) * fx - 0.5 + 0.5 * ax, ay, (by + 0.5 - 0.5 * ay) * fy - 0.5 + 0.5 * ay])


def inside_mask(params: np.ndarray, hw: tuple[int, int], margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask of the small grid's pixels that land inside the large grid, and their x, y."""
    ys, xs = np.mgrid[0:hw[0], 0:hw[1]].astype(np.float32)
    x, y = params[0] * xs + params[1], params[2] * ys + params[3]
    mask = (x >= margin) & (x <= hw[1] - 1 - margin) & (y >= margin) & (y <= hw[0] - 1 - margin)
    return mask, xs, ys


def least_squares(a_mk: np.ndarray, b_m: np.ndarray) -> np.ndarray:
    """Least squares by the normal equations (K <= 6 unknowns: far cheaper than an SVD of the (M, K) matrix)."""
    gram = a_mk.T @ a_mk + 1e-6 * np.eye(a_mk.shape[1])
    return np.linalg.solve(gram, a_mk.T @ b_m)


def refine(small_hw: np.ndarray, large_hw: np.ndarray, params: np.ndarray, sigma: float, steps: int = 6) -> tuple[np.ndarray, float]:
    """Gauss-Newton on (ax, bx, ay, by) with a brightness gain and offset: small ~ gain * large(warped) + offset.
    The refined parameters and the last step's mean squared difference relative to the small one's variance."""
    small, large = (gaussian_filter(small_hw, sigma), gaussian_filter(large_hw, sigma)) if sigma else (small_hw, large_hw)
    grad_x, grad_y = np.gradient(large, axis=1), np.gradient(large, axis=0)
    params, cost = params.astype(np.float64).copy(), float("inf")
    for _ in range(steps):
        mask, xs, ys = inside_mask(params, small.shape, 0.5)
        if mask.sum() < 16:
            break
        xs, ys = xs[mask], ys[mask]
        where = [params[2] * ys + params[3], params[0] * xs + params[1]]
        warped = map_coordinates(large, where, order=1)
        gx, gy = map_coordinates(grad_x, where, order=1), map_coordinates(grad_y, where, order=1)
        target, ones = small[mask], np.ones_like(warped)
        gain, offset = least_squares(np.stack([warped, ones], 1), target)
        jacobian = np.stack([gain * gx * xs, gain * gx, gain * gy * ys, gain * gy, warped, ones], 1)
        difference = target - gain * warped - offset
        cost = float((difference ** 2).mean() / max(target.var(), 1e-6))
        step = least_squares(jacobian, difference)
        params += step[:4]
        if np.abs(step[:4] * (small.shape[1], 1, small.shape[0], 1)).max() < 0.01:
            break
    return params, cost


def coverage(params: np.ndarray, hw: tuple[int, int]) -> tuple[float, float, bool]:
    """(inside, overlap, whether the small grid's picture is the one inside) of two pictures on one grid aligned by
    ``params`` (the small one when both nearly cover each other)."""
    fraction_small, fraction_large = 1.0, 1.0
    for a, b, side in ((params[0], params[1], hw[1]), (params[2], params[3], hw[0])):
        lo, hi = (b - 0.5 * a + 0.5) / side, (b + (side - 0.5) * a + 0.5) / side  # the small picture's edges in the large one
        common = max(0.0, min(1.0, hi) - max(0.0, lo))
        fraction_small *= common / max(hi - lo, 1e-9)
        fraction_large *= common
    return max(fraction_small, fraction_large), min(fraction_small, fraction_large), fraction_small >= fraction_large - 0.02


def side_share(params: np.ndarray, hw: tuple[int, int]) -> float:
    """The smallest share of a side of either picture (width or height, of the small one or the other) that the
    two have in common, aligned by ``params`` on one grid: 1.0 for a re-save, 0.9 for a copy with 10 % of its
    width cut, 0.85 for a crop that lost 15 % of one side even when it kept all of the other (``overlap``, an
    area, reads 0.85 there too)."""
    shares = []
    for a, b, side in ((params[0], params[1], hw[1]), (params[2], params[3], hw[0])):
        lo, hi = (b - 0.5 * a + 0.5) / side, (b + (side - 0.5) * a + 0.5) / side  # the small picture's edges in the large one
        common = max(0.0, min(1.0, hi) - max(0.0, lo))
        shares += [common, common / max(hi - lo, 1e-9)]
    return float(min(shares))


ROUNDINGS = ((-0.5, 0.5), (0.0, 1.0), (-1.0, 0.0))  # a resized side: factor x pixels, rounded to nearest, down or up
AXIS_PRECISION = 0.4  # grid pixels: how far the aligned extent of a picture may be off (copies' axes measured <= 0.34)


def one_factor(inner_wh: tuple[int, int], outer_wh: tuple[int, int], extent_wh: tuple[float, float],
               precision_wh: tuple[float, float]) -> bool:
    """Whether the alignment of two pictures is a crop and a resize by ONE factor for both axes, each side rounded to
    whole pixels by one rule: the inner picture (w, h pixels) shows ``extent_wh`` outer pixels (within
    ``precision_wh``), either a box of whole outer pixels resized to (w, h), or the whole outer picture resized by
    the factor and then cut to (w, h) whole pixels. A free fit of each axis can read a hem or side that is a pixel
    longer as a stretch of that axis alone; no copy is made that way, and the sizes of the two files say so."""
    (w, h), (outer_w, outer_h), (ex, ey), (px, py) = inner_wh, outer_wh, extent_wh, precision_wh
    crop_then_resize = _one_factor((ex, ey), (px, py), (w, h), upper=(outer_w, outer_h))
    resized_wh = (outer_w * w / ex, outer_h * h / ey)  # the whole outer picture resized, before the cut
    then_crop = _one_factor(resized_wh, (px * resized_wh[0] / ex, py * resized_wh[1] / ey), (outer_w, outer_h), lower=(w, h),
                            inverse=True)
    return crop_then_resize or then_crop


def _one_factor(sides: tuple[float, float], precision: tuple[float, float], other: tuple[int, int],
                upper: tuple[int, int] | None = None, lower: tuple[int, int] | None = None, inverse: bool = False) -> bool:
    """Whether whole-pixel sides within ``precision`` of ``sides`` (the box before the resize; with ``inverse``, the
    sizes after resizing ``other``) and ``other`` are related by one factor under one rounding rule."""
    choices = []
    for side, slack, k in ((sides[0], precision[0], 0), (sides[1], precision[1], 1)):
        whole = np.arange(max(1, int(np.ceil(side - slack))), int(np.floor(side + slack)) + 1, dtype=np.float64)
        if upper is not None:
            whole = whole[whole <= upper[k]]
        if lower is not None:
            whole = whole[whole >= lower[k]]
        if not len(whole):
            return False
        choices.append(whole)
    for lo, hi in ROUNDINGS:
        ranges = []  # (candidates,) interval of the factor per axis
        for whole, k in ((choices[0], 0), (choices[1], 1)):
            before, after = (other[k], whole) if inverse else (whole, other[k])
            ranges.append(((after + lo) / before, (after + hi) / before))
        (lo_x, hi_x), (lo_y, hi_y) = ranges
        if (np.maximum(lo_x[:, None], lo_y[None]) < np.minimum(hi_x[:, None], hi_y[None])).any():
            return True
    return False
