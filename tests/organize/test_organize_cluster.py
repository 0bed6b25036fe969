import numpy as np
import pytest

from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from vislearn.organize.cluster import OTHER, _cut, group_images, knn_graph, modularity, ward_by_modularity


def _blobs(sizes, dim=16, spread=0.08, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(max(dim, len(sizes)))[: len(sizes)]
    x = np.vstack([c + rng.normal(0, spread, (n, dim)) for c, n in zip(centres, sizes)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_number_of_groups_is_found_and_groups_match_truth():
    x, truth = _blobs([40, 25, 15, 10])
    g = group_images(x)
    assert g.n_groups == 4 and "modularity" in g.chosen_by and max(g.k_scores, key=g.k_scores.get) == 4
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
    x, truth = _blobs([300, 200, 100], dim=24, spread=0.1)
    labels, scores, _ = ward_by_modularity(x, 2, 6, max_points=50)
    assert max(scores, key=scores.get) == 3 and adjusted_rand_score(truth, labels) == 1.0


def test_too_few_images_make_one_group():
    g = group_images(np.ones((2, 4)))
    assert g.n_groups == 1 and list(g.group_n) == [0, 0]


@pytest.mark.parametrize("sizes", [[60, 35, 20, 12, 8], [50, 40, 35, 30, 25, 20, 20, 15, 12, 10, 10, 8]])
def test_count_is_within_a_factor_1_5_of_unequal_blobs(sizes):
    x, truth = _blobs(sizes, dim=24, spread=0.12, seed=len(sizes))
    g = group_images(x)
    assert len(sizes) / 1.5 <= g.n_groups <= len(sizes) * 1.5
    assert adjusted_rand_score(truth, g.group_n) > 0.9


def test_two_far_apart_kinds_with_inner_structure_are_not_merged_into_two():
    # the silhouette's failure on clothes: one wide gap (garments | shoes) hides the kinds inside each side
    rng = np.random.default_rng(3)
    sides = [np.eye(32)[0], np.eye(32)[1]]
    centres = [side * 6 + rng.normal(0, 0.3, 32) for side in sides for _ in range(4)]
    x = np.vstack([c + rng.normal(0, 0.1, (40, 32)) for c in centres])
    g = group_images(x / np.linalg.norm(x, axis=1, keepdims=True))
    assert 6 <= g.n_groups <= 12  # the best silhouette is at K=2 here


def test_one_blob_is_not_split():
    x, _ = _blobs([200], dim=24, spread=0.1)
    g = group_images(x)
    assert g.n_groups == 1 and "one group" in g.chosen_by


def test_modularity_is_high_for_separate_groups_and_zero_for_one():
    x, truth = _blobs([20, 20, 20])
    graph = knn_graph(x, 5)
    assert modularity(graph, truth) > 0.6
    assert modularity(graph, np.zeros(len(x), int)) == pytest.approx(0.0, abs=1e-9)
    assert modularity(graph, np.arange(len(x)) % 3) < 0.05
