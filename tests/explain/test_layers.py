import numpy as np
import pytest
import torch

from explain_helpers import calibrated, hooks_left
from vislearn.errors import UnknownNameError
from vislearn.explain import feature_map_grid, feature_maps, first_conv, first_layer_filters, most_active_channels
from vislearn.models import create_model


def tiles(grid_hw3: np.ndarray, tile_px: int, gap_px: int = 2) -> list[np.ndarray]:
    """Cut a square-tiled grid back into its tiles (row-major, all cells)."""
    step = tile_px + gap_px
    cells = (grid_hw3.shape[0] + gap_px) // step
    return [grid_hw3[r * step:r * step + tile_px, c * step:c * step + tile_px] for r in range(cells) for c in range(cells)]


def test_filters_of_tiny_cnn_form_a_6x6_grid_of_24px_kernels(tiny_cnn):
    grid = first_layer_filters(tiny_cnn)  # 32 filters 3x3, each x8 -> 24 px, 2 px gaps
    assert grid.dtype == np.uint8
    assert grid.shape == (6 * 24 + 5 * 2, 6 * 24 + 5 * 2, 3)
    for tile in tiles(grid, 24)[:32]:
        assert (tile.min(), tile.max()) == (0, 255)  # each filter scaled on its own
        assert len(np.unique(tile.reshape(-1, 3), axis=0)) <= 9  # nearest neighbour: 9 kernel cells


def test_filters_of_resnet18_are_found_through_pretrained_cfg():
    model = create_model("resnet18", 10, weights=None)
    assert first_conv(model) is model.conv1
    grid = first_layer_filters(model)  # 64 filters 7x7, each x4 -> 28 px, 8x8 grid
    assert grid.shape == (8 * 28 + 7 * 2, 8 * 28 + 7 * 2, 3)


def test_filters_of_a_grayscale_model_are_grey():
    grid = first_layer_filters(calibrated("tiny_cnn_small", in_chans=1))
    assert grid.shape == (3 * 24 + 2 * 2, 3 * 24 + 2 * 2, 3)
    assert (grid[..., 0] == grid[..., 1]).all() and (grid[..., 1] == grid[..., 2]).all()


def test_feature_maps_follow_feature_info_channels_and_strides(tiny_cnn):
    maps = feature_maps(tiny_cnn, torch.randn(3, 64, 64))
    assert list(maps) == ["early", "middle", "deep"]
    assert maps["early"].shape == (32, 64, 64)  # stem, stride 1
    assert maps["middle"].shape == (64, 16, 16)  # stages.1, stride 4
    assert maps["deep"].shape == (128, 8, 8)  # stages.2, stride 8
    assert maps["early"].shape[-1] > maps["deep"].shape[-1]


def test_deep_feature_map_is_what_forward_features_returns(tiny_cnn):
    image = torch.randn(1, 3, 32, 32)
    maps = feature_maps(tiny_cnn, image, depths=("deep", "stages.0"))
    with torch.no_grad():
        torch.testing.assert_close(maps["deep"], tiny_cnn.forward_features(image)[0])
    assert maps["stages.0"].shape == (32, 16, 16)


def test_feature_maps_of_lite0_match_its_feature_info():
    model = create_model("tf_efficientnet_lite0", 1000, weights=None)
    maps = feature_maps(model, torch.randn(1, 3, 64, 64))
    assert maps["early"].shape == (16, 32, 32)  # blocks.0, stride 2
    assert maps["middle"].shape == (40, 8, 8)  # blocks.2, stride 8
    assert maps["deep"].shape == (320, 2, 2)  # blocks.6, stride 32


def test_feature_maps_leave_mode_and_hooks_as_they_were(tiny_cnn):
    tiny_cnn.train()
    feature_maps(tiny_cnn, torch.randn(1, 3, 32, 32))
    assert all(module.training for module in tiny_cnn.modules())
    assert hooks_left(tiny_cnn) == []


def test_feature_maps_name_the_choices_for_an_unknown_depth(tiny_cnn):
    with pytest.raises(UnknownNameError, match="early, middle, deep"):
        feature_maps(tiny_cnn, torch.randn(1, 3, 32, 32), depths=("deepest",))


def test_most_active_channels_rank_by_mean_absolute_activation():
    maps = torch.arange(20.0).view(20, 1, 1).expand(20, 6, 6).clone()
    maps[0] = -100.0  # strongly negative counts as active
    assert most_active_channels(maps, 4).tolist() == [0, 19, 18, 17]


def test_feature_map_grid_shows_16_channels_as_a_4x4_grid_of_48px_tiles():
    torch.manual_seed(0)
    maps = torch.rand(20, 6, 6)
    grid = feature_map_grid(maps, max_channels=16)  # 6 px maps x8 -> 48 px
    assert grid.dtype == np.uint8
    assert grid.shape == (4 * 48 + 3 * 2, 4 * 48 + 3 * 2, 3)
    assert feature_map_grid(maps, max_channels=3).shape == (2 * 48 + 2, 2 * 48 + 2, 3)
