import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vislearn.organize.pixels import NO_MATCH, compare_pictures, picture, read_picture
from vislearn.organize.planted import COPIES, burst, look_alike_trousers
from vislearn.organize.verdict import REMOVABLE, judge


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
