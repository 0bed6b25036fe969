"""Scoring pinned on hand-made numbers: memory bank distances, coreset picks, thresholds, AUPRO, Mahalanobis."""
import numpy as np
import pytest
import torch

from vislearn.anomaly.coreset import coreset_size, greedy_coreset
from vislearn.anomaly.gaussian import mahalanobis
from vislearn.anomaly.memory_bank import MemoryBank
from vislearn.anomaly.threshold import good_stats, threshold_at_false_alarm
from vislearn.metrics.aupro import aupro


def test_memory_bank_gives_euclidean_distance_to_nearest_vector():
    bank = MemoryBank(torch.tensor([[0.0, 0.0], [10.0, 0.0]]))
    distances = bank.nearest_distances(torch.tensor([[3.0, 4.0], [10.0, 1.0], [0.0, 0.0]]))
    assert distances.tolist() == pytest.approx([5.0, 1.0, 0.0])


def test_leave_one_out_skips_the_images_own_patches():
    bank = MemoryBank(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), owners_m=torch.tensor([7, 8]))
    assert bank.nearest_distances_excluding(torch.tensor([[0.0, 0.0]]), owner=7).tolist() == pytest.approx([5.0])
    assert bank.nearest_distances_excluding(torch.tensor([[0.0, 0.0]]), owner=8).tolist() == pytest.approx([0.0])


def test_leave_one_out_falls_back_to_the_kth_neighbour_when_all_k_are_the_images_own():
    bank = MemoryBank(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [9.0, 0.0]]), owners_m=torch.tensor([7, 7, 7, 8]))
    assert bank.nearest_distances_excluding(torch.tensor([[0.0, 0.0]]), owner=7, k=3).tolist() == pytest.approx([2.0])
    assert bank.nearest_distances_excluding(torch.tensor([[0.0, 0.0]]), owner=7, k=4).tolist() == pytest.approx([9.0])


def test_on_two_threads_the_bank_searches_two_slices_of_the_queries_with_the_same_answers(one_torch_thread):
    generator = torch.Generator().manual_seed(0)
    bank = MemoryBank(torch.randn(300, 8, generator=generator), owners_m=torch.arange(300) % 5)
    queries = torch.randn(101, 8, generator=generator)  # uneven: slices of 51 and 50
    alone = bank.nearest_distances(queries), bank.nearest_distances_excluding(queries, 2)
    torch.set_num_threads(2)  # restored by the fixture
    sliced = bank.nearest_distances(queries), bank.nearest_distances_excluding(queries, 2)
    assert all(torch.equal(a, b) for a, b in zip(alone, sliced))
    assert torch.equal(bank.nearest_distances(queries[:1]), alone[0][:1])  # fewer queries than threads: whole


def test_greedy_coreset_picks_the_farthest_points_first():
    # a tight cluster near the origin and three far corners: after the start, the corners come first
    points = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    picks = greedy_coreset(points, 4, dims=128, seed=0).tolist()
    assert set(picks[1:]) >= {3, 4, 5} - {picks[0]}
    assert len(set(picks)) == 4
    assert set(picks) - {0, 1, 2} == {3, 4, 5}


def test_coreset_size_respects_memory_and_fraction():
    assert coreset_size(100_000, 128, max_memory_mb=1, fraction=0.1) == 2048  # 1 MiB of 128 float32 vectors
    assert coreset_size(1_000, 128, max_memory_mb=256, fraction=0.1) == 100


def test_threshold_at_one_percent_false_alarms_flags_only_the_top_score():
    scores = torch.arange(1, 101, dtype=torch.float32)
    threshold = threshold_at_false_alarm(scores, 0.01)
    assert threshold == 99.0
    assert int((scores > threshold).sum()) == 1
    assert threshold_at_false_alarm(scores, 0.0) == 100.0
    assert threshold_at_false_alarm(scores, 0.1) == 90.0


def test_good_stats_turn_scores_into_z_scores():
    stats = good_stats(torch.tensor([1.0, 2.0, 3.0]))
    assert stats.mean == pytest.approx(2.0) and stats.std == pytest.approx(1.0)
    assert stats.z(torch.tensor([5.0])).tolist() == pytest.approx([3.0])


def test_mahalanobis_with_identity_precision_is_euclidean():
    d = mahalanobis(torch.tensor([[3.0, 4.0]]), torch.zeros(2), torch.eye(2))
    assert d.tolist() == pytest.approx([5.0])
    d = mahalanobis(torch.tensor([[3.0, 4.0]]), torch.zeros(2), torch.diag(torch.tensor([1.0, 0.25])))
    assert d.tolist() == pytest.approx([(9 + 4) ** 0.5])


def test_aupro_on_a_hand_computed_case():
    # region A (2 px) scores 0.9, region B (2 px) 0.3; normal pixels 0.5, 0.1, 0.1, 0.1.
    # FPR 0 -> PRO 0.5; FPR 0.25 -> PRO 1: area to 0.3 = 0.25 * 0.5 + 0.05 * 1 = 0.175, / 0.3
    heat = np.array([[[0.9, 0.9, 0.5, 0.1]], [[0.3, 0.3, 0.1, 0.1]]])
    masks = np.array([[[1, 1, 0, 0]], [[1, 1, 0, 0]]])
    assert aupro(heat, masks, steps=1000) == pytest.approx(0.175 / 0.3, abs=1e-6)


def test_aupro_is_one_when_every_region_outscores_every_normal_pixel():
    heat = np.array([[[0.9, 0.8, 0.1, 0.2]]])
    assert aupro(heat, np.array([[[1, 1, 0, 0]]])) == pytest.approx(1.0)


def test_a_defect_run_saved_with_one_patchcore_bank_asks_to_be_retrained():
    """Runs from before the fine (speck) scale hold one bank: loading says what to do instead of a KeyError."""
    from vislearn.anomaly.patchcore import PatchCore
    from vislearn.errors import CheckpointError

    model = PatchCore.__new__(PatchCore)  # no backbone needed to read a saved bank
    with pytest.raises(CheckpointError, match="train it again"):
        model.load({"bank.features": torch.zeros(4, 3), "bank.owners": torch.zeros(4, dtype=torch.long)})


def test_upsampled_map_is_smoothed_as_torchvisions_gaussian_blur_does_in_two_1d_passes():
    import torch.nn.functional as F
    from torchvision.transforms.functional import gaussian_blur

    from vislearn.anomaly.detector import SMOOTH_SIGMA_PX, upsample_map

    local = torch.rand(2, 9, 11)
    bilinear = F.interpolate(local[:, None], size=(36, 44), mode="bilinear", align_corners=False)
    size = int(4 * SMOOTH_SIGMA_PX) | 1
    expected = gaussian_blur(bilinear, [size, size], [SMOOTH_SIGMA_PX, SMOOTH_SIGMA_PX])[:, 0]
    assert torch.allclose(upsample_map(local, (36, 44)), expected, atol=1e-6)
