import numpy as np

from vislearn.organize.grouping import choose_layer_mix, group_collection, layer_mix

PARTS = (("block 3 (2x2 grid)", 4), ("block 4 (2x2 grid)", 3), ("block 5", 2), ("pooled", 5))


def _probs(top1: float, n: int = 20) -> np.ndarray:
    return np.tile([top1, 0.05, 0.04, 0.03, 0.02], (n, 1))


def test_images_imagenet_barely_recognises_are_grouped_on_the_middle_blocks_and_the_reason_is_said():
    mix, why = choose_layer_mix(PARTS, _probs(0.08))
    assert mix == "middle blocks 4-5" and "0.08" in why and "recognises little" in why


def test_photos_imagenet_recognises_keep_all_layers():
    assert choose_layer_mix(PARTS, _probs(0.7))[0] == "all layers"
    assert choose_layer_mix((), _probs(0.08))[0] == "all layers"  # an embedder without named layers (openclip, self-supervised)
    assert choose_layer_mix(PARTS, None)[0] == "all layers"  # no classifier


def test_layer_mix_takes_the_named_columns_each_normalised():
    x = np.arange(2 * 14, dtype=float).reshape(2, 14) + 1
    mixed = layer_mix(x, PARTS, ("block 4 (2x2 grid)", "block 5"))
    assert mixed.shape == (2, 5) and np.allclose(np.linalg.norm(mixed, axis=1), 1.0)
    assert np.allclose(mixed[:, :3] * np.sqrt(2), x[:, 4:7] / np.linalg.norm(x[:, 4:7], axis=1, keepdims=True))
    assert layer_mix(x, PARTS, ()) is x


def test_group_collection_logs_count_and_features_together():
    rng = np.random.default_rng(0)
    e = np.eye(14)
    centres = [e[4] + e[7], e[5] + e[8], e[6] + e[7] + e[8]]  # three kinds that differ in the middle blocks (columns 4-8)
    x = np.vstack([c + rng.normal(0, 0.05, (20, 14)) for c in centres])
    grouped = group_collection(x, PARTS, _probs(0.1, 60))
    assert grouped.grouping.n_groups == 3 and grouped.features == "middle blocks 4-5"
    assert "modularity" in grouped.grouping.chosen_by and "features: middle blocks 4-5" in grouped.grouping.chosen_by
    assert group_collection(x, PARTS, _probs(0.1, 60), n_groups=2).grouping.n_groups == 2


def test_graph_neighbours_stay_below_small_collections_and_grow_with_large_ones():
    from vislearn.organize.cluster import neighbours_for

    assert [neighbours_for(n) for n in (16, 60, 400, 1000, 4000, 100_000)] == [3, 6, 10, 25, 50, 50]
