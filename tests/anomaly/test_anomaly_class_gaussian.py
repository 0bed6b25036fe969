"""Unlike-training scores: far from every class scores high, near any class scores low."""
import torch

from vislearn.anomaly.class_gaussian import fit_class_gaussians, normalise, unlike_training_score


def test_points_far_from_every_class_score_higher_than_points_of_any_class():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[9.0, 1, 1, 1], [1, 9, 1, 1], [1, 1, 9, 1]])
    labels = torch.arange(3).repeat_interleave(200)
    features = centres[labels] + 0.5 * torch.randn(600, 4, generator=generator)
    means, precision = fit_class_gaussians(features, labels, 3)
    torch.testing.assert_close(means, normalise(centres), atol=0.05, rtol=0)
    inside = unlike_training_score(centres + 0.3, means, precision)
    outside = unlike_training_score(torch.tensor([[1.0, 1, 1, 9], [5, 5, 5, 5], [0.1, 0.1, 0.1, 0.1], [-3, 2, 0, 0]]), means, precision)
    assert inside.max() < 3 < 3 * inside.max() < outside.min()


def test_normalised_features_are_unit_length_and_keep_signs():
    out = normalise(torch.tensor([[4.0, -9.0, 0.0], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(out[0], torch.tensor([2.0, -3.0, 0.0]) / 13**0.5)
    assert torch.equal(out[1], torch.zeros(3))  # an all-zero row stays zero (no division by zero)


def test_a_class_without_training_images_gets_the_overall_mean():
    means, _ = fit_class_gaussians(torch.ones(4, 2), torch.zeros(4, dtype=torch.long), 2)
    torch.testing.assert_close(means[1], normalise(torch.ones(1, 2))[0])
