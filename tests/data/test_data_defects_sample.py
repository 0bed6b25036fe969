"""The defects sample set: MVTec layout from real texture crops, with exact masks."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from vislearn.data.mvtec import read_defect_data
from vislearn.data.samples.defects import DEFECTS, SURROUND_PX, crack, random_crop, speck, texture_rgb, write_texture


def test_write_texture_makes_an_mvtec_category_with_a_mask_per_defect(tmp_path):
    count = write_texture("brick", tmp_path / "brick", np.random.default_rng(0), size=32, n_train=4, n_test_good=2, n_per_defect=1)
    data = read_defect_data(tmp_path / "brick")
    assert len(data.train_good) == 4 and count == 4 + 2 + len(DEFECTS.names()) + 1
    assert data.defect_types() == sorted(["good", "stretch", *DEFECTS.names()])
    for sample in data.test:
        assert (sample.mask_path is None) == (sample.defect_type == "good")
    whole = np.asarray(Image.open(tmp_path / "brick/ground_truth/blur/000_mask.png"))
    assert whole.shape == (32, 32) and whole.min() == 255  # a global defect's mask is the whole image


def test_crack_darkens_exactly_its_mask():
    rng = np.random.default_rng(1)
    image = random_crop(texture_rgb("gravel"), 64, rng)
    cracked, mask = crack(image, rng)
    assert 10 < mask.sum() < 64 * 64 / 4
    assert np.allclose(cracked[~mask], image[~mask])
    assert np.allclose(cracked[mask], image[mask] * 0.25)


@pytest.mark.parametrize("size", [64, 128, 250, 512])
def test_a_speck_is_tiny_relative_to_the_image_and_its_mask_is_exact(size):
    rng = np.random.default_rng(size)
    for _ in range(20):
        image = random_crop(texture_rgb("brick"), size, rng) if size <= 128 else np.full((size, size, 3), 0.5)
        specked, mask = speck(image, rng)
        rows, cols = np.nonzero(mask)
        span = max(np.ptp(rows), np.ptp(cols)) + 1
        assert 1 <= span <= max(1, 0.03 * size)  # at most 3 % of the side, never empty
        assert np.allclose(specked[~mask], image[~mask]) and not np.allclose(specked[mask], image[mask])


@pytest.mark.parametrize("texture", ["brick", "grass", "gravel"])
def test_a_speck_is_darker_or_lighter_than_every_pixel_around_it(texture):
    # a dark dot in grass's own shadow is no visible flaw: the dot lies outside its surround's brightness range
    rng, rgb = np.random.default_rng(3), texture_rgb(texture)
    dark = 0
    for _ in range(30):
        image = random_crop(rgb, 128, rng)
        specked, mask = speck(image, rng)
        ring = ndimage.binary_dilation(mask, iterations=SURROUND_PX) & ~mask
        dot, around = specked.mean(axis=2)[mask], image.mean(axis=2)[ring]
        assert dot.max() <= around.min() - 0.25 or dot.min() >= around.max() + 0.25
        dark += bool(dot.max() < around.min())
    assert 0 < dark < 30  # both kinds occur


def test_the_sample_has_a_speck_type_with_masks(tmp_path):
    write_texture("gravel", tmp_path / "gravel", np.random.default_rng(0), size=32, n_train=2, n_test_good=1, n_per_defect=1)
    mask = np.asarray(Image.open(tmp_path / "gravel/ground_truth/speck/000_mask.png")) > 0
    assert "speck" in DEFECTS.names() and 1 <= mask.sum() <= 9
