"""Sliding-window prediction: tiles cover the image, overlaps are averaged, padding is cropped away."""
import torch
from torch import nn

from vislearn.engine.sliding_window import sliding_window_logits, tile_starts


def test_tile_starts_cover_the_length_with_the_last_tile_flush():
    assert tile_starts(100, 32, 24) == [0, 24, 48, 68]
    assert tile_starts(20, 32, 24) == [0]
    assert tile_starts(32, 32, 24) == [0]


def test_pixelwise_model_gives_the_same_logits_tiled_or_whole():
    torch.manual_seed(0)
    model = nn.Conv2d(3, 4, 1).eval()
    image = torch.randn(3, 70, 95)
    tiled = sliding_window_logits(model, image, tile=32, overlap=0.5)
    assert tiled.shape == (4, 70, 95)
    assert torch.allclose(tiled, model(image[None])[0], atol=1e-5)


class CountTiles(nn.Module):
    """Logits = 1 everywhere: averaged overlaps stay 1; counts calls to check the number of tiles."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.tiles = 0

    def forward(self, x):
        self.tiles += len(x)
        return torch.ones(len(x), 2, *x.shape[-2:]) + self.weight


def test_overlaps_are_averaged_not_summed():
    model = CountTiles()
    logits = sliding_window_logits(model, torch.zeros(3, 64, 100), tile=32, overlap=0.25)
    assert torch.allclose(logits, torch.ones(2, 64, 100))
    assert model.tiles == len(tile_starts(64, 32, 24)) * len(tile_starts(100, 32, 24)) == 3 * 4


def test_small_image_is_padded_with_the_given_value_and_cropped_back():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            seen.append(x.clone())
            return x[:, :1] * 0 + 5

    logits = sliding_window_logits(Probe(), torch.zeros(3, 10, 20), tile=32, pad_value_c=torch.tensor([-1.0, -2.0, -3.0]))
    assert logits.shape == (1, 10, 20) and (logits == 5).all()
    assert seen[0].shape == (1, 3, 32, 32) and float(seen[0][0, 2, 31, 31]) == -3.0 and float(seen[0][0, 0, 0, 0]) == 0.0
