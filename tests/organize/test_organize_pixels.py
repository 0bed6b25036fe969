import numpy as np
from PIL import Image, ImageEnhance
from skimage import data

from vislearn.organize.pixels import aligned_ncc, pixel_mismatch, read_thumbnail, thumbnail


def test_crop_resize_and_brightness_match_but_a_shifted_view_does_not():
    cat = Image.fromarray(data.chelsea())
    w, h = cat.size
    cropped = cat.crop((int(0.05 * w), int(0.02 * h), int(0.05 * w) + int(0.94 * w), int(0.02 * h) + int(0.94 * h)))
    brighter = ImageEnhance.Brightness(cat.resize((w // 3, h // 3))).enhance(1.2)
    neighbour = cat.crop((int(0.25 * w), 0, w, h))  # a quarter of the view moved: another picture
    t = thumbnail(cat)
    assert pixel_mismatch(t, thumbnail(cropped)) < 1 and pixel_mismatch(thumbnail(cropped), t) < 1
    assert pixel_mismatch(t, thumbnail(brighter)) < 0.2
    assert pixel_mismatch(t, thumbnail(neighbour)) > 1.5
    assert aligned_ncc(t, thumbnail(cropped)) > aligned_ncc(t, thumbnail(neighbour))


def test_flat_images_match_only_the_same_colour(tmp_path):
    grey, black = Image.new("RGB", (50, 40), (128, 128, 128)), Image.new("RGB", (80, 80), (0, 0, 0))
    assert pixel_mismatch(thumbnail(grey), thumbnail(grey.resize((20, 16)))) == 0
    assert pixel_mismatch(thumbnail(grey), thumbnail(black)) == np.inf
    assert pixel_mismatch(thumbnail(grey), thumbnail(Image.fromarray(data.coffee()))) == np.inf
    (tmp_path / "bad.jpg").write_bytes(b"no image")
    assert read_thumbnail(tmp_path / "bad.jpg") is None and read_thumbnail(tmp_path / "missing.jpg") is None
