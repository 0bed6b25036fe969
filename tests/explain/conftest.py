"""Fixtures: calibrated tiny models, and the pretrained EfficientNet-Lite0 with the scikit-image cat."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explain_helpers import calibrated
from vislearn.models import create_model


@pytest.fixture(scope="session")
def _tiny_cnn_once() -> nn.Module:
    return calibrated("tiny_cnn")


@pytest.fixture(scope="session")
def _tiny_cnn_small_once() -> nn.Module:
    return calibrated("tiny_cnn_small")


@pytest.fixture
def tiny_cnn(_tiny_cnn_once) -> nn.Module:
    """A fresh copy per test, so tests may change its mode, flags or memory format."""
    return copy.deepcopy(_tiny_cnn_once)


@pytest.fixture
def tiny_cnn_small(_tiny_cnn_small_once) -> nn.Module:
    return copy.deepcopy(_tiny_cnn_small_once)


@pytest.fixture(scope="session")
def lite0() -> nn.Module:
    return create_model("tf_efficientnet_lite0", 1000).eval()


@pytest.fixture(scope="session")
def chelsea_bchw() -> torch.Tensor:
    """The scikit-image cat photo as lite0 input: (1, 3, 224, 224), mean = std = 0.5."""
    from skimage.data import chelsea

    image = torch.from_numpy(chelsea()).permute(2, 0, 1).float()[None] / 255
    image = F.interpolate(image, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    return (image - 0.5) / 0.5
