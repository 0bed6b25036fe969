"""Re-saves of small pictures (:func:`vislearn.organize.verdict.resave_outline_ok`): two files of one size whose
outline moved along one stretch beyond their own codec noise are an edit (a different product), not a re-save, even
where the length-weighed outline strips of a 28-36 px picture stay below their bound; true copies stay near."""
import io

import numpy as np
import pytest
from organize_helpers import plain_top

from vislearn.organize.pixels import pixel_matches, read_picture
from vislearn.organize.planted import COPIES, encode
from vislearn.organize.verdict import RESAVE_OUTLINE_PER_NOISE, judge_pictures, outline_bound, resave_noise_ratio

RESAVES = ("recompressed", "converted", "brightened", "exif-rotated")


def picture_of(image_or_bytes):
    content = image_or_bytes if isinstance(image_or_bytes, bytes) else encode(image_or_bytes, "PNG")
    return read_picture(io.BytesIO(content))


@pytest.mark.parametrize("side, change", [(28, {"collar": 1}), (30, {"collar": 1}), (30, {"sleeves": 1}),
                                          (34, {"collar": 1}), (36, {"collar": 1})])
def test_a_small_top_with_a_pixel_moved_is_not_near_though_its_outline_passes_the_strips(side, change):
    a, b = picture_of(plain_top(side)), picture_of(plain_top(side, **change))
    matches = pixel_matches(a, b)
    assert any(m.outline <= outline_bound(m.detail) for m in matches)  # the strips alone let it through (it was near)
    assert max(resave_noise_ratio(m) for m in matches) >= 1.5 * RESAVE_OUTLINE_PER_NOISE  # measured 9.3-11.2x the noise
    verdict = judge_pictures(a, b)
    assert verdict.kind == "similar", verdict.detail


@pytest.mark.parametrize("side", [30, 36])
@pytest.mark.parametrize("sleeves", [0, 1])
def test_every_kind_of_copy_of_a_small_top_or_its_twin_stays_near(side, sleeves):
    rng = np.random.default_rng(side + sleeves)
    original = plain_top(side, sleeves=sleeves)
    for kind in COPIES.names():
        a, b = picture_of(original), picture_of(COPIES.get(kind)(original, rng)[0])
        matches, verdict = pixel_matches(a, b), judge_pictures(a, b)
        assert verdict.kind == "near", (kind, verdict.detail)
        if kind in RESAVES:  # a re-save's outline stays well within its own noise
            assert max(resave_noise_ratio(m) for m in matches) <= 0.85 * RESAVE_OUTLINE_PER_NOISE, kind


def test_only_two_files_of_one_size_compared_whole_count_as_a_re_save():
    big = plain_top(36, collar=1)
    shrunk = COPIES.get("resized")(plain_top(36), np.random.default_rng(0))[0]  # another size: never a re-save
    assert all(resave_noise_ratio(m) == 0.0 for m in pixel_matches(picture_of(big), picture_of(shrunk)))
