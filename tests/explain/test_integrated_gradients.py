import pytest
import torch
from torch import nn

from vislearn.explain import BASELINES, integrated_gradients, integrated_gradients_signed


def score_gap(model, images_bchw, baselines_bchw) -> torch.Tensor:
    """(B,) score(x) - score(baseline) for each image's predicted class."""
    with torch.no_grad():
        logits = model(images_bchw)
        targets = logits.argmax(dim=1)
        rows = torch.arange(len(images_bchw))
        return logits[rows, targets] - model(baselines_bchw)[rows, targets]


@pytest.mark.parametrize("baseline", ["zero", "black"])
def test_signed_attributions_add_up_to_the_score_gap(tiny_cnn_small, baseline):
    torch.manual_seed(8)  # gaps of 0.3 to 0.96 for both images and both baselines
    images = torch.randn(2, 3, 16, 16)
    expected = score_gap(tiny_cnn_small, images, BASELINES.get(baseline)(tiny_cnn_small, images))
    attributions = integrated_gradients_signed(tiny_cnn_small, images, steps=256, baseline=baseline)
    assert attributions.shape == (2, 3, 16, 16)
    assert expected.abs().min() > 0.25  # a gap big enough for a relative check to mean something
    # measured error <= 0.5 %; kinks of ReLU and max-pool keep the midpoint rule from doing much better
    torch.testing.assert_close(attributions.sum(dim=(1, 2, 3)), expected, rtol=0.03, atol=0.0)


def test_black_baseline_is_pixel_zero_after_normalisation(tiny_cnn_small):
    tiny_cnn_small.pretrained_cfg = dict(tiny_cnn_small.pretrained_cfg, mean=(0.5, 0.4, 0.2), std=(0.25, 0.2, 0.1))
    black = BASELINES.get("black")(tiny_cnn_small, torch.ones(1, 3, 2, 2))
    torch.testing.assert_close(black[0, :, 0, 0], torch.tensor([-2.0, -2.0, -2.0]))


def test_attributions_of_a_linear_model_are_input_times_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    images = torch.randn(2, 3, 4, 4)
    attributions = integrated_gradients_signed(model, images, target_classes=[1, 3], steps=4)
    expected = images * model[1].weight.detach()[[1, 3]].view(2, 3, 4, 4)
    torch.testing.assert_close(attributions, expected)


def test_chunking_the_path_does_not_change_attributions(tiny_cnn_small):
    images = torch.randn(1, 3, 32, 32)
    whole = integrated_gradients_signed(tiny_cnn_small, images, steps=12, chunk_size=64)
    chunked = integrated_gradients_signed(tiny_cnn_small, images, steps=12, chunk_size=5)
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=1e-4)


def test_heatmap_is_channel_summed_magnitude_scaled_to_zero_one(tiny_cnn_small):
    images = torch.randn(2, 3, 32, 32)
    signed = integrated_gradients_signed(tiny_cnn_small, images, target_classes=2, steps=8)
    heat = integrated_gradients(tiny_cnn_small, images, target_classes=2, steps=8)
    magnitude = signed.abs().sum(dim=1)
    low = magnitude.amin(dim=(1, 2), keepdim=True)
    high = magnitude.amax(dim=(1, 2), keepdim=True)
    assert heat.shape == (2, 32, 32)
    torch.testing.assert_close(heat, (magnitude - low) / (high - low))
    torch.testing.assert_close(heat.amax(dim=(1, 2)), torch.ones(2))
