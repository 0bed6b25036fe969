import numpy as np

from vislearn.organize.cluster import OTHER, choose_k, group_images


def _blobs(sizes, dim=16, spread=0.08, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)]
    x = np.vstack([c + rng.normal(0, spread, (n, dim)) for c, n in zip(centres, sizes)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_number_of_groups_is_found_and_groups_match_truth():
    x, truth = _blobs([40, 25, 15, 10])
    g = group_images(x)
    assert g.n_groups == 4 and "eigengap" in g.chosen_by
    assert (g.group_n == OTHER).sum() == 0
    # groups are numbered largest first, so they line up with the blobs
    assert (g.group_n == truth).all()


def test_given_number_of_groups_is_used():
    x, _ = _blobs([30, 30, 30])
    assert group_images(x, n_groups=2).n_groups == 2


def test_far_image_goes_to_other_and_typical_images_are_closest_to_centre():
    x, _ = _blobs([30, 30])
    odd = np.zeros((1, x.shape[1]))
    odd[0, 0], odd[0, 1] = 0.75, 0.66  # between the two groups, far from both centres
    g = group_images(np.vstack([x, odd / np.linalg.norm(odd)]))
    assert g.group_n[-1] == OTHER
    for members in g.typical:
        sims = g.similarity_n[members]
        assert list(sims) == sorted(sims, reverse=True)


def test_eigengap_picks_k_after_the_last_small_eigenvalue():
    k, gaps = choose_k(np.array([0.0, 0.0, 0.01, 0.5, 0.6, 0.7]), 2, 4)
    assert k == 3 and gaps[3] == 0.49


def test_too_few_images_make_one_group():
    g = group_images(np.ones((2, 4)))
    assert g.n_groups == 1 and list(g.group_n) == [0, 0]
