"""The outline test: has a straight stretch of outline moved between two aligned pictures?

Two different plain products of one cut (grey tops, trousers, bags on a flat background) can agree pixel for pixel
almost everywhere: their flat insides match, and the difference is a one-pixel move of part of the outline. Blurred
and averaged over the picture (:func:`vislearn.organize.pixels._mismatch`) that is small against the picture's
spread (the whole item against its background). Along the moved stretch, though, the difference has one sign, so its
mean over a strip of :data:`STRIP` pixels along the outline stays as large as it is pixel by pixel, while the noise of a
copy (compression, resampling) changes sign and averages out. A moved stretch shorter than the strip (a collar, a sleeve end of a
small picture) is measured on :data:`SHORT_STRIPS` too, their means weighed down as a copy's noise grows on them.

``outline``: the largest mean difference over a straight strip of :data:`STRIP` grid pixels (rows or columns),
relative to the spread. A copy's noise grows with the picture's fine detail (``detail``: what a 1-pixel blur removes,
relative to the spread; a plain item ~0.03-0.10, a textured photo up to ~0.65), so the bound a copy must meet grows
with it (:func:`vislearn.organize.verdict.outline_bound`).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_erosion, gaussian_filter, uniform_filter

ACROSS = 1.0  # grid pixels of blur before the strips: a sharper or softer edge (+ one side, - the other) cancels,
# a moved edge (one sign across it) does not
STRIP = 12  # grid pixels (a fifth of the 64-pixel grid): long enough for noise to average out, short enough for a collar
SHORT_STRIPS = (8, 6, 4)  # grid pixels: a moved sleeve end or collar of a small picture is shorter than STRIP; a copy's
# noise averages out less along them, so their means count as if sqrt(length / STRIP) of it (independent noise)


def outline_shift(target_hw: np.ndarray, source_hw: np.ndarray, mask_hw: np.ndarray, spread: float) -> float:
    """The largest |mean of target - source| over a row or column strip of STRIP pixels inside the mask (or of
    SHORT_STRIPS, weighed down by sqrt(length / STRIP)), / spread;
    (H, W) float32 pictures on one grid, (H, W) bool mask of the pixels both show."""
    weight = mask_hw.astype(np.float32)
    difference = np.where(mask_hw, target_hw - source_hw, 0).astype(np.float32)
    difference = gaussian_filter(difference, ACROSS) / np.maximum(gaussian_filter(weight, ACROSS), 1e-3) * weight
    largest = 0.0
    for length in (STRIP, *SHORT_STRIPS):
        for size in ((1, length), (length, 1)):
            shown = uniform_filter(weight, size, mode="constant") > 0.999
            if shown.any():
                mean = uniform_filter(difference, size, mode="constant")
                largest = max(largest, float(np.abs(mean[shown]).max()) * np.sqrt(length / STRIP))
    return largest / spread


def fine_detail(target_hw: np.ndarray, mask_hw: np.ndarray, spread: float) -> float:
    """The median size of what a 1-pixel blur removes from ``target_hw`` (H, W) inside the mask (two pixels in), / spread:
    texture everywhere raises it, the sharp outline of a plain item on a flat background does not."""
    inner = binary_erosion(mask_hw, iterations=2)
    if not inner.any():
        return 0.0
    fine = target_hw - gaussian_filter(target_hw, 1.0)
    return float(np.median(np.abs(fine[inner]))) / spread
