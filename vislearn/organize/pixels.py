"""Are two pictures the same photo? Their pixels compared after alignment.

A copy of a photo (resized, re-compressed, brightened, converted, turned upright by its EXIF tag, cropped a
little) shows the same pixels as the original, up to resampling and compression noise. A different photo of
a look-alike thing does not, however well it is aligned: a collar, a seam, a shadow is somewhere else.

1. Both pictures are read upright (EXIF orientation applied) in grey and brought to the grid of the one with
   fewer pixels, its longest side at most ``COMPARE_SIDE`` (a smaller picture is compared at its own size).
2. Alignment: an axis-aligned scale and shift (a crop followed by any resize). First normalised
   cross-correlation over crops of ``CROP_FRACTIONS`` per axis on ``COARSE_SIDE``-pixel versions, both ways
   round (either picture may be the crop); then Gauss-Newton on the pixels refines it to a fraction of a
   pixel, brightness gain and offset fitted alongside, on blurred and then on sharp pictures.
3. On the overlap, one picture's grey levels are mapped onto the other's by the best monotone curve
   (isotonic regression: brightness, contrast, gamma, clipped highlights), the difference is blurred by
   ``BLUR_SIGMA`` grid pixels (compression noise averages out, a different shape does not), and measured
   relative to the picture's own standard deviation: over the whole overlap (``residual``) and in the worst
   ``WINDOW`` x ``WINDOW`` window (``worst_window``). :class:`PixelMatch` also says how much of the picture
   with less content lies inside the other (``inside``, 1.0 for a crop) and how much of the other the
   overlap covers (``overlap``), and how many file pixels of the other picture one file pixel of the
   picture inside shows (``scale``: 1 for a crop or a re-save, above 1 for a shrunk copy, below 1 when it
   would be an enlarged part of the other, as a moved camera often aligns). :mod:`vislearn.organize.verdict` turns these numbers
   into a kind.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps
from scipy.optimize import isotonic_regression

from .alignment import AXIS_PRECISION, coarse_candidates, coverage, inside_mask, least_squares, one_factor, refine, side_share, to_grid
from .outline import fine_detail, outline_shift
from scipy.ndimage import binary_erosion, gaussian_filter, map_coordinates, uniform_filter

READ_SIDE = 128  # pictures are kept at most this large (grey, 16 KB): enough for a COMPARE_SIDE grid
COMPARE_SIDE = 64
COARSE_SIDE = 24
MIN_SIDE = 8  # a grid smaller than this cannot tell two pictures apart
WHOLE_PICTURE = np.array([1.0, 0.0, 1.0, 0.0])  # (ax, bx, ay, by) of two pictures that show the same view
COARSE_MIN_CORRELATION = 0.5  # below this at COARSE_SIDE no refinement makes two pictures agree; copies measured >= 0.72
BLUR_SIGMA = 1.0
WINDOW = 8
ORDER = 3  # cubic spline: linear interpolation blurs half-pixel shifts of a crop
CONTRAST_FLOOR = 20.0  # grey levels: differences are measured against at least this spread
FLAT_STD = 2.0  # grey levels (0-255): a picture this uniform has no pixels to compare
NO_MATCH_SCALE = (0.5, 2.0)  # an alignment that scales more than this is not a crop: the pictures differ
ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
REMADE_MIN_SCALE = 0.97  # a picture cut or shrunk from the other (outer file pixels per own pixel) is also compared remade
REMADE_RESAMPLERS = (Image.Resampling.BOX, Image.Resampling.BILINEAR)  # the shrinks whose aliasing LANCZOS does not show
REMADE_RESIDUALS = (0.03, 0.12)  # only pairs whose plain residual lies between (copies: mostly below; BOX-aliased 0.04-0.095)
REMADE_CLEAR_WINDOW = 0.10  # ... or below, with a worst window above this (a copy's aliasing can sit in one spot)
REMADE_MIN_INSIDE, REMADE_MIN_OVERLAP = 0.97, 0.75  # and whose geometry could be a copy's (verdict.NEAR_INSIDE, NEAR_OVERLAP)


class Picture(NamedTuple):
    grey_hw: np.ndarray  # (H, W) uint8, upright, longest side <= READ_SIDE
    width: int  # of the upright picture in the file, in pixels
    height: int


class PixelMatch(NamedTuple):
    residual: float  # RMS difference after alignment and tone mapping / standard deviation (0 = identical)
    worst_window: float  # the same in the worst WINDOW x WINDOW window of the overlap
    inside: float  # fraction of the picture with less content that lies inside the other (1.0 = a crop)
    overlap: float  # fraction of the picture with more content that the overlap covers
    grid_side: int  # longest side of the grid compared on, in pixels
    contrast: float = 0.0  # standard deviation of the overlap's grey levels (0-255)
    correlation: float = 0.0  # normalised cross-correlation of the best coarse alignment on the COARSE_SIDE grid
    scale: float = 0.0  # file pixels of the outer picture per file pixel of the one inside it (< 1: an enlarged part)
    side: float = 0.0  # smallest share of a side (width or height) of either picture that both show (1.0: nothing cut)
    outline: float = 0.0  # largest mean difference along a straight strip (a moved stretch of outline), / spread
    detail: float = 0.0  # fine detail of the picture compared against (what a 1-pixel blur removes), / spread
    one_factor: bool = True  # the alignment is a crop and a resize by one factor for both axes (alignment.one_factor)
    noise: float = 0.0  # the codec noise of the pair: 75th percentile of |difference| (unblurred) on the overlap, / spread
    resaved: bool = False  # two files of the same pixel size compared unmoved, whole picture on whole picture (a re-save)


NO_MATCH = PixelMatch(float("inf"), float("inf"), 0.0, 0.0, 0, 0.0)


def picture(image: Image.Image, width: int | None = None, height: int | None = None) -> Picture:
    """A :class:`Picture` of an upright image; ``width``/``height``: the file's full size when ``image`` was decoded smaller."""
    grey = image.convert("L")
    grey.thumbnail((READ_SIDE, READ_SIDE), Image.Resampling.LANCZOS)
    return Picture(np.asarray(grey, dtype=np.uint8), width or image.width, height or image.height)


def read_picture(path: str | Path) -> Picture | None:
    """The picture in an image file, upright, or None when it cannot be read (then no pixel test can pass)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in ROTATED_ORIENTATIONS:
                width, height = height, width
            image.draft("L", (2 * READ_SIDE, 2 * READ_SIDE))  # JPEG: decode at 1/2..1/8 scale, many times faster
            return picture(ImageOps.exif_transpose(image), width, height)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def same_decoded_pixels(path_a: str | Path, path_b: str | Path) -> bool:
    """True when both files decode (upright, RGB) to exactly the same pixels, e.g. a PNG re-saved or converted losslessly."""
    try:
        with Image.open(path_a) as a, Image.open(path_b) as b:
            if a.size != b.size:
                return False
            pixels_a = np.asarray(ImageOps.exif_transpose(a).convert("RGB"))
            return np.array_equal(pixels_a, np.asarray(ImageOps.exif_transpose(b).convert("RGB")))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def _grid_hw(p: Picture, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(p.width, p.height))
    return max(1, round(p.height * scale)), max(1, round(p.width * scale))


def _on_grid(p: Picture, hw: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: the picture resampled onto a grid (antialiased when shrinking, in floats: no clipping)."""
    return _resized(p.grey_hw.astype(np.float32), hw)


def _resized(grey_hw: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(grey_hw).resize((hw[1], hw[0]), Image.Resampling.LANCZOS), dtype=np.float32)


def tone_curve(source_m: np.ndarray, target_m: np.ndarray) -> np.ndarray:
    """(256,) the best monotone map of ``source`` grey levels onto ``target`` (isotonic regression over the
    levels, each weighted by its pixel count): brightness, contrast, gamma, clipped highlights."""
    levels = np.clip(np.rint(source_m), 0, 255).astype(np.int64)
    count = np.bincount(levels, minlength=256)
    used = np.flatnonzero(count)
    mean = np.bincount(levels, weights=target_m, minlength=256)[used] / count[used]
    weight = count[used].astype(np.float64)
    fitted = isotonic_regression(mean, weights=weight).x
    # Levels the grid never shows (the darkest strokes, the brightest highlights at the read size) continue the
    # overall slope and clip at 0 and 255, as the edit that made the copy would.
    slope = max(np.polyfit(used, fitted, 1, w=np.sqrt(weight))[0], 0.0) if len(used) > 1 else 1.0
    levels_all = np.arange(256)
    curve = np.interp(levels_all, used, fitted)
    curve = np.where(levels_all < used[0], fitted[0] + slope * (levels_all - used[0]), curve)
    curve = np.where(levels_all > used[-1], fitted[-1] + slope * (levels_all - used[-1]), curve)
    return np.clip(curve, 0, 255).astype(np.float32)


def _neighbour_sums(image_hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) sums of each pixel's 4 edge neighbours and of its 4 corner neighbours (edges repeated)."""
    p = np.pad(image_hw, 1, mode="edge")
    edges = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
    corners = p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]
    return edges, corners


def _equalised(source_hw: np.ndarray, target_hw: np.ndarray, mask_hw: np.ndarray) -> np.ndarray:
    """``source`` through the symmetric 3 x 3 filter (and offset) that best matches ``target`` on the mask: what
    separates two resamplers (LANCZOS sharpens, BOX and BILINEAR soften). Three numbers cannot move an edge."""
    edges, corners = _neighbour_sums(source_hw)
    columns = np.stack([source_hw[mask_hw], edges[mask_hw], corners[mask_hw], np.ones(int(mask_hw.sum()), np.float32)], 1)
    c = least_squares(columns.astype(np.float64), target_hw[mask_hw].astype(np.float64))
    return (c[0] * source_hw + c[1] * edges + c[2] * corners + c[3]).astype(np.float32)


def _mismatch(target_hw: np.ndarray, source_hw: np.ndarray, mask_hw: np.ndarray, sigma: float = BLUR_SIGMA) -> tuple[float, ...]:
    """(residual, worst_window, contrast, outline, detail, noise) of ``target - source`` on the mask, blurred by ``sigma``
    (the outline test and ``noise`` unblurred: :mod:`vislearn.organize.outline`), relative to the target's spread."""
    diff = np.where(mask_hw, target_hw - source_hw, 0).astype(np.float32)
    noise = float(np.percentile(np.abs(diff[mask_hw]), 75))
    weight = mask_hw.astype(np.float32)
    if sigma:
        diff = gaussian_filter(diff, sigma) / np.maximum(gaussian_filter(weight, sigma), 1e-3)
    squared = diff ** 2 * weight
    window = np.sqrt(np.maximum(uniform_filter(squared, WINDOW) / np.maximum(uniform_filter(weight, WINDOW), 1e-3), 0))
    contrast = float(target_hw[mask_hw].std())
    spread = max(contrast, CONTRAST_FLOOR)  # dim, low-contrast photos: JPEG noise would look large against their spread
    return (float(np.sqrt(squared[mask_hw].mean())) / spread, float(window[mask_hw].max()) / spread, contrast,
            outline_shift(target_hw, source_hw, mask_hw, spread), fine_detail(target_hw, mask_hw, spread), noise / spread)


class Aligned(NamedTuple):
    small_hw: np.ndarray  # (H, W) float32: the picture with fewer pixels on its comparison grid
    warped_hw: np.ndarray  # (H, W) float32: the other one resampled onto the same pixels
    mask_hw: np.ndarray  # (H, W) bool: pixels that both show
    params: np.ndarray  # (ax, bx, ay, by): small's pixel (x, y) lies at (ax x + bx, ay y + by) on the other's grid
    small: Picture  # the picture with fewer pixels
    large: Picture
    correlation: float  # of the best coarse alignment


def _warp(large_hw: np.ndarray, params: np.ndarray) -> np.ndarray:
    """(H, W) float32: ``large_hw`` resampled at the small grid's pixels (same shape) under ``params``."""
    ys, xs = np.mgrid[0:large_hw.shape[0], 0:large_hw.shape[1]].astype(np.float32)
    where = [params[2] * ys + params[3], params[0] * xs + params[1]]
    return map_coordinates(large_hw, where, order=ORDER, mode="nearest").astype(np.float32)


def align_pictures(a: Picture, b: Picture, side: int = COMPARE_SIDE) -> Aligned | None:
    """``a`` and ``b`` on one grid, aligned to a fraction of a pixel; None when they cannot be (flat, tiny, not a
    crop, or so unlike at ``COARSE_SIDE`` pixels that no refinement can make them agree: most candidate pairs of a
    look-alike collection end here, at a fifth of the cost)."""
    small, large = (a, b) if a.width * a.height <= b.width * b.height else (b, a)
    hw, coarse_hw = _grid_hw(small, side), _grid_hw(small, COARSE_SIDE)
    if min(hw) < MIN_SIDE:
        return None
    small_hw, large_hw = _on_grid(small, hw), _on_grid(large, hw)
    if small_hw.std() < FLAT_STD or large_hw.std() < FLAT_STD:
        return None
    candidates = coarse_candidates(_on_grid(small, coarse_hw), _on_grid(large, coarse_hw))
    if not candidates or candidates[0][0] < COARSE_MIN_CORRELATION:
        return None
    correlation, params = candidates[0]
    params = to_grid(params, coarse_hw, hw)
    for sigma in (1.5, 0.5):
        params, _ = refine(small_hw, large_hw, params, sigma)
    return _aligned_by(params, Aligned(small_hw, large_hw, None, None, small, large, correlation))


def _aligned_by(params: np.ndarray, pictures: Aligned) -> Aligned | None:
    """``pictures`` (its ``warped_hw`` still the other picture on the grid, unwarped) aligned by ``params``."""
    lo, hi = NO_MATCH_SCALE
    mask = binary_erosion(inside_mask(params, pictures.small_hw.shape, 0.0)[0])  # one pixel in: the 3 x 3 filter sees only shown pixels
    if not (lo <= params[0] <= hi and lo <= params[2] <= hi) or mask.sum() < MIN_SIDE * MIN_SIDE:
        return None
    return pictures._replace(warped_hw=_warp(pictures.warped_hw, params), mask_hw=mask, params=params)


def _tone_mapped(p: Picture, curve: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: the picture's grey levels mapped by ``curve`` (256,) at its read size, then put on the grid,
    so that clipping happens before the shrink, as in the edited file."""
    return _resized(curve[p.grey_hw], hw)


def compare_pictures(a: Picture, b: Picture, side: int = COMPARE_SIDE) -> PixelMatch:
    """How well ``a`` and ``b`` agree pixel for pixel after alignment (:data:`NO_MATCH` when they cannot be aligned):
    the best of :func:`pixel_matches`."""
    return min(pixel_matches(a, b, side), default=NO_MATCH)


def pixel_matches(a: Picture, b: Picture, side: int = COMPARE_SIDE) -> list[PixelMatch]:
    """The pixels compared under the found alignment and, when the two have the same shape, under the whole
    picture: re-saved, recompressed, brightened, converted copies show the whole picture, and the alignment
    drifts from it when a gain cannot fit the edit (clipped digits read as a slight zoom) or the picture has
    little to align on (a nearly blank page). Empty when they cannot be aligned."""
    aligned = align_pictures(a, b, side)
    if aligned is None:
        return []
    matches = [_compare(aligned)]
    matches += _remade(aligned, matches[0])
    same_shape = abs(a.width * b.height / (a.height * b.width) - 1) < 0.02
    if same_shape and np.abs(aligned.params - WHOLE_PICTURE).max() > 1e-3:
        whole = _aligned_by(WHOLE_PICTURE, aligned._replace(warped_hw=_on_grid(aligned.large, aligned.small_hw.shape)))
        matches += [_compare(whole)] + _remade(whole, matches[0]) if whole is not None else []
    return matches


def _compare(aligned: Aligned) -> PixelMatch:
    """Each way round (the other picture mapped onto the small one, or the small one onto the other; a brightened
    copy with clipped highlights is a monotone function of the original, not the reverse): the tone curve, then
    the 3 x 3 filter; the way that fits better is reported."""
    hw, mask = aligned.small_hw.shape, aligned.mask_hw
    ways = []
    for source, target, source_hw, params in ((aligned.large, aligned.small_hw, aligned.warped_hw, aligned.params),
                                              (aligned.small, aligned.warped_hw, aligned.small_hw, None)):
        mapped = _tone_mapped(source, tone_curve(source_hw[mask], target[mask]), hw)
        mapped = mapped if params is None else _warp(mapped, params)
        ways.append(_mismatch(target, _equalised(mapped, target, mask), mask))
    residual, worst, contrast, outline, detail, noise = min(ways)
    inside, overlap, small_inside = coverage(aligned.params, hw)
    small, large = aligned.small, aligned.large
    scales = np.array([aligned.params[0] * large.width / small.width, aligned.params[2] * large.height / small.height])
    scale = float(scales.min() if small_inside else (1 / scales).min())  # outer file pixels per inner file pixel
    side = side_share(aligned.params, hw)
    return PixelMatch(residual, worst, inside, overlap, max(hw), contrast, aligned.correlation, float(scale), side,
                      outline, detail, _one_factor(aligned, small_inside), noise,
                      (small.width, small.height) == (large.width, large.height)
                      and bool(np.abs(aligned.params - WHOLE_PICTURE).max() <= 1e-3))


def _one_factor(aligned: Aligned, small_inside: bool) -> bool:
    """:func:`~vislearn.organize.alignment.one_factor` of the aligned pair, in file pixels (the picture inside shows
    ``extent`` pixels of the other along each axis), for two files of the same size only: there a copy is the whole
    picture re-saved, and the alignment is precise to a fraction of a file pixel. Between files of different sizes the
    alignment of a smooth picture (upscaled digits) is off by up to ~1.3 grid pixels along an axis, as much as a
    one-pixel stretch: the test would cost copies (measured: 10 of 30 cropped digits), so it does not apply."""
    (gh, gw), (ax, _, ay, _) = aligned.small_hw.shape, aligned.params
    small, large = (aligned.small.width, aligned.small.height), (aligned.large.width, aligned.large.height)
    if small != large:
        return True
    inner, outer, extent = ((small, large, (ax * large[0], ay * large[1])) if small_inside
                            else (large, small, (small[0] / ax, small[1] / ay)))
    return one_factor(inner, outer, extent, (AXIS_PRECISION * outer[0] / gw, AXIS_PRECISION * outer[1] / gh))


def _remade(aligned: Aligned, found: PixelMatch) -> list[PixelMatch]:
    """The pixels compared once more with the other picture shrunk onto the small one's own pixels by each of
    :data:`REMADE_RESAMPLERS`, over the part the small one shows: a copy shrunk by a box or bilinear filter keeps
    aliasing (fine texture, text) that no smooth filter of the original reproduces, and remaking the shrink
    does. Only for a small picture read at its own size that lies inside the other, not enlarged
    (:data:`REMADE_MIN_SCALE`), where ``found`` (the plain comparison) neither passes clearly nor fails clearly
    (:data:`REMADE_RESIDUALS`; the remade comparison costs ~0.6x the plain one); ``inside``, ``overlap`` and
    ``scale``, ``side`` and ``resaved`` stay those of ``found`` (a remade picture is no file)."""
    small, large, (ax, bx, ay, by) = aligned.small, aligned.large, aligned.params
    gh, gw = aligned.small_hw.shape
    sh, sw = small.grey_hw.shape
    lh, lw = large.grey_hw.shape
    _, _, small_inside = coverage(aligned.params, (gh, gw))
    clearly_copy = found.residual <= REMADE_RESIDUALS[0] and found.worst_window <= REMADE_CLEAR_WINDOW
    could_be_copy = (not clearly_copy and found.residual <= REMADE_RESIDUALS[1] and found.inside >= REMADE_MIN_INSIDE
                     and found.overlap >= REMADE_MIN_OVERLAP and found.scale >= REMADE_MIN_SCALE)
    if not could_be_copy or not small_inside or (sw, sh) != (small.width, small.height):
        return []
    # the small grid's pixel edges 0..gw on the other's grid (pixel centres at a x + b), in the other's read pixels
    box = ((0.5 - 0.5 * ax + bx) * lw / gw, (0.5 - 0.5 * ay + by) * lh / gh,
           (ax * (gw - 0.5) + bx + 0.5) * lw / gw, (ay * (gh - 0.5) + by + 0.5) * lh / gh)
    box = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(lw)), min(box[3], float(lh)))
    if (lw, lh) == (large.width, large.height):
        box = tuple(float(round(edge)) for edge in box)  # read at its own size: a crop cuts whole file pixels
    matches = []
    for resampler in REMADE_RESAMPLERS:
        shrunk = np.asarray(Image.fromarray(large.grey_hw).resize((sw, sh), resampler, box=box), dtype=np.uint8)
        remade = Picture(shrunk, small.width, small.height)
        pair = _aligned_by(WHOLE_PICTURE, aligned._replace(warped_hw=_on_grid(remade, (gh, gw)), large=remade))
        if pair is not None:
            matches.append(_compare(pair)._replace(inside=found.inside, overlap=found.overlap, scale=found.scale, side=found.side,
                                                   one_factor=found.one_factor, resaved=found.resaved))
    return matches

