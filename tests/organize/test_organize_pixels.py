import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vislearn.organize.pixels import COARSE_MIN_CORRELATION, NO_MATCH, compare_pictures, picture, read_picture, tone_curve
from vislearn.organize.planted import COPIES, burst, look_alike_trousers
from vislearn.organize.verdict import NEAR_RESIDUAL, REMOVABLE, judge


def from_bytes(content: bytes):
    return read_picture(io.BytesIO(content))


def png(image: Image.Image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return from_bytes(buffer.getvalue())


PHOTO = Image.fromarray(data.chelsea()).resize((150, 100))


@pytest.mark.parametrize("kind", COPIES.names())
def test_each_copy_transformation_of_a_photo_is_near(kind):
    copy, _ = COPIES.get(kind)(PHOTO, np.random.default_rng(3))
    verdict = judge(compare_pictures(png(PHOTO), from_bytes(copy)))
    assert verdict.kind == "near", (kind, verdict.detail)


@pytest.mark.parametrize("kind", COPIES.names())
def test_each_copy_transformation_of_a_look_alike_product_is_near(kind):
    item = look_alike_trousers(1, seed=5)[0]
    copy, _ = COPIES.get(kind)(item, np.random.default_rng(4))
    verdict = judge(compare_pictures(png(item), from_bytes(copy)))
    assert verdict.kind == "near", (kind, verdict.detail)


def test_distinct_look_alike_trousers_are_never_near():
    items = [png(i) for i in look_alike_trousers(6, seed=1)]
    verdicts = [judge(compare_pictures(items[i], items[j])) for i in range(len(items)) for j in range(i + 1, len(items))]
    assert not [v.detail for v in verdicts if v.kind in REMOVABLE]


def test_distinct_look_alike_digits_are_never_near():
    """The closest pairs of handwritten digits in raw pixels: the same digit in two hands is not a duplicate."""
    from sklearn.datasets import load_digits

    images = (load_digits().images[:120] * 255 / 16).astype(np.uint8)
    flat = images.reshape(len(images), -1).astype(np.float32)
    flat = (flat - flat.mean(1, keepdims=True)) / np.linalg.norm(flat - flat.mean(1, keepdims=True), axis=1, keepdims=True)
    similarity = flat @ flat.T - 2 * np.eye(len(flat))
    closest = np.argsort(-similarity.max(1))[:6]
    pictures = {k: png(Image.fromarray(images[k]).resize((64, 64), Image.Resampling.BILINEAR)) for k in range(len(images))}
    for i in closest:
        verdict = judge(compare_pictures(pictures[i], pictures[int(similarity[i].argmax())]))
        assert verdict.kind not in REMOVABLE, verdict.detail


def test_a_burst_shot_is_similar_but_never_near():
    scene = Image.fromarray(data.astronaut())
    box = (150, 60, 350, 260)
    verdict = judge(compare_pictures(png(scene.crop(box)), png(burst(scene, box, np.random.default_rng(0)))))
    assert verdict.kind not in REMOVABLE and "inside" in verdict.detail


def test_flat_tiny_and_unreadable_pictures_never_match(tmp_path):
    grey = picture(Image.new("RGB", (50, 40), (128, 128, 128)))
    assert compare_pictures(grey, picture(Image.new("RGB", (25, 20), (128, 128, 128)))) == NO_MATCH
    assert compare_pictures(picture(PHOTO.resize((6, 4))), picture(PHOTO)) == NO_MATCH
    (tmp_path / "bad.jpg").write_bytes(b"no image")
    assert read_picture(tmp_path / "bad.jpg") is None and read_picture(tmp_path / "missing.jpg") is None


TEXT = Image.fromarray(data.page()).crop((0, 0, 180, 180)).resize((128, 128), Image.Resampling.LANCZOS)


def test_a_brightened_copy_whose_highlights_clip_is_near():
    """The tone curve is applied at the read size, before the shrink to the grid: clipping and shrinking do not
    commute (a grid-level curve left a residual of 0.084 here)."""
    from PIL import ImageEnhance

    copy = ImageEnhance.Brightness(TEXT).enhance(1.3)
    verdict = judge(compare_pictures(png(TEXT), png(copy)))
    assert verdict.kind == "near", verdict.detail
    assert verdict.score < 0.6 * NEAR_RESIDUAL


def test_a_bilinear_shrink_of_text_is_near():
    """BILINEAR softens more than the LANCZOS the pictures are read with; the fitted 3x3 filter absorbs it."""
    copy = TEXT.resize((51, 51), Image.Resampling.BILINEAR)
    verdict = judge(compare_pictures(png(TEXT), png(copy)))
    assert verdict.kind == "near", verdict.detail


def test_tone_curve_is_monotone_continues_the_slope_and_clips():
    source = np.repeat(np.arange(60, 181, dtype=np.float32), 5)
    curve = tone_curve(source, np.minimum(1.5 * source, 255) + np.random.default_rng(0).normal(0, 1, source.size))
    assert (np.diff(curve) >= 0).all()
    assert abs(curve[100] - 150) < 3 and curve[230] == 255  # clipped above the levels seen
    assert abs(curve[40] - 60) < 6  # below them: the overall slope continues


def test_two_crops_of_one_photo_that_overlap_less_than_half_are_never_near():
    scene = Image.fromarray(data.astronaut())
    for share in (0.2, 0.45):
        shift = round(200 * (1 - share))
        left, right = scene.crop((40, 60, 240, 260)), scene.crop((40 + shift, 60, 240 + shift, 260))
        verdict = judge(compare_pictures(png(left.resize((128, 128))), png(right.resize((128, 128)))))
        assert verdict.kind not in REMOVABLE, verdict.detail


def test_bursts_of_eight_scenes_are_never_near():
    rng = np.random.default_rng(1)
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "gravel", "retina"):
        scene = Image.fromarray(getattr(data, name)())
        box = (100, 100, 260, 260)
        shot = burst(scene, box, rng)
        verdict = judge(compare_pictures(png(scene.crop(box)), png(shot)))
        assert verdict.kind not in REMOVABLE, (name, verdict.detail)


def test_pictures_unlike_at_the_coarse_grid_stop_there_and_copies_pass_it():
    cat, coffee = png(PHOTO), png(Image.fromarray(data.coffee()).resize((150, 100)))
    assert compare_pictures(cat, coffee) == NO_MATCH
    copy, _ = COPIES.get("edited")(PHOTO, np.random.default_rng(0))
    assert compare_pictures(cat, from_bytes(copy)).correlation >= COARSE_MIN_CORRELATION + 0.2



TEXTURES = {name: Image.fromarray(getattr(data, name)()).crop((30, 40, 190, 200)).resize((128, 128), Image.Resampling.LANCZOS)
            for name in ("gravel", "grass", "page")}


@pytest.mark.parametrize("factor", [0.45, 0.75])
@pytest.mark.parametrize("name", sorted(TEXTURES))
def test_a_box_shrink_of_fine_texture_and_text_is_near(name, factor):
    """A BOX shrink aliases gravel, grass and text (residual 0.04-0.07 against the LANCZOS-read original); the
    original shrunk the same way over the same part reproduces it."""
    texture, side = TEXTURES[name], round(128 * factor)
    for copy in (texture.resize((side, side), Image.Resampling.BOX),
                 texture.crop((6, 0, 128, 122)).resize((side, side), Image.Resampling.BOX)):
        verdict = judge(compare_pictures(png(texture), png(copy)))
        assert verdict.kind == "near", verdict.detail


def _shrunk_distinct_pairs(which: str, rng) -> list[tuple[Image.Image, Image.Image]]:
    if which == "trousers":
        trousers = look_alike_trousers(4, seed=3)
        return [(trousers[i], trousers[j]) for i in range(4) for j in range(i + 1, 4)]
    scene = Image.fromarray(getattr(data, which)())
    return [(scene.crop((40, 40, 168, 168)), scene.crop((60, 50, 188, 178))),  # the camera moved 16 %
            (scene.crop((100, 100, 228, 228)), burst(scene, (100, 100, 228, 228), rng))]


@pytest.mark.parametrize("resampler", [Image.Resampling.BOX, Image.Resampling.BILINEAR])
@pytest.mark.parametrize("which", ["trousers", "gravel", "grass", "brick"])
def test_shrunk_look_alikes_and_bursts_are_never_near(which, resampler):
    """Remaking the shrink must not make a different picture the same: shrunk look-alike trousers, shrunk
    neighbouring crops of one texture and shrunk bursts stay distinct."""
    rng = np.random.default_rng(2)
    for a, b in _shrunk_distinct_pairs(which, rng):
        side = round(a.width * rng.uniform(0.45, 0.8))
        verdict = judge(compare_pictures(png(a), png(b.resize((side, side), resampler))))
        assert verdict.kind not in REMOVABLE, verdict.detail
