"""PatchCore + distillation: maps combined in units of their good-image spread; saved and reloaded unchanged."""
import csv

import numpy as np
import pytest
import torch

import vislearn
from vislearn.anomaly.ensemble import MapScale, combine_maps, map_scale
from vislearn.data.samples.defects import write_texture
from vislearn.tasks.defects.train import load_detector, predict_paths


def test_map_scale_is_mean_and_spread_over_all_pixels_of_all_batches():
    scale = map_scale([torch.tensor([[[1.0, 2.0]]]), torch.tensor([[[3.0]]])])
    assert scale.mean == pytest.approx(2.0) and scale.std == pytest.approx(1.0)
    assert map_scale([torch.ones(1, 2, 2)]).std == pytest.approx(1e-6)  # a flat map never divides by zero


def test_combine_maps_averages_standardised_maps_on_the_finer_grid():
    coarse = torch.full((1, 2, 2), 3.0)  # (3 - 1) / 2 = 1 everywhere, whatever the upsampling
    fine = torch.arange(16.0).view(1, 4, 4)  # scale (0, 1): itself
    combined = combine_maps([coarse, fine], [MapScale(1.0, 2.0), MapScale(0.0, 1.0)])
    assert combined.shape == (1, 4, 4)
    assert torch.allclose(combined, (1.0 + fine) / 2)


def test_a_peak_in_one_map_only_is_halved_but_a_peak_in_both_stays():
    one = torch.zeros(1, 2, 2)
    one[0, 0, 0] = 4.0
    other = torch.zeros(1, 2, 2)
    other[0, 1, 1] = 4.0  # a chance peak elsewhere
    same = torch.zeros(1, 2, 2)
    same[0, 0, 0] = 4.0
    unit = [MapScale(0.0, 1.0)] * 2
    assert combine_maps([one, other], unit).max() == 2.0
    assert combine_maps([one, same], unit).max() == 4.0


@pytest.fixture(scope="module")
def tiny_brick(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble") / "brick"
    write_texture("brick", root, np.random.default_rng(0), size=32, n_train=10, n_test_good=4, n_per_defect=1)
    return root


def test_patchcore_distill_trains_saves_and_reloads_to_the_same_scores(tiny_brick, tmp_path):
    run = vislearn.train("defects", data=tiny_brick, out=tmp_path / "run", log=None, progress=False, model="tiny_cnn",
                         weights="none", image_size=32, epochs=1, batch_size=4, extra={"method": "patchcore+distill"})
    assert 0.0 <= run.metrics["image_auroc"] <= 1.0
    detector, pre, config = load_detector(tmp_path / "run")
    assert config.extra["method"] == "patchcore+distill" and len(detector.method.scales) == 2
    assert len(detector.method.peaks) == 3  # the pair's mean, PatchCore's fine map, the pixel map
    rows = list(csv.DictReader(open(tmp_path / "run/predictions_test.csv")))  # scored by the trained detector
    again = list(predict_paths(detector, [r["path"] for r in rows], pre))
    assert [p.score for p in again] == pytest.approx([float(r["score"]) for r in rows], abs=1e-3)
    assert again[0].heatmap_hw.shape == (32, 32)
    one_by_one = list(predict_paths(detector, [r["path"] for r in rows], pre, batch_size=1))  # batched == alone
    assert [p.score for p in one_by_one] == pytest.approx([p.score for p in again], rel=1e-5, abs=1e-4)
    assert np.allclose(one_by_one[0].heatmap_hw, again[0].heatmap_hw, rtol=1e-5, atol=1e-4)
    assert "run by" in run.metrics["scoring_backend"]  # the backend that ran is said, and why


def test_a_speck_seen_by_one_map_only_keeps_its_full_height_in_peak_units():
    from vislearn.anomaly.scales import peak_scale, strongest

    good = [torch.tensor([[[0.0, 1.0], [0.0, 0.0]]]), torch.tensor([[[0.0, 3.0], [0.0, 0.0]]])]  # peaks 1 and 3
    assert peak_scale(good) == pytest.approx((2.0, 2 ** 0.5))
    pair, fine = torch.zeros(1, 4, 4), torch.zeros(1, 2, 2)
    fine[0, 1, 1] = 10.0  # a speck in the coarser-gridded fine map only
    combined = strongest([pair, fine], [MapScale(0.0, 1.0), MapScale(1.0, 3.0)])
    assert combined.shape == (1, 4, 4) and combined.max() == pytest.approx(3.0)  # (10 - 1) / 3, not divided by two
    assert combined.min() == 0.0  # elsewhere the pair's own value wins
