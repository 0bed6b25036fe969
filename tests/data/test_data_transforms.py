"""train_transform / eval_transform / denormalize: PIL RGB -> (3, S, S) float, built from Preprocessing."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from vislearn.data.transforms import AUGMENTATIONS, denormalize, eval_transform, train_transform
from vislearn.errors import UnknownNameError
from vislearn.models import Preprocessing

IMAGENET = Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), image_size=16)
COLOUR = (200, 100, 50)


def test_eval_output_is_3_by_size_by_size_float(tmp_path):
    image_chw = eval_transform(IMAGENET)(Image.new("RGB", (20, 10), COLOUR))
    assert image_chw.shape == (3, 16, 16) and image_chw.dtype == torch.float32


def test_eval_normalizes_with_the_weights_mean_and_std():
    image_chw = eval_transform(IMAGENET)(Image.new("RGB", (8, 8), COLOUR))
    expected = [(c / 255 - m) / s for c, m, s in zip(COLOUR, IMAGENET.mean, IMAGENET.std)]
    assert image_chw[:, 5, 7].tolist() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_normalize_then_denormalize_gives_back_the_flat_colour(interpolation):
    pre = Preprocessing(IMAGENET.mean, IMAGENET.std, image_size=12, interpolation=interpolation)
    shown = denormalize(eval_transform(pre)(Image.new("RGB", (30, 20), COLOUR)), pre)
    assert shown.shape == (3, 12, 12)
    expected = torch.tensor(COLOUR, dtype=torch.float32).view(3, 1, 1) / 255
    assert (shown - expected).abs().max().item() <= 1 / 255


def test_denormalize_clamps_to_the_displayable_range():
    pre = Preprocessing((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), image_size=2)
    shown = denormalize(torch.tensor([-5.0, 0.0, 5.0]).view(3, 1, 1).expand(3, 2, 2), pre)
    assert shown[:, 0, 0].tolist() == [0.0, 0.5, 1.0]


def test_augmentation_names():
    assert AUGMENTATIONS.names() == ["flip", "light", "mirror", "none"]


@pytest.mark.parametrize("augment", ["none", "light", "flip", "mirror"])
def test_train_output_is_3_by_size_by_size_for_every_augmentation(augment):
    image_chw = train_transform(IMAGENET, augment)(Image.new("RGB", (40, 24), COLOUR))
    assert image_chw.shape == (3, 16, 16) and image_chw.dtype == torch.float32


def test_train_augmentation_is_reproducible_under_a_torch_seed():
    gradient = Image.linear_gradient("L").convert("RGB").resize((32, 32))
    transform = train_transform(IMAGENET, "flip")
    torch.manual_seed(3)
    first = transform(gradient)
    torch.manual_seed(3)
    assert torch.equal(first, transform(gradient))
    assert not torch.equal(first, transform(gradient))  # and it does vary from one draw to the next


def test_train_with_no_augmentation_equals_eval():
    image = Image.linear_gradient("L").convert("RGB").resize((24, 24))
    assert torch.equal(train_transform(IMAGENET, "none")(image), eval_transform(IMAGENET)(image))


def test_unknown_augmentation_is_refused_with_the_known_names():
    with pytest.raises(UnknownNameError, match="unknown augmentation 'heavy'; known: flip, light, mirror, none"):
        train_transform(IMAGENET, "heavy")
