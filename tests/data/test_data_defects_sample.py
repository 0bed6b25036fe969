"""The defects sample set: MVTec layout from real texture crops, with exact masks."""
import numpy as np
from PIL import Image

from vislearn.data.defect_samples import DEFECTS, crack, random_crop, texture_rgb, write_texture
from vislearn.data.mvtec import read_defect_data


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
