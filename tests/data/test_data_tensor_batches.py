"""Batches built and augmented in torch from the image cache: the per-image (Pillow) transforms' shapes, ranges, flips,
crops and colour changes, the evaluation transform's exact values, seeded draws, and the choice that is logged."""
import pytest
import torch
from PIL import Image

from vislearn.data import eval_transform, train_transform
from vislearn.data.batch_augment import BATCH_AUGMENTATIONS, BatchAugment, augment_batch
from vislearn.data.image_cache import decode_once
from vislearn.data.tensor_batches import choose, tensor_loader
from vislearn.models import Preprocessing

PRE = Preprocessing((0.5,) * 3, (0.25,) * 3, 16)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _half_white(n: int, side: int = 16) -> torch.Tensor:
    images = torch.zeros(n, 3, side, side, dtype=torch.uint8)
    images[..., : side // 2] = 255
    return images


def test_batched_augmentation_keeps_shape_and_range_and_repeats_per_seed():
    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    flip = BATCH_AUGMENTATIONS.get("flip")
    out = augment_batch(images, flip, _seeded(1))
    assert out.shape == (32, 3, 16, 16) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, augment_batch(images, flip, _seeded(1)))
    assert not torch.equal(out, augment_batch(images, flip, _seeded(2)))
    assert torch.equal(augment_batch(images, BATCH_AUGMENTATIONS.get("none"), _seeded(1)), images.float() / 255)


def test_flips_mirror_about_half_of_the_images_exactly():
    images = _half_white(200)
    out = augment_batch(images, BatchAugment(flip=True), _seeded(0))
    mirrored = [torch.allclose(o, i.flip(2).float() / 255, atol=1e-5) for o, i in zip(out, images)]
    kept = [torch.allclose(o, i.float() / 255, atol=1e-5) for o, i in zip(out, images)]
    assert all(m or k for m, k in zip(mirrored, kept)) and 70 <= sum(mirrored) <= 130


def test_crops_zoom_in_and_never_show_outside_the_picture():
    white = torch.full((50, 3, 16, 16), 255, dtype=torch.uint8)
    cropped = augment_batch(white, BatchAugment(crop_scale=(0.5, 0.5), crop_ratio=(1.0, 1.0)), _seeded(0))
    assert torch.allclose(cropped, torch.ones_like(cropped))  # a crop lies inside the picture: no black fill
    edge = _half_white(50)  # zooming on a sharp edge widens it: more pixels between black and white
    zoomed = augment_batch(edge, BatchAugment(crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0)), _seeded(0))
    assert ((zoomed > 0.05) & (zoomed < 0.95)).float().mean() > ((edge > 12) & (edge < 243)).float().mean()


@pytest.mark.parametrize("augment", ["light", "flip"])
def test_batched_draws_change_pictures_as_much_as_the_pillow_path(augment):
    """Mean and spread over many draws of a white picture (rotation and shift bring black corners; brightness and
    contrast scale it) and the left-right balance of a half-white one agree with the per-image torchvision transforms."""
    torch.manual_seed(0)
    pre = Preprocessing((0.0,) * 3, (1.0,) * 3, 16)
    per_image = train_transform(pre, augment)
    for picture in (torch.full((3, 16, 16), 255, dtype=torch.uint8), _half_white(1)[0]):
        pil = Image.fromarray(picture.permute(1, 2, 0).numpy())
        reference = torch.stack([per_image(pil) for _ in range(100)])
        batched = augment_batch(picture.expand(100, -1, -1, -1), BATCH_AUGMENTATIONS.get(augment), _seeded(0))
        assert abs(batched.mean() - reference.mean()) < 0.03
        assert abs(batched.mean((1, 2, 3)).std() - reference.mean((1, 2, 3)).std()) < 0.03
    left_brighter = (batched[..., :8].mean((1, 2, 3)) > batched[..., 8:].mean((1, 2, 3))).float().mean()  # the half-white one
    assert abs(left_brighter - (reference[..., :8].mean((1, 2, 3)) > reference[..., 8:].mean((1, 2, 3))).float().mean()) < 0.1
    assert left_brighter == 1.0 if augment == "light" else 0.35 < left_brighter < 0.65


def test_evaluation_batches_equal_the_per_image_transform_and_report_unreadable_files(tmp_path, write_noise_pngs):
    samples = write_noise_pngs(tmp_path)
    loader = tensor_loader(samples, decode_once(samples, 256, workers=0), PRE, 4, False, None)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and [len(b) for b in batches] == [4, 4, 2]
    assert [p.path for p in batches[0].failed] == [samples[4].path] and not batches[1].failed
    transform = eval_transform(PRE)
    for batch in batches:
        for image, label, index in zip(batch.images, batch.labels, batch.indices):
            sample = samples[int(index)]
            assert int(label) == sample.label
            assert torch.allclose(image, transform(Image.open(sample.path).convert("RGB")), atol=1e-6)


def test_training_batches_follow_the_seeded_generator(tmp_path, write_noise_pngs):
    samples = write_noise_pngs(tmp_path)[:4]
    cache = decode_once(samples, 256, workers=0)
    loader = tensor_loader(samples, cache, PRE, 2, True, "light", seed=3)

    def epoch(seed):
        loader.generator.manual_seed(seed)  # what the engine's seed_epoch does before every epoch
        return [(b.images, b.indices) for b in loader]

    first, again, other = epoch(5), epoch(5), epoch(6)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other))
    assert sorted(int(i) for b in first for i in b[1]) == [0, 1, 2, 3]


def test_every_augmentation_has_a_batched_form():
    from vislearn.data.transforms import AUGMENTATIONS

    assert AUGMENTATIONS.names() == BATCH_AUGMENTATIONS.names()


def test_the_choice_of_batching_says_why():
    assert choose("auto", True, "light", 1).use
    assert "--tensor-batches off" in choose("off", True, "light", 1).reason
    assert "not in the image cache" in choose("auto", False, "light", 1).reason
    assert "no batched form" in choose("auto", True, "mixup", 1).reason
    assert "torchrun" in choose("auto", True, "light", 2).reason and not choose("auto", True, "light", 2).use
