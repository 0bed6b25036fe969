"""Adding good images to a fitted memory without a refit: the bank, the coreset rule, the two Gaussians."""
import torch

from vislearn.anomaly.coreset import coreset_beyond
from vislearn.anomaly.gaussian import fit_gaussian, mahalanobis, merge_gaussian
from vislearn.anomaly.memory_bank import MemoryBank
from vislearn.anomaly.pixel_gaussian import PixelGaussian


def test_added_features_grow_the_bank_and_are_found_at_distance_zero():
    bank = MemoryBank(torch.randn(50, 8), torch.zeros(50, dtype=torch.long))
    new = torch.randn(5, 8) + 10
    assert bank.nearest_distances(new).min() > 5
    bank.add(new, torch.full((5,), 7))
    assert len(bank) == 55 and bank.features_md.shape == (55, 8) and bank.owners_m[-5:].tolist() == [7] * 5
    assert torch.allclose(bank.nearest_distances(new), torch.zeros(5), atol=1e-3)
    # leave-one-out still skips an image's own vectors: an added image's vectors are not its own nearest
    assert bank.nearest_distances_excluding(new[:1], owner=7).item() > 1


def test_coreset_beyond_the_bank_picks_what_the_bank_does_not_cover_first():
    generator = torch.Generator().manual_seed(0)
    bank = torch.randn(60, 16, generator=generator)
    covered = bank[:20] + 0.01 * torch.randn(20, 16, generator=generator)  # new patches the bank already holds
    far = torch.randn(4, 16, generator=generator) * 0.5 + torch.tensor([8.0] + [0.0] * 15)
    picks = coreset_beyond(bank, torch.cat([covered, far]), count=4)
    assert sorted(picks.tolist()) == [20, 21, 22, 23]
    assert len(coreset_beyond(bank, covered, count=100)) == 20 and len(coreset_beyond(bank, covered, count=0)) == 0


def test_merged_gaussian_weighs_each_image_the_same_and_takes_in_the_new_look():
    generator = torch.Generator().manual_seed(1)
    old, new = torch.randn(80, 6, generator=generator), torch.randn(20, 6, generator=generator) + 3.0
    mean, precision = fit_gaussian(old)
    merged_mean, merged_precision = merge_gaussian(mean, precision, 80, new)
    assert torch.allclose(merged_mean, (80 * mean + new.sum(0)) / 100, atol=1e-4)  # LedoitWolf's location is the mean
    held_out_new = torch.randn(10, 6, generator=generator) + 3.0
    before, after = mahalanobis(held_out_new, mean, precision), mahalanobis(held_out_new, merged_mean, merged_precision)
    assert (after < before / 2).all()  # measured ratio ~0.3: the new look is near now
    assert mahalanobis(old[:10], merged_mean, merged_precision).mean() < 2 * mahalanobis(old[:10], mean, precision).mean()
    assert torch.allclose(merge_gaussian(mean, precision, 10**9, new)[1], precision, rtol=1e-3, atol=1e-4)  # few vs many: unchanged


def test_reopened_pixel_gaussian_equals_one_fitted_on_all_the_images():
    generator = torch.Generator().manual_seed(2)
    first, second = torch.rand(6, 3, 16, 16, generator=generator), torch.rand(3, 3, 16, 16, generator=generator) * 0.5 + 0.5
    together, joined = PixelGaussian(), PixelGaussian()
    together.add(torch.cat([first, second]))
    together.finish()
    joined.add(first)
    joined.finish()
    joined.reopen(fitted_images=6)
    joined.add(second)
    joined.finish()
    probe = torch.rand(2, 3, 16, 16, generator=generator)
    assert torch.allclose(joined.distance_map(probe), together.distance_map(probe), rtol=2e-2)
    assert torch.allclose(joined.bias, together.bias, rtol=2e-2, atol=1e-2)
