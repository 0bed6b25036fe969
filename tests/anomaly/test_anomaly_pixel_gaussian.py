"""The pixel scale: a Gaussian of raw pixel patches finds a 1-pixel dot whose value is common in the texture."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from vislearn.anomaly.pixel_gaussian import PixelGaussian


def _smooth_texture(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) blurred noise in about [-1, 1]: neighbouring pixels vary together."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.normal(size=(count, 3, size, size)), sigma=(0, 0, 1.5, 1.5))
    return torch.from_numpy(noise / noise.std()).float()


def test_the_map_is_the_squared_mahalanobis_distance_of_each_pixels_patch():
    images = _smooth_texture(6)
    model = PixelGaussian(patch=3)
    model.add(images[:3]), model.add(images[3:])  # batch by batch: the same sums as all at once
    model.finish()
    padded = F.pad(images, (1, 1, 1, 1), mode="reflect")
    fitted = F.unfold(padded, 3, stride=2).permute(0, 2, 1).reshape(-1, 27).double()  # fitted on every other pixel
    patches = F.unfold(padded, 3).permute(0, 2, 1).reshape(-1, 27).double()  # scored on all
    mean, covariance = fitted.mean(dim=0), torch.cov(fitted.T, correction=0)
    covariance += torch.eye(27, dtype=torch.float64) * 1e-4 * covariance.diagonal().mean()
    centred = patches - mean
    expected = ((centred @ torch.linalg.inv(covariance)) * centred).sum(dim=1)
    assert model.distance_map(images, stride=1).shape == (6, 32, 32)
    assert model.distance_map(images, stride=1).flatten().double() == pytest.approx(expected.numpy(), rel=1e-3)
    # by default scored on every other pixel: the same values there
    assert model.distance_map(images).shape == (6, 16, 16)
    assert torch.equal(model.distance_map(images), model.distance_map(images, stride=1)[:, ::2, ::2])


@pytest.mark.parametrize("at", [16, 17])  # on the stride-2 scoring grid, and between its points
def test_a_one_pixel_dot_of_a_common_value_stands_out_and_good_images_stay_below_it(at):
    model = PixelGaussian()
    model.add(_smooth_texture(20, seed=1))
    model.finish()
    good = _smooth_texture(10, seed=2)
    dotted = good.clone()
    dotted[:, :, at, at] = good.min()  # dark as the texture's own darkest pixel: in range, but alone
    good_peaks = model.distance_map(good).flatten(1).amax(dim=1)
    dot_maps = model.distance_map(dotted)  # (10, 16, 16): every other pixel
    peaks = dot_maps.flatten(1).argmax(dim=1)
    assert ((2 * (peaks // 16) - at).abs() <= 1).all() and ((2 * (peaks % 16) - at).abs() <= 1).all()  # every peak: at the dot
    assert dot_maps[:, 7:10, 7:10].amax(dim=(1, 2)).min() > 4 * good_peaks.max()  # and no good image comes near it


def test_saved_tensors_reload_to_the_same_map():
    model = PixelGaussian()
    model.add(_smooth_texture(4))
    model.finish()
    again = PixelGaussian(patch=3)  # the saved weights set the patch side
    again.load(model.tensors())
    images = _smooth_texture(2, seed=5)
    assert again.patch == 5 and torch.equal(again.distance_map(images), model.distance_map(images))


def test_a_defect_run_saved_without_the_pixel_scale_asks_to_be_retrained():
    from vislearn.anomaly.patchcore import PatchCore
    from vislearn.errors import CheckpointError

    model = PatchCore.__new__(PatchCore)  # no backbone needed to read saved banks
    two_banks = {f"bank.{name}.{part}": torch.zeros(4, 3) for name in ("coarse", "fine") for part in ("features", "owners")}
    with pytest.raises(CheckpointError, match="pixel scale.*train it again"):
        model.load(two_banks)
