"""Unlike-training scores: far from every class scores high, near any class scores low."""
import torch

from vislearn.anomaly.class_gaussian import fit_class_gaussians, unlike_training_score


def test_points_far_from_every_class_score_higher_than_points_of_any_class():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 0, 0]])
    labels = torch.arange(3).repeat_interleave(200)
    features = centres[labels] + torch.randn(600, 4, generator=generator)
    means, precision = fit_class_gaussians(features, labels, 3)
    torch.testing.assert_close(means, centres, atol=0.3, rtol=0)
    inside = unlike_training_score(centres + 0.5, means, precision)
    outside = unlike_training_score(torch.tensor([[0.0, 0, 8, 0], [-6, -6, 0, 0], [3, 3, 3, 3]]), means, precision)
    assert inside.max() < 2 < 5 < outside.min()


def test_a_class_without_training_images_gets_the_overall_mean():
    means, _ = fit_class_gaussians(torch.ones(4, 2), torch.zeros(4, dtype=torch.long), 2)
    torch.testing.assert_close(means[1], torch.ones(2))
