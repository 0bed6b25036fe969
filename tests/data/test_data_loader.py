"""ImageDataset / make_loader: good images come through in batches, a bad file is reported, never raised."""
from __future__ import annotations

import pytest
import torch

from vislearn.data.dataset import Batch, ImageDataset, collate, make_loader
from vislearn.data.layouts import Problem, Sample
from vislearn.data.transforms import eval_transform
from vislearn.models import Preprocessing

PRE = Preprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), image_size=4)


@pytest.fixture
def samples_with_one_truncated(tmp_path, save_flat, noisy_png, truncated_copy) -> list[Sample]:
    """Five flat images (red level 10*i, label i % 2) and, third, a truncated PNG whose header still reads."""
    good = [Sample(str(save_flat(tmp_path / f"{i}.png", (10 * i, 0, 0))), i % 2) for i in range(5)]
    bad = Sample(str(truncated_copy(noisy_png(tmp_path / "whole.png"), tmp_path / "cut.png")), 1)
    return good[:2] + [bad] + good[2:]


def run_epoch(loader) -> tuple[list[int], list[int], list[float], list[Problem]]:
    """(indices, labels, red level of each image, failed) over one pass."""
    indices, labels, reds, failed = [], [], [], []
    for batch in loader:
        assert isinstance(batch, Batch)
        assert batch.images.shape[1:] == (3, 4, 4) or len(batch) == 0
        indices += batch.indices.tolist()
        labels += batch.labels.tolist()
        reds += [round(float(image[0, 0, 0]) * 255) for image in batch.images]
        failed += batch.failed
    return indices, labels, reds, failed


@pytest.mark.parametrize("workers", [0, 2])
def test_every_good_image_comes_through_and_the_bad_one_fails_once(samples_with_one_truncated, workers):
    loader = make_loader(samples_with_one_truncated, eval_transform(PRE), batch_size=4, shuffle=False, workers=workers)
    indices, labels, reds, failed = run_epoch(loader)
    assert indices == [0, 1, 3, 4, 5]
    assert labels == [0, 1, 0, 1, 0]
    assert reds == [0, 10, 20, 30, 40]
    assert failed == [Problem(samples_with_one_truncated[2].path, "cannot decode: file is truncated (an interrupted copy or download?)")]


def test_batch_holds_images_labels_and_indices_as_tensors(samples_with_one_truncated):
    batch = next(iter(make_loader(samples_with_one_truncated[:2], eval_transform(PRE), batch_size=2, shuffle=False, workers=0)))
    assert batch.images.shape == (2, 3, 4, 4) and batch.images.dtype == torch.float32
    assert batch.labels.dtype == torch.long and batch.indices.dtype == torch.long
    assert len(batch) == 2 and batch.failed == []


def test_batch_of_only_bad_files_is_empty_and_lists_them(tmp_path):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    samples = [Sample(str(tmp_path / "a.png"), 0), Sample(str(tmp_path / "b.png"), 1)]
    batches = list(make_loader(samples, eval_transform(PRE), batch_size=2, shuffle=False, workers=0))
    assert len(batches) == 1 and len(batches[0]) == 0
    assert batches[0].images.shape == (0, 3, 1, 1)
    assert [p.reason for p in batches[0].failed] == ["empty file (0 bytes)"] * 2


def test_dataset_returns_a_problem_for_a_file_deleted_after_listing(tmp_path, save_flat):
    path = save_flat(tmp_path / "x.png", (1, 2, 3))
    dataset = ImageDataset([Sample(str(path), 0)], eval_transform(PRE))
    path.unlink()
    problem = dataset[0]
    assert isinstance(problem, Problem) and problem.path == str(path) and "No such file" in problem.reason


def test_collate_keeps_order_of_good_items():
    items = [(torch.zeros(3, 2, 2), 1, 0), Problem("bad.png", "broken"), (torch.ones(3, 2, 2), 0, 2)]
    batch = collate(items)
    assert batch.indices.tolist() == [0, 2] and batch.labels.tolist() == [1, 0]
    assert batch.images[:, 0, 0, 0].tolist() == [0.0, 1.0]
    assert batch.failed == [Problem("bad.png", "broken")]


def test_shuffle_order_is_fixed_by_the_seed(tmp_path, save_flat):
    samples = [Sample(str(save_flat(tmp_path / f"{i}.png", (i, 0, 0), size=(1, 1))), 0) for i in range(16)]

    def order(seed):
        return run_epoch(make_loader(samples, eval_transform(PRE), batch_size=16, shuffle=True, workers=0, seed=seed))[0]

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert sorted(order(1)) == list(range(16))
