"""Adding good images to a fitted memory without a refit: the bank, the coreset rule, the two Gaussians."""
import torch

from vislearn.anomaly.coreset import coreset_beyond
from vislearn.anomaly.gaussian import fit_gaussian, mahalanobis, merge_gaussian
from vislearn.anomaly.memory_bank import MemoryBank
from vislearn.anomaly.pixel_gaussian import MIN_LOOK_IMAGES, PixelGaussian


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


def test_good_images_in_another_light_get_a_look_of_their_own_and_specks_stay_far():
    """Relit good images (brighter, warmer) added to a pixel Gaussian fitted on one light: joined into it (a handful)
    they stay far; as a look of their own (>= MIN_LOOK_IMAGES) they are near, the first light's images score exactly as
    before, and a dark speck on a relit image stays far from every look."""
    generator = torch.Generator().manual_seed(3)

    def texture(n, light):
        base = torch.nn.functional.avg_pool2d(torch.rand(n, 3, 36, 36, generator=generator), 5, 1)  # smooth, 32 px
        return (base * light[0] + light[1]).clamp(0, 1)

    first, relit = texture(12, (0.6, 0.1)), texture(12, (0.5, torch.tensor([0.45, 0.4, 0.3]).view(1, 3, 1, 1)))
    fitted = PixelGaussian()
    fitted.add(first)
    fitted.finish()
    probe_first, probe_relit = texture(2, (0.6, 0.1)), texture(2, (0.5, torch.tensor([0.45, 0.4, 0.3]).view(1, 3, 1, 1)))
    before_first, before_relit = fitted.distance_map(probe_first), fitted.distance_map(probe_relit)

    joined, looks = PixelGaussian(), PixelGaussian()
    for model, added in ((joined, relit[:MIN_LOOK_IMAGES - 1]), (looks, relit)):
        model.load(fitted.tensors())
        model.reopen(fitted_images=12)
        model.add(added)
        said = model.finish()
    assert joined.looks == 1 and looks.looks == 2 and "look of their own" in said
    assert looks.distance_map(probe_relit).median() < before_relit.median() / 4  # near now (measured 75 against 440)
    assert torch.equal(looks.distance_map(probe_first), torch.minimum(before_first, looks.distance_map(probe_first)))
    assert torch.allclose(looks.distance_map(probe_first), before_first)  # the first light's images: as before
    speck = probe_relit.clone()
    speck[:, :, 15:17, 15:17] = 0.0
    assert looks.distance_map(speck)[:, 7:9, 7:9].amin() > 20 * looks.distance_map(probe_relit).median()
    again = PixelGaussian()
    again.load(looks.tensors())
    assert again.looks == 2 and torch.equal(again.distance_map(speck), looks.distance_map(speck))
