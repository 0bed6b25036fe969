"""The outline test: a plain item whose outline moved along one stretch is never a near duplicate, while every kind of
true copy of the plain item stays near (:mod:`vislearn.organize.outline`)."""
import io

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from vislearn.organize.pixels import pixel_matches, read_picture
from vislearn.organize.planted import COPIES, encode
from vislearn.organize.verdict import NEAR_RESIDUAL, NEAR_SIDE, NEAR_WORST_WINDOW, judge, judge_pictures, outline_bound


def plain_top(side: int, moved_from: int | None = None) -> Image.Image:
    """A flat grey top on a dark flat background; ``moved_from``: its right side 1 px wider from that row down (of 48)."""
    canvas = np.full((48, 48), 20, np.float32)
    canvas[6:42, 12:36] = 180
    canvas[6:18, 6:12] = canvas[6:18, 36:42] = 180
    canvas[6:9, 21:27] = 20
    if moved_from is not None:
        canvas[moved_from:42, 36] = 180
    grey = np.clip(gaussian_filter(canvas, 0.6), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).resize((side, side), Image.Resampling.LANCZOS)


def picture_of(image_or_bytes) -> object:
    content = image_or_bytes if isinstance(image_or_bytes, bytes) else encode(image_or_bytes, "PNG")
    return read_picture(io.BytesIO(content))


def test_a_plain_item_with_a_moved_stretch_of_outline_passes_every_other_gate_but_not_the_outline_test():
    # as the closest distinct pair at 20,000 photos (residual 0.036, worst window 0.134): the plain comparison passes
    a, b = picture_of(plain_top(36)), picture_of(plain_top(36, moved_from=34))
    match = min(pixel_matches(a, b))
    assert match.residual <= NEAR_RESIDUAL and match.worst_window <= NEAR_WORST_WINDOW and match.side >= NEAR_SIDE
    assert match.outline >= 1.3 * outline_bound(match.detail)
    assert judge_pictures(a, b).kind != "near"


@pytest.mark.parametrize("side", [36, 64])
def test_every_kind_of_copy_of_a_plain_item_keeps_its_outline_with_margin(side):
    rng = np.random.default_rng(side)
    original = plain_top(side)
    for kind in COPIES.names():
        matches = pixel_matches(picture_of(original), picture_of(COPIES.get(kind)(original, rng)[0]))
        near = [m for m in matches if judge(m).kind == "near"]
        assert near, (kind, [judge(m).detail for m in matches])
        assert min(m.outline / outline_bound(m.detail) for m in near) <= 0.75, kind
