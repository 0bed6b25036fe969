"""The full pixel test over several processes gives the verdicts of one process, in the same order."""
import numpy as np
import pytest

from vislearn.organize.full_test import FullTest, full_test_workers
from vislearn.organize.planted import look_alike_trousers, plant_copies


def test_workers_default_to_one_per_core_and_never_fewer_than_one():
    assert full_test_workers(-1) >= 1 and full_test_workers(0) == 1 and full_test_workers(3) == 3


@pytest.mark.slow
def test_two_processes_judge_like_one(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for k, image in enumerate(look_alike_trousers(2, seed=4)):
        image.save(tmp_path / f"item{k}.png")
        paths.append(tmp_path / f"item{k}.png")
        for kind, content, suffix in plant_copies(image, rng, ["resized", "cropped"]):
            (tmp_path / f"item{k}_{kind}{suffix}").write_bytes(content)
            paths.append(tmp_path / f"item{k}_{kind}{suffix}")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    paths.append(tmp_path / "broken.png")
    pairs = [(a, b) for i, a in enumerate(paths) for b in paths[i + 1:]]
    with FullTest(1) as one, FullTest(2) as two:
        alone, parallel = one.judge(pairs), two.judge(pairs)
        assert two._pool is not None  # the batch really went to worker processes
    assert [(v.kind, round(v.score, 6)) for v in parallel] == [(v.kind, round(v.score, 6)) for v in alone]
    assert sum(v.kind == "near" for v in alone) >= 4  # each item with its two copies
    assert all(v.kind is None for (a, b), v in zip(pairs, alone) if "broken" in b.name)
