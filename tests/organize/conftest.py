import pytest
from torch import nn

from vislearn.organize.embedders import Embedder


@pytest.fixture
def mean_colour_embedder() -> Embedder:
    """A 3-number embedding (mean colour): fast, deterministic, no weights."""
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    return Embedder("mean-colour", "mean-colour-1", model, dim=3, image_size=16, mean=(0, 0, 0), std=(1, 1, 1), onnx_ok=False)
