"""The order of review's list: the noise pairs' probability of a mistake on hand-made numbers, auto's choice between
it and the normalised margin, and a set where mistakes come in pairs while the model's own confusions are spread."""
import numpy as np
import pytest

from vislearn.metrics.label_issues import find_label_issues, ranked_beyond
from vislearn.metrics.label_ranking import PAIRS_MIN_COUNT, choose_ranking, noise_pairs, noise_shape, pair_posterior

# rows: given label; 10 images truly 1 are labelled 0, nothing else is mislabelled
JOINT = np.array([[90.0, 10.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 100.0]])


def test_noise_pairs_are_each_true_class_column_normalised():
    pairs = noise_pairs(JOINT)
    assert pairs[:, 1] == pytest.approx([10 / 110, 100 / 110, 0]) and pairs[:, 0] == pytest.approx([1, 0, 0])
    assert noise_pairs(np.zeros((2, 2))) == pytest.approx(np.eye(2))  # nothing counted: every label its own


def test_the_probability_of_a_mistake_follows_the_direction_of_the_pairs():
    """p = (0.5, 0.5, 0) labelled 0: the pair 1 -> 0 exists, so 1 - 0.5 / (0.5 + 0.5 * 10/110) = 1/12; the same
    probabilities labelled 1: no 0 is ever labelled 1, so 0; (0.5, 0, 0.5) labelled 0: no 2 is labelled 0, so 0."""
    labels = np.array([0, 1, 0])
    probs = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5]])
    assert pair_posterior(labels, probs, JOINT) == pytest.approx([1 / 12, 0, 0], abs=1e-9)


def test_auto_takes_pairs_only_for_concentrated_noise_counted_often_enough():
    paired = np.diag([1000.0] * 4) + np.roll(np.eye(4), 1, axis=1) * 400  # each class mistaken for one other
    spread = np.diag([1000.0] * 4) + (1 - np.eye(4)) * 400 / 3  # each class mistaken for all others alike
    assert noise_shape(paired) == pytest.approx((1.0, 1600)) and noise_shape(spread) == pytest.approx((1 / 3, 1600))
    assert choose_ranking(paired)[0] == "pairs" and choose_ranking(spread)[0] == "margin"
    small = np.diag([100.0] * 4) + np.roll(np.eye(4), 1, axis=1) * (PAIRS_MIN_COUNT / 4 - 1)
    name, why = choose_ranking(small)
    assert name == "margin" and f"fewer than {PAIRS_MIN_COUNT}" in why
    assert choose_ranking(spread, "pairs")[0] == "pairs" and choose_ranking(paired, "margin")[0] == "margin"
    assert noise_shape(np.eye(3)) == (0.0, 0.0) and choose_ranking(np.eye(3))[0] == "margin"


def _paired_flips_among_spread_confusions(seed: int):
    """6 classes x 2,000 images. 10 % of each class labelled as the next class (the pairs); 5 % more, rightly
    labelled, that the model takes for a random other class (its own confusions, spread). Flips and confusions get
    probabilities of one shape (0.85 on the class the model sees, 0.1 on the given one): the margin cannot tell them
    apart, the pairs can."""
    rng = np.random.default_rng(seed)
    k, per = 6, 2000
    truth = np.repeat(np.arange(k), per)
    given, seen = truth.copy(), truth.copy()
    draw = rng.random(len(truth))
    flips, confused = draw < 0.10, (draw >= 0.10) & (draw < 0.15)
    given[flips] = (truth[flips] + 1) % k
    seen[confused] = (truth[confused] + rng.integers(1, k, confused.sum())) % k
    probs = rng.dirichlet(np.full(k, 0.5), len(truth)) * 0.05
    probs[np.arange(len(truth)), seen] += 0.85
    other = np.where(flips | confused, given, -1)
    probs[other >= 0, other[other >= 0]] += 0.1
    probs[other < 0, seen[other < 0]] += 0.1
    probs += rng.uniform(0, 0.02, probs.shape)
    return given, probs / probs.sum(1, keepdims=True), given != truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_mistakes_come_first_where_the_margin_mixes_them_with_the_models_confusions(seed):
    given, probs, flipped = _paired_flips_among_spread_confusions(seed)
    n = int(flipped.sum())

    def precision_at_flipped(found):
        tail = ranked_beyond(given, probs, found.indices_m, n - len(found.indices_m), found.ranked_by, found.confident_joint_kk)
        return flipped[np.concatenate([found.indices_m, tail.indices_m])[:n]].mean()

    auto, margin = find_label_issues(given, probs), find_label_issues(given, probs, "margin")
    assert auto.ranked_by == "pairs" and "mistakes come in pairs" in auto.why
    assert auto.indices_m.tolist() != margin.indices_m.tolist()
    assert sorted(auto.indices_m.tolist()) == sorted(margin.indices_m.tolist())  # the same flagged set, reordered
    assert np.all(np.diff(auto.mistake_m) <= 1e-12)
    # the pairs: 10 % flips against the 1 % of confusions that fall on a pair (0.91); the margin: 10 against 5 (0.67)
    assert precision_at_flipped(auto) >= 0.85 and precision_at_flipped(margin) <= precision_at_flipped(auto) - 0.15


def test_an_unknown_ranking_is_refused():
    with pytest.raises(ValueError, match="unknown ranking 'best'"):
        find_label_issues(np.array([0, 1]), np.eye(2), "best")
