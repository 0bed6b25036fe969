"""The outline test: a plain item whose outline moved along one stretch is never a near duplicate, while every kind of
true copy of the plain item stays near (:mod:`vislearn.organize.outline`)."""
import io

import numpy as np
import pytest
from organize_helpers import plain_top

from vislearn.organize.alignment import one_factor
from vislearn.organize.pixels import align_pictures, pixel_matches, read_picture
from vislearn.organize.planted import COPIES, encode
from vislearn.organize.verdict import NEAR_RESIDUAL, NEAR_SIDE, NEAR_WORST_WINDOW, judge, judge_pictures, outline_bound


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


def test_a_top_whose_hem_is_a_pixel_longer_is_not_near_though_a_stretch_of_one_axis_absorbs_it():
    # the free fit reads the longer hem as a ~3 % stretch of the height alone: every other gate passes there
    a, b = picture_of(plain_top(40)), picture_of(plain_top(40, hem=1))
    found = pixel_matches(a, b)[0]
    ax, _, ay, _ = align_pictures(a, b).params
    assert abs(ay / ax - 1) > 0.02
    assert found.residual <= NEAR_RESIDUAL and found.outline <= outline_bound(found.detail) and not found.one_factor
    assert judge_pictures(a, b).kind != "near"


@pytest.mark.parametrize("kind", ["resized", "cropped", "edited"])
def test_copies_of_the_longer_hem_top_stay_near(kind):
    twin = plain_top(40, hem=1)
    copy = COPIES.get(kind)(twin, np.random.default_rng(3))[0]
    assert judge_pictures(picture_of(twin), picture_of(copy)).kind == "near"


def test_a_collar_a_pixel_deeper_is_not_near_though_shorter_than_a_strip():
    # the collar is 5 grid pixels wide at 40 px: a 12-pixel strip averages its move below the bound, a short one does not
    a, b = picture_of(plain_top(40)), picture_of(plain_top(40, collar=1))
    matches = pixel_matches(a, b)
    assert all(m.one_factor for m in matches)
    assert min(m.outline / outline_bound(m.detail) for m in matches) >= 1.1  # measured 1.18


def test_one_resize_factor_explains_a_copy_but_not_one_axis_stretched_by_a_pixel():
    # a 64 x 43 photo resized to 22 x 15 (each side rounded), and a 5-10 % crop of it at its own scale
    assert one_factor((22, 15), (64, 43), (64.0, 43.0), (0.4, 0.4))
    assert one_factor((58, 39), (64, 43), (58.1, 38.9), (0.4, 0.4))
    # two 37 x 37 files, one showing 36 of the other's columns and all 37 rows: no one factor does that
    assert not one_factor((37, 37), (37, 37), (35.93, 37.01), (0.4, 0.4))
    assert one_factor((37, 37), (37, 37), (37.0, 37.01), (0.4, 0.4))
