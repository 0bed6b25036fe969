"""The feature columns the unlike-training score reads: pooled features, the last map's spreads, the middle stage."""
import timm
import torch

from vislearn.metrics.referral import Referrer, UnlikeTraining
from vislearn.models import create_model
from vislearn.models.with_features import WithFeatures, map_spread, middle_stage, split_outputs


def test_tiny_cnn_gives_logits_pooled_spreads_and_the_middle_stage():
    model = create_model("tiny_cnn", 10, "none").eval()
    assert middle_stage(model) == "stages.1"
    images = torch.rand(3, 3, 32, 32)
    logits, features = split_outputs(WithFeatures(model, 10)(images), 10)
    feature_map = model.forward_features(images)
    assert torch.allclose(logits, model(images), atol=1e-5)
    pooled = model.forward_head(feature_map, pre_logits=True)
    assert features.shape == (3, 128 + 128 + 64 + 64)
    assert torch.allclose(features[:, :128], pooled, atol=1e-5)  # the pooled features come first: older runs read those
    assert torch.allclose(features[:, 128:256], feature_map.std(dim=(2, 3), unbiased=False), atol=1e-4)
    assert not model.stages[1]._forward_hooks  # the hook lives for one call only


def test_without_spreads_only_the_pooled_features_follow_the_logits():
    model = create_model("tiny_cnn", 4, "none").eval()
    assert WithFeatures(model, 4, spread=False)(torch.rand(2, 3, 32, 32)).shape == (2, 4 + 128)


def test_the_middle_stage_of_lite0_is_the_one_at_stride_16():
    assert middle_stage(timm.create_model("tf_efficientnet_lite0", pretrained=False)) == "blocks.4"
    assert middle_stage(torch.nn.Linear(3, 2)) is None


def test_spread_finds_the_channel_axis_in_every_layout():
    channels_first = torch.rand(2, 5, 4, 3)
    expected = channels_first.std(dim=(2, 3), unbiased=False)
    assert torch.allclose(map_spread(channels_first, 5), expected, atol=1e-5)
    assert torch.allclose(map_spread(channels_first.permute(0, 2, 3, 1), 5), expected, atol=1e-5)  # channels last
    tokens = torch.rand(2, 7, 6)
    assert torch.allclose(map_spread(tokens, 6), tokens.std(dim=1, unbiased=False), atol=1e-5)
    assert map_spread(torch.rand(2, 6), 6) is None and map_spread(channels_first, 9) is None


def test_a_run_fitted_on_pooled_features_alone_still_scores_on_the_new_columns():
    means, precision = torch.zeros(2, 3), torch.eye(3)
    old = Referrer(temperature=1.0, confidence_threshold=0.5, class_names=("a", "b"), threshold_rule="fixed",
                   unlike=UnlikeTraining(means, precision, 1.0, 0.05))
    features = torch.tensor([[1.0, 0.0, 0.0, 9.0, 9.0]])  # three pooled columns, then spreads the old run never saw
    assert torch.allclose(old.unlike_scores(features), old.unlike_scores(features[:, :3]))

