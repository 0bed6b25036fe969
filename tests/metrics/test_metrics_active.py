"""What to label next: margin uncertainty and the weighted k-center greedy walk."""
import numpy as np

from vislearn.metrics.active import margin_uncertainty, weighted_k_center


def test_margin_uncertainty_is_zero_when_sure_and_one_on_a_tie():
    probs = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.6, 0.3, 0.1]])
    assert np.allclose(margin_uncertainty(probs), [0.0, 1.0, 0.7])
    assert np.allclose(margin_uncertainty(np.ones((2, 1))), 0.0)


def test_near_copies_of_the_hardest_image_are_asked_about_once():
    rng = np.random.default_rng(0)
    hard = np.zeros((10, 4)) + rng.normal(0, 1e-3, (10, 4))  # ten near-copies, the most uncertain images
    spread = rng.normal(0, 1, (20, 4)) + 5
    features = np.vstack([hard, spread])
    weights = np.r_[np.full(10, 0.9), np.full(20, 0.5)]
    chosen = weighted_k_center(features, weights, 5)
    assert len(chosen) == len(set(chosen)) == 5
    assert chosen[0] < 10 and sum(i < 10 for i in chosen) == 1  # one of the copies, then the rest of the collection
    plain_top = np.argsort(-weights, kind="stable")[:5]  # uncertainty alone asks five times about the same picture
    assert all(i < 10 for i in plain_top)


def test_weighted_k_center_prefers_uncertain_images_at_equal_distance_and_handles_small_pools():
    features = np.array([[0.0], [10.0], [-10.0]])
    assert weighted_k_center(features, np.array([0.1, 0.2, 0.9]), 2) == [2, 1]
    assert sorted(weighted_k_center(features, np.zeros(3), 10)) == [0, 1, 2]
    assert weighted_k_center(np.zeros((0, 2)), np.zeros(0), 3) == []
