import numpy as np
import pytest
import torch
from PIL import Image

from vislearn.explain import display_image, heatmap_overlay, save_png
from vislearn.models import Preprocessing


def photo(height=30, width=40) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_overlay_with_zero_alpha_is_the_photo():
    image = photo()
    np.testing.assert_array_equal(heatmap_overlay(image, np.ones((7, 7)), alpha=0.0), image)


def test_overlay_with_full_alpha_is_the_jet_colour_of_the_heat():
    out = heatmap_overlay(photo(), torch.tensor([[0.0, 1.0], [0.0, 1.0]]), alpha=1.0)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [0, 0, 128])  # jet(0): dark blue
    np.testing.assert_array_equal(out[0, -1], [128, 0, 0])  # jet(1): dark red


def test_overlay_blends_photo_and_heat_by_alpha():
    image = np.full((4, 4, 3), 200, np.uint8)
    out = heatmap_overlay(image, np.zeros((4, 4)), alpha=0.5)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 164])  # 0.5*200 + 0.5*(0, 0, 127.5)


def test_overlay_refuses_a_float_image():
    with pytest.raises(ValueError, match="uint8"):
        heatmap_overlay(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4)))


def test_save_png_round_trips_and_creates_folders(tmp_path):
    image = photo()
    path = save_png(image, tmp_path / "a" / "b" / "cam.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image)


def test_display_image_undoes_normalisation():
    pre = Preprocessing(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), image_size=40)
    image = photo()
    tensor = (torch.from_numpy(image).permute(2, 0, 1) / 255 - torch.tensor(pre.mean).view(3, 1, 1)) / torch.tensor(pre.std).view(3, 1, 1)
    np.testing.assert_array_equal(display_image(tensor, pre), image)


def test_overlay_refuses_a_batch_of_heatmaps():
    with pytest.raises(ValueError, match="heat_bhw"):
        heatmap_overlay(photo(), np.zeros((2, 4, 4)))
