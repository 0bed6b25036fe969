"""Image and mask stay aligned through every augmentation; masks are never blended."""
import numpy as np
import pytest
import torch

from vislearn.data.mask_transforms import MASK_AUGMENTATIONS, as_tv, eval_pair_transform, train_pair_transform
from vislearn.models import Preprocessing

PRE = Preprocessing((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 32)


def white_square_pair(h=40, w=48):
    """Image white exactly where the mask says class 1 (a rectangle), black elsewhere; the rest of the mask 0."""
    mask = torch.zeros(h, w, dtype=torch.uint8)
    mask[8:30, 12:40] = 1
    image = (mask * 255).expand(3, h, w).clone()
    return image, mask


@pytest.mark.parametrize("augment", MASK_AUGMENTATIONS.names())
def test_image_and_mask_stay_aligned_under_augmentation(augment):
    transform = train_pair_transform(PRE, augment)
    moved = 0
    for seed in range(12):
        torch.manual_seed(seed)
        image, mask = transform(*as_tv(*white_square_pair()))
        assert image.shape == (3, 32, 32) and mask.shape == (32, 32)
        assert set(mask.unique().tolist()) <= {0, 1, 255}  # NEAREST: no blended class values
        scored = mask != 255
        bright = image.mean(dim=0) > image.mean(dim=0)[scored].mean() if scored.any() else None
        # brightness/contrast jitter keep white above black; only edge pixels (bilinear on the image) may disagree
        agree = (bright[scored] == (mask[scored] == 1)).float().mean()
        assert agree > 0.95, (augment, seed, float(agree))
        moved += int(not torch.equal(mask, eval_pair_transform(PRE)(*as_tv(*white_square_pair()))[1]))
    assert augment == "none" or moved >= 6  # the augmentation really moves things


def test_padding_outside_the_image_is_not_scored():
    image, mask = white_square_pair(20, 24)
    image_out, mask_out = eval_pair_transform(PRE)(*as_tv(image, mask))
    assert mask_out.shape == (32, 32) and (mask_out[:6] == 255).all() and (mask_out[:, :4] == 255).all()
    assert int((mask_out != 255).sum()) == 20 * 24
    assert float(image_out[:, :6].abs().max()) == 0.0  # padded image is black (normalised with mean 0, std 1)


def test_colour_jitter_changes_the_image_only():
    image = torch.full((3, 32, 32), 120, dtype=torch.uint8)
    mask = torch.from_numpy(np.tile(np.arange(32) % 3, (32, 1)).astype(np.uint8))
    from torchvision.transforms import v2 as T

    jittered_image, jittered_mask = T.ColorJitter(brightness=0.5)(*as_tv(image, mask))
    assert torch.equal(jittered_mask, mask)


def test_large_images_are_cut_near_the_tile_size_before_the_augmentation_keeping_alignment():
    from vislearn.data.mask_transforms import CropLarge

    mask = torch.from_numpy((np.add.outer(np.arange(300), np.arange(500)) % 7).astype(np.uint8))
    image = (mask * 30).expand(3, 300, 500).clone()
    torch.manual_seed(0)
    image_out, mask_out = CropLarge(64)(*as_tv(image, mask))
    assert image_out.shape == (3, 64, 64) and torch.equal(image_out[0], mask_out * 30)
    assert CropLarge(64)(*as_tv(image[:, :40, :50], mask[:40, :50]))[1].shape == (40, 50)


def test_prediction_and_validation_share_one_normaliser():
    from unittest import mock

    from vislearn.data.mask_transforms import to_model_input
    from vislearn.tasks.segment.outputs import predict_masks

    pre = Preprocessing((0.5, 0.25, 0.0), (0.5, 0.25, 2.0), 32)
    image = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 3).expand(3, 32, 3).contiguous()
    x = to_model_input(pre)(image)
    assert x.dtype == torch.float32
    torch.testing.assert_close(x[:, 0, :], torch.tensor([[-1.0, -0.6, 1.0], [-1.0, -0.2, 3.0], [0.0, 0.1, 0.5]]))
    tile, _ = eval_pair_transform(pre)(*as_tv(image, torch.zeros(32, 3, dtype=torch.uint8)))
    assert torch.equal(tile[:, :, 14:17], x)  # the centre tile pads 29 columns around the 3 of the image
    seen = []
    logits = lambda m, x, *a, **k: seen.append(x) or torch.zeros(2, *x.shape[-2:])  # noqa: E731  (records what the model gets)
    with mock.patch("vislearn.tasks.segment.outputs.image_tensor", lambda path: image), \
            mock.patch("vislearn.tasks.segment.outputs.sliding_window_logits", logits):
        list(predict_masks(torch.nn.Identity(), ["x.png"], ["a", "b"], pre, device="cpu", precision="fp32"))
    assert torch.equal(seen[0], x)
