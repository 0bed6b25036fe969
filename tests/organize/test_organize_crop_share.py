"""Two crops of one big photo, one inside the other, are not copies: the side test (verdict.NEAR_SIDE) keeps them similar,
while a copy cropped as much as the planted ones (10 % of each side) stays near."""
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vislearn.organize.alignment import side_share
from vislearn.organize.pixels import compare_pictures, read_picture
from vislearn.organize.planted import look_alike_trousers
from vislearn.organize.verdict import NEAR_SIDE, REMOVABLE, judge


def png(image: Image.Image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return read_picture(io.BytesIO(buffer.getvalue()))


def inner_crop(box, keep_w: float, keep_h: float, left_share: float = 0.5):
    """A box inside ``box`` keeping ``keep_w`` of its width and ``keep_h`` of its height, the cut split left/right."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    cut_w, cut_h = round(w * (1 - keep_w)), round(h * (1 - keep_h))
    x, y = left + round(cut_w * left_share), top + cut_h // 2
    return x, y, x + w - cut_w, y + h - cut_h


# one side cut by 16-30 %, the other kept (almost) whole: the area overlap (0.70-0.84) alone passed the old near gate
@pytest.mark.parametrize("name, keep_w, keep_h, left_share", [("astronaut", 0.84, 1.0, 0.0), ("coffee", 0.8, 1.0, 1.0),
                                                             ("chelsea", 1.0, 0.78, 0.5), ("rocket", 0.7, 0.95, 0.3)])
def test_two_crops_of_one_photo_sharing_60_to_80_percent_of_the_frame_are_never_removed(name, keep_w, keep_h, left_share):
    scene = Image.fromarray(getattr(data, name)())
    outer = (100, 80, 340, 260)
    big = png(scene.crop(outer).resize((144, 108), Image.Resampling.BILINEAR))
    inner = inner_crop(outer, keep_w, keep_h, left_share)
    small = scene.crop(inner).resize((round(0.5 * (inner[2] - inner[0])), round(0.5 * (inner[3] - inner[1]))))
    match = compare_pictures(big, png(small))
    verdict = judge(match)
    assert verdict.kind == "similar", verdict.detail  # shown in the gallery beside each other, both kept
    assert abs(match.side - min(keep_w, keep_h)) < 0.03, verdict.detail  # the side test measures the crop boxes


@pytest.mark.parametrize("which", ["photo", "product"])
def test_a_copy_cut_by_a_tenth_of_each_side_stays_near_with_margin(which):
    image = (Image.fromarray(data.chelsea()).resize((150, 100)) if which == "photo"
             else look_alike_trousers(1, seed=5)[0].resize((40, 40)))  # 40 px: the smallest generated product
    for left_share in (0.0, 0.5, 1.0):
        copy = image.crop(inner_crop((0, 0, *image.size), 0.9, 0.9, left_share))
        match = compare_pictures(png(image), png(copy))
        assert judge(match).kind == "near", judge(match).detail
        assert match.side >= NEAR_SIDE + 0.012, judge(match).detail


def test_side_share_of_an_alignment():
    assert side_share(np.array([1.0, 0.0, 1.0, 0.0]), (64, 64)) == pytest.approx(1.0)
    # the small picture maps onto 0.8 of the other's width, all of its height
    assert side_share(np.array([0.8, 6.4, 1.0, 0.0]), (64, 64)) == pytest.approx(0.8)
    # shifted off the other's edge by a tenth: a tenth of its own width is not shown
    assert side_share(np.array([1.0, 6.4, 1.0, 0.0]), (64, 64)) == pytest.approx(0.9)


def test_find_duplicates_removes_the_grey_copy_but_no_crop_cut_by_a_sixth(tmp_path):
    """End to end (every pair a candidate): of a photo crop, its grey copy, and its right 84 % and its left 80 % at a
    smaller size, only the grey copy is suggested for removal; the crops are kept, shown as similar."""
    import hashlib

    from vislearn.organize.duplicates import find_duplicates
    from vislearn.organize.records import ImageRecord, perceptual_hash

    scene = Image.fromarray(data.astronaut())
    outer = (100, 80, 340, 260)
    base = scene.crop(outer).resize((144, 108), Image.Resampling.BILINEAR)
    files = {"base.png": base, "grey.png": base.convert("L")}
    for name, keep_w, left_share in (("crop84.png", 0.84, 1.0), ("crop80.png", 0.8, 0.0)):  # right and left part: 0.64 in common
        inner = inner_crop(outer, keep_w, 1.0, left_share)
        files[name] = scene.crop(inner).resize((round(0.5 * (inner[2] - inner[0])), round(0.5 * (inner[3] - inner[1]))))
    records = []
    for name, image in files.items():
        image.save(tmp_path / name)
        content = (tmp_path / name).read_bytes()
        records.append(ImageRecord(str(tmp_path / name), image.width, image.height, len(content), 0,
                                   hashlib.sha256(content).hexdigest(), perceptual_hash(image)))
    groups = find_duplicates(records, np.ones((len(records), 4), np.float32))
    removed = {p for g in groups for p in g.remove}
    assert removed == {str(tmp_path / "grey.png")}
    shown = {p for g in groups if g.kind == "similar" for p in [g.keep, *g.similar]}
    assert {str(tmp_path / "crop84.png"), str(tmp_path / "crop80.png")} <= shown
