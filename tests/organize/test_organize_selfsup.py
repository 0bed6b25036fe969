import math

import pytest
import torch

from vislearn.data.layouts import Problem
from vislearn.organize.embedders import create_embedder
from vislearn.organize.scan import Found
from vislearn.organize.selfsup import ContrastiveTask, collate_views, nt_xent

from organize_helpers import write_photo


def test_nt_xent_matches_hand_computation():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # views 0,2 of photo 0; 1,3 of photo 1
    ids = torch.tensor([0, 1, 0, 1])
    t = 0.5
    # each view: its twin at cosine 1, the two others at cosine 0
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * math.exp(0)))
    assert nt_xent(z, ids, temperature=t).item() == pytest.approx(expected, rel=1e-5)


def test_views_are_stacked_first_then_second_and_problems_kept():
    a, b = torch.zeros(3, 4, 4), torch.ones(3, 4, 4)
    batch = collate_views([(a, b, 5), Problem("x.jpg", "bad"), (a, b, 7)])
    assert batch.images.shape == (4, 3, 4, 4) and batch.labels.tolist() == [5, 7, 5, 7]
    assert batch.images[2].eq(1).all() and batch.failed == [Problem("x.jpg", "bad")]


def test_learns_through_the_engine_and_is_reused(tmp_path):
    paths = [str(write_photo(tmp_path / "p" / f"{i}.png", (30 * i, 255 - 30 * i, 100), size=(40, 40), noise_seed=i)) for i in range(8)]
    found = [Found(p, 1, 1) for p in paths]
    e = create_embedder("self-supervised", index_dir=tmp_path / "index", found=found, epochs=1, workers=0, log=lambda _m: None, progress=False)
    assert (tmp_path / "index" / "embedders" / "self-supervised" / "model.safetensors").is_file()
    assert (tmp_path / "index" / "embedders" / "self-supervised" / "history.json").is_file()  # the engine's files
    out = e.split(e.model(torch.rand(2, 3, 64, 64))).embedding_nd
    assert out.shape == (2, e.dim) and torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
    again = create_embedder("self-supervised", index_dir=tmp_path / "index")  # no photos needed: the learnt weights are reused
    assert again.key == e.key and ContrastiveTask.score_name == "pair_accuracy"
