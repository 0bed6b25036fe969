"""The image cache: batches read from memory equal batches read from the files (bit for bit, augmentations included),
large pictures are kept shrunk, unreadable files are still reported, and the cache is skipped when it would not pay
or not fit; a classify run trains to the same weights with it and without it."""
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from tiny_runs import SMALL_CLASSIFIER, train_tiny

from vislearn.data import Sample, eval_transform, make_loader, train_transform
from vislearn.data.image_cache import cached_loader, decide, decode_once, kept_size
from vislearn.files import read_json
from vislearn.models import Preprocessing

PRE = Preprocessing((0.5,) * 3, (0.25,) * 3, 16)


def _batches(loader, seed=0):
    torch.manual_seed(seed)  # the transforms' randomness: the same draws for both loaders
    return [(b.images, b.labels, b.indices, [(p.path, p.reason) for p in b.failed]) for b in loader]


@pytest.mark.parametrize("transform", [eval_transform(PRE), train_transform(PRE, "light")], ids=["eval", "train"])
def test_batches_from_memory_equal_batches_from_files(tmp_path, transform, write_noise_pngs):
    samples = write_noise_pngs(tmp_path)
    cache = decode_once(samples, max_side=256, workers=0)
    from_files = _batches(make_loader(samples, transform, 4, True, 0, seed=3))
    from_memory = _batches(cached_loader(samples, cache, transform, 4, True, 0, seed=3))
    assert len(from_files) == len(from_memory) == 3
    for (a_img, a_lab, a_idx, a_bad), (b_img, b_lab, b_idx, b_bad) in zip(from_files, from_memory):
        assert torch.equal(a_img, b_img) and torch.equal(a_lab, b_lab) and torch.equal(a_idx, b_idx) and a_bad == b_bad
    assert sum(len(b[3]) for b in from_memory) == 1 and "broken.png" in next(b[3] for b in from_memory if b[3])[0][0]


def test_loader_processes_read_the_shared_buffer(tmp_path, write_noise_pngs):
    samples = write_noise_pngs(tmp_path)
    cache = decode_once(samples, max_side=256, workers=1)
    one = _batches(cached_loader(samples, cache, eval_transform(PRE), 4, False, 0))
    two = _batches(cached_loader(samples, cache, eval_transform(PRE), 4, False, 1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(one, two)) and len(one) == len(two)


def test_large_pictures_are_kept_shrunk_with_their_aspect(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (600, 300), (10, 200, 30)).save(path)
    cache = decode_once([Sample(str(path), 0)], max_side=256, workers=0)
    kept = cache.image(0)
    assert kept.size == (256, 128) == kept_size(600, 300, 256) and kept.getpixel((5, 5)) == (10, 200, 30)
    assert kept_size(200, 100, 256) == (200, 100)


def test_the_cache_is_skipped_when_it_would_not_pay_or_not_fit(tmp_path, write_noise_pngs):
    samples = [s for s in write_noise_pngs(tmp_path) if "broken" not in s.path]
    need = sum(kept_size(12, 9 + i, 256)[0] * kept_size(12, 9 + i, 256)[1] * 3 for i in range(10))
    used = decide(samples, 256, epochs=5, budget_bytes=need)
    assert used.use and used.bytes == need and "decoded once" in used.reason
    assert not decide(samples, 256, epochs=5, budget_bytes=need - 1).use
    assert "over the" in decide(samples, 256, epochs=5, budget_bytes=need - 1).reason
    assert not decide(samples, 256, epochs=1, budget_bytes=need).use
    off = decide(samples, 256, epochs=5, budget_bytes=need, mode="off")
    assert not off.use and "--image-cache off" in off.reason


@pytest.mark.slow
def test_a_run_trains_to_the_same_weights_with_and_without_the_cache(tmp_path, make_digits):
    data = make_digits(tmp_path / "digits", per_class=8, classes=range(3))
    """With the per-image (Pillow) augmentation on both sides; batched augmentation draws differently (see
    test_data_tensor_batches.py) and is what the default run below uses."""
    runs = {mode: train_tiny("classify", data=data, out=tmp_path / mode, epochs=2, extra={"image_cache": mode, "tensor_batches": "off"},
                             **SMALL_CLASSIFIER) for mode in ("auto", "off")}
    assert read_json(runs["auto"].dir / "data_summary.json")["image_cache"]["used"] is True
    assert read_json(runs["off"].dir / "data_summary.json")["image_cache"]["used"] is False
    assert not read_json(runs["auto"].dir / "data_summary.json")["augmentation"]["batched_in_torch"]
    on, off = (load_file(runs[m].dir / "model.safetensors") for m in ("auto", "off"))
    assert on.keys() == off.keys() and all(torch.equal(on[k], off[k]) for k in on)


def test_every_process_of_a_torchrun_job_decodes_every_image(tmp_path, monkeypatch, write_noise_pngs):
    """Under torchrun each process keeps the whole cache (its loaders then deal it shares): the decode pass must not
    go through the distributed sampler, which would hand this process only half of the images (a 0 x 0 picture)."""
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: 2)
    monkeypatch.setattr(dist, "get_rank", lambda *a, **k: 0)
    samples = [s for s in write_noise_pngs(tmp_path) if "broken" not in s.path]
    cache = decode_once(samples, max_side=256, workers=0)
    assert all(h > 0 and w > 0 for h, w in cache.shapes) and [cache.image(i).size for i in range(len(samples))] == \
        [(12, 9 + i) for i in range(len(samples))]

