"""Patch and pooled features, and the calibrated detector's local/global split."""
import torch

from vislearn.anomaly import Detector
from vislearn.anomaly.detector import Calibration
from vislearn.anomaly.features import Description, feature_stages, patch_features, pooled_features
from vislearn.anomaly.threshold import GoodStats
from vislearn.models import create_model


def test_feature_stages_pick_reductions_8_and_16_else_the_deepest_two():
    tiny = create_model("tiny_cnn", 2, "none")  # reductions 1, 2, 4, 8
    assert feature_stages(tiny) == ["stages.1", "stages.2"]


def test_patch_features_concatenate_layers_on_the_first_grid():
    maps = [torch.ones(2, 3, 8, 8), torch.ones(2, 5, 4, 4)]
    assert patch_features(maps).shape == (2, 8, 8, 8)


def test_pooled_features_leave_out_the_most_anomalous_positions():
    patches = torch.zeros(1, 1, 1, 10)
    patches[..., 9] = 100.0  # one local defect
    local = torch.arange(10.0).view(1, 1, 10)
    pooled = pooled_features(patches, local, trim=0.1)
    assert pooled.tolist() == [[0.0, 0.0]]  # mean and spread of the nine normal positions


class _Fixed:
    """A method that returns a fixed local map and pooled features."""

    def __init__(self, local, pooled):
        self.local, self.pooled = local, pooled

    def describe(self, images, leave_out=None):
        return Description(self.local, self.pooled)


def test_global_score_lights_the_whole_heatmap_and_local_only_its_patch():
    local = torch.zeros(2, 2, 2)
    local[0, 0, 0] = 10.0
    pooled = torch.tensor([[0.0], [6.0]])
    detector = Detector(_Fixed(local, pooled), torch.zeros(1), torch.eye(1),
                        Calibration(GoodStats(0.0, 1.0), GoodStats(0.0, 1.0), 3.0, 0.01))
    scores = detector.score(torch.zeros(2, 3, 32, 32))
    assert scores.global_z_b.tolist() == [0.0, 6.0]
    assert scores.heatmap_bhw[1].min() == 6.0  # global defect: every pixel
    assert scores.heatmap_bhw[0].max() > 3.0 and scores.heatmap_bhw[0].min() < 3.0  # local defect: some pixels


def test_a_global_score_under_the_threshold_leaves_the_local_heatmap_alone():
    local = torch.zeros(1, 2, 2)
    local[0, 0, 0] = 10.0
    detector = Detector(_Fixed(local, torch.tensor([[2.0]])), torch.zeros(1), torch.eye(1),
                        Calibration(GoodStats(0.0, 1.0), GoodStats(0.0, 1.0), 3.0, 0.01))
    scores = detector.score(torch.zeros(1, 3, 32, 32))
    assert scores.global_z_b.tolist() == [2.0] and scores.score_b[0] > 3.0  # a local defect
    assert scores.heatmap_bhw.min() < 2.0  # the pixels far from the local peak keep their own, lower score
