"""Which kind of duplicate a candidate pair is, and which test (with its number) says so.

Tests in order; the first that passes decides:

| kind | test | passes when |
|---|---|---|
| exact | same bytes | equal sha256 |
| exact | same pixels | both files decode (upright, RGB) to identical pixels |
| near | aligned pixels | after alignment (:mod:`vislearn.organize.pixels`): ``residual <= NEAR_RESIDUAL`` and ``worst_window <= NEAR_WORST_WINDOW``, one picture lies inside the other (``inside >= NEAR_INSIDE``: a crop, not a moved camera), covers most of it (``overlap >= NEAR_OVERLAP``), shares at least ``NEAR_SIDE`` of every side of both (``side``: at most 1/8 of a width or height cut, whatever the other side keeps) is not an enlarged part of it (``scale >= NEAR_MIN_SCALE``), and no straight stretch of outline moved (``outline <= outline_bound(detail)``, :mod:`vislearn.organize.outline`); two files of the same pixel size aligned by one resize factor for both axes (``one_factor``, :func:`~vislearn.organize.alignment.one_factor`: a hem a pixel longer read as a stretch of one axis); and two files of one size whose whole pictures agree have an outline within ``RESAVE_OUTLINE_PER_NOISE`` x their own codec noise (:func:`resave_outline_ok`: a collar or sleeve a pixel longer on a 28-36 px picture) |
| similar | aligned look | ``residual <= SIMILAR_RESIDUAL`` with ``overlap >= SIMILAR_OVERLAP``: a burst, the same scene or product shot again, a look-alike |

Only exact and near are ever suggested for removal; similar photos are shown, all kept.

How the numbers were chosen (``benchmarks/organize_duplicates.py``, 64-pixel comparison grid): the hardest
distinct look-alikes among 2,000 Fashion-MNIST items (the nearest neighbours in raw pixels) have a residual
of at least 0.061 and a worst window of at least 0.18; planted copies (resized by four different resamplers,
JPEG q40-85, cropped 5-10 %, brightened or darkened, EXIF-rotated, converted, all at once) reach at most
0.04 (a 40 % BOX-filtered shrink) and the worst window 0.08 with EXIF, JPEG and crops far below.
Bursts (camera moved 8-15 %, turned 1-3 degrees) have ``inside`` at most 0.93 - except a picture with one
edge and little else (a retina's rim on black), where a zoom of 0.9 fits the moved camera: the scale test
catches it (a copy is never an enlarged part of its photo; re-measured with
``benchmarks/organize_pixel_pairs.py``: bursts, crops overlapping by 15-50 %, nearest look-alikes).
Two crops of one big photo, one inside the other, pass every pixel test: the side test keeps them similar
when one shows a strip the other lacks (``benchmarks/organize_truth.py``: on 20,000 generated photos the
measured ``side`` of such pairs agreed with their crop boxes to 0.01; planted crops keep >= 0.90 of each side).
Two different plain items (grey tops on black) can pass the blurred residual and worst window (0.036, 0.134 at 20k);
the outline test, independent of the side test, stops them (``benchmarks/organize_lookalikes.py``: the 20k pair at 1.9x
its bound; every true copy of plain items at most 0.45x, of photo crops at most ~0.4x).
"""
from __future__ import annotations

from typing import NamedTuple

from .pixels import CONTRAST_FLOOR, NO_MATCH, Picture, PixelMatch, pixel_matches

NEAR_RESIDUAL = 0.04
NEAR_WORST_WINDOW = 0.15
NEAR_INSIDE = 0.97
NEAR_OVERLAP = 0.75
NEAR_MIN_SCALE = 0.97  # a copy never shows more pixels per detail than the photo it was made from
NEAR_OUTLINE = 0.10  # + NEAR_OUTLINE_PER_DETAIL x detail: see outline_bound
NEAR_OUTLINE_PER_DETAIL = 3.0
# A re-save (the whole picture at its own size: recompressed, converted, brightened, EXIF-rotated) differs by codec noise
# only, spread over the picture; its outline may be at most RESAVE_OUTLINE_PER_NOISE x that noise (``noise``, at least
# RESAVE_NOISE_FLOOR grey levels). Measured on 28-64 px plain items and flat tops: 690 re-saved copies <= 4.8x,
# a 1-px collar, sleeve or side moved on a 28-36 px flat top >= 5.8x (docs/organize.md, "Re-saves of small pictures").
RESAVE_OUTLINE_PER_NOISE = 5.4
RESAVE_NOISE_FLOOR = 0.5  # grey levels (0-255): a lossless re-save has no noise; a PNG's rounding is half a level
NEAR_SIDE = 0.875  # "slightly cropped": planted crops measured >= 0.896 of each side; crops of one photo cut >= 15 % (<= 0.85) stay similar
SIMILAR_RESIDUAL = 0.25
SIMILAR_OVERLAP = 0.5
REMOVABLE = ("exact", "near")
KIND_ORDER = ("exact", "near", "similar", None)


class PairVerdict(NamedTuple):
    kind: str | None  # "exact" | "near" | "similar" | None (different photos)
    test: str  # the test that decided: "same bytes", "same pixels", "aligned pixels", "aligned look", "none"
    score: float  # the test's number (residual for the pixel tests, 0 for same bytes/pixels)
    threshold: float  # what the number had to be at most
    detail: str  # every number of the test, for the CSV and the gallery
    links: bool = False  # similar, but the pixels agree: two copies of one photo (a crop and a shrunk copy) can look
    # like this, so it joins a duplicate group, where each file is judged again against the kept one


SAME_BYTES = PairVerdict("exact", "same bytes", 0.0, 0.0, "same sha256")
SAME_PIXELS = PairVerdict("exact", "same pixels", 0.0, 0.0, "decoded pixels identical")


def describe(match: PixelMatch) -> str:
    if match.grid_side == 0:
        return "could not be aligned (flat, tiny or unreadable picture, or not a crop of the other)"
    return (f"residual {match.residual:.3f}, worst 8x8 window {match.worst_window:.3f}, inside {match.inside:.2f}, "
            f"overlap {match.overlap:.2f}, side {match.side:.2f}, scale {match.scale:.2f}, outline {match.outline:.3f} "
            f"(detail {match.detail:.3f}){'' if match.one_factor else ', axes not one resize'}"
            f"{'' if resave_outline_ok(match) else f', outline {resave_noise_ratio(match):.1f}x the noise of a re-save'}"
            f" on a {match.grid_side}-pixel grid")



def outline_bound(detail: float) -> float:
    """The most a copy's ``outline`` (:mod:`vislearn.organize.outline`) may be: compression and resampling noise
    grow with the picture's fine ``detail``; a moved stretch of a plain item's outline does not need any."""
    return NEAR_OUTLINE + NEAR_OUTLINE_PER_DETAIL * detail


def resave_noise_ratio(match: PixelMatch) -> float:
    """For two files of one size compared unmoved (``resaved``) whose pixels agree (the near residual and worst window
    hold): the outline / the pair's own codec noise (at least :data:`RESAVE_NOISE_FLOOR`); 0 for any other comparison."""
    if not (match.resaved and match.residual <= NEAR_RESIDUAL and match.worst_window <= NEAR_WORST_WINDOW):
        return 0.0
    return match.outline / max(match.noise, RESAVE_NOISE_FLOOR / max(match.contrast, CONTRAST_FLOOR))


def resave_outline_ok(match: PixelMatch) -> bool:
    """Whether a re-save's outline is within what its own codec noise explains (:data:`RESAVE_OUTLINE_PER_NOISE`);
    any other comparison passes. A re-save's noise is spread over the picture; a moved collar or sleeve end of a small
    plain picture is one stretch of difference on a picture that otherwise agrees exactly, which the length-weighed
    strips (:mod:`vislearn.organize.outline`) average below their bound on a 28-36 px grid."""
    return resave_noise_ratio(match) <= RESAVE_OUTLINE_PER_NOISE


def judge(match: PixelMatch, edited: bool = False) -> PairVerdict:
    """The kind of a pair that is not the same bytes or pixels, from its :class:`PixelMatch`; ``edited``: the pair's
    whole-picture comparison says one file is an edit of the other (:func:`resave_outline_ok`): not near."""
    detail = describe(match) + (", a re-save's outline beyond its noise" if edited and resave_outline_ok(match) else "")
    near = (match.residual <= NEAR_RESIDUAL and match.worst_window <= NEAR_WORST_WINDOW
            and match.inside >= NEAR_INSIDE and match.overlap >= NEAR_OVERLAP and match.side >= NEAR_SIDE
            and match.scale >= NEAR_MIN_SCALE and match.outline <= outline_bound(match.detail) and match.one_factor
            and resave_outline_ok(match) and not edited)
    if near:
        return PairVerdict("near", "aligned pixels", match.residual, NEAR_RESIDUAL, detail)
    if match.residual <= SIMILAR_RESIDUAL and match.overlap >= SIMILAR_OVERLAP:
        pixels_agree = match.residual <= NEAR_RESIDUAL and match.worst_window <= NEAR_WORST_WINDOW
        return PairVerdict("similar", "aligned look", match.residual, SIMILAR_RESIDUAL, detail, links=pixels_agree)
    return PairVerdict(None, "none", match.residual, NEAR_RESIDUAL, detail)


def judge_pictures(a: Picture, b: Picture) -> PairVerdict:
    """The best verdict over the alignments :func:`~vislearn.organize.pixels.pixel_matches` tried (near before
    similar, then the smaller residual): either alignment passing the near test is the same evidence. Two files of one
    size whose whole pictures agree but whose outline moved beyond their codec noise (:func:`resave_outline_ok`) are
    an edit, not a re-save: a drifted alignment that absorbs the move does not make them near."""
    matches = pixel_matches(a, b)
    edited = not all(resave_outline_ok(m) for m in matches)
    verdicts = [judge(m, edited) for m in matches] or [judge(NO_MATCH)]
    return min(verdicts, key=lambda v: (KIND_ORDER.index(v.kind), v.score))
