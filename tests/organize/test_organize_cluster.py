import numpy as np

from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from vislearn.organize.cluster import OTHER, _cut, group_images, ward_by_silhouette


def _blobs(sizes, dim=16, spread=0.08, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)]
    x = np.vstack([c + rng.normal(0, spread, (n, dim)) for c, n in zip(centres, sizes)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_number_of_groups_is_found_and_groups_match_truth():
    x, truth = _blobs([40, 25, 15, 10])
    g = group_images(x)
    assert g.n_groups == 4 and "silhouette" in g.chosen_by and max(g.silhouettes, key=g.silhouettes.get) == 4
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


def test_cutting_the_full_tree_equals_refitting_with_k():
    x, _ = _blobs([12, 9, 7, 5], spread=0.3)
    tree = AgglomerativeClustering(linkage="ward", compute_full_tree=True, n_clusters=2).fit(x)
    for k in (2, 3, 5):
        refit = AgglomerativeClustering(k, linkage="ward").fit_predict(x)
        assert adjusted_rand_score(refit, _cut(tree, k)) == 1.0


def test_large_collections_cluster_micro_clusters_and_keep_quality():
    x, truth = _blobs([300, 200, 100], dim=8, spread=0.1)
    labels, scores = ward_by_silhouette(x, 2, 6, max_points=50)
    assert max(scores, key=scores.get) == 3 and adjusted_rand_score(truth, labels) == 1.0


def test_too_few_images_make_one_group():
    g = group_images(np.ones((2, 4)))
    assert g.n_groups == 1 and list(g.group_n) == [0, 0]
