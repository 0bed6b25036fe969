"""Resolution choice, tiles cut and stitched, the backbone stopped at its deepest wanted stage, coreset candidates."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import vislearn
from vislearn.anomaly.coreset import greedy_coreset
from vislearn.anomaly.features import Description, stage_maps
from vislearn.anomaly.tiling import MAX_SIDE, MIN_SIDE, TiledLoader, choose_resolution, cut_tiles, describe_tiled, stitch
from vislearn.data.dataset import Batch
from vislearn.engine import read_json
from vislearn.models import create_model
from vislearn.tasks.defects.train import load_detector, predict_paths


def test_images_up_to_the_bound_keep_their_own_size():
    assert choose_resolution([(250, 250)] * 3)[:2] == (250, None)
    assert choose_resolution([(640, 480), (600, 400), (800, 500)])[:2] == (480, None)  # median short side
    assert "native resolution, 250 px" in choose_resolution([(250, 250)]).reason


def test_small_images_are_upsampled_and_large_ones_tiled_at_native_resolution():
    assert choose_resolution([(64, 64)])[:2] == (MIN_SIDE, None)
    large = choose_resolution([(1024, 1024)], max_native=512)
    assert large[:2] == (1024, 512) and "512 px tiles" in large.reason
    huge = choose_resolution([(5000, 4000)], max_native=512)
    assert huge[:2] == (MAX_SIDE, 512) and "downscaled" in huge.reason


def test_tiles_cover_the_image_and_stitching_a_convolutional_map_restores_it():
    images = torch.randn(2, 3, 48, 48)
    tiles, offsets = cut_tiles(images, 32)
    assert tiles.shape == (2 * 4, 3, 32, 32) and offsets == [(0, 0), (0, 16), (16, 0), (16, 16)]
    assert torch.equal(tiles[5], images[1, :, 0:32, 16:48])  # image-major order
    pool = lambda x: F.avg_pool2d(x.mean(dim=1, keepdim=True), 8)[:, 0]  # a map on a stride-8 grid
    assert torch.allclose(stitch(pool(tiles), offsets, 48, 32), pool(images), atol=1e-6)


def test_described_in_tiles_pooled_features_are_averaged_and_leave_out_ids_repeated():
    seen = {}

    def describe(tiles, ids):
        seen["ids"] = ids
        return Description(torch.ones(len(tiles), 4, 4), torch.arange(len(tiles), dtype=torch.float32)[:, None])

    described = describe_tiled(describe, torch.zeros(2, 3, 48, 48), 32, leave_out=torch.tensor([7, 9]))
    assert seen["ids"].tolist() == [7, 7, 7, 7, 9, 9, 9, 9]
    assert described.local_map_bhw.shape == (2, 6, 6) and described.pooled_bd.flatten().tolist() == [1.5, 5.5]


def test_tiled_loader_repeats_labels_and_indices_per_tile():
    batch = Batch(torch.zeros(2, 3, 48, 48), torch.tensor([3, 4]), torch.tensor([0, 1]), [])
    tiled = next(iter(TiledLoader([batch], 32)))
    assert tiled.images.shape == (8, 3, 32, 32) and tiled.labels.tolist() == [3] * 4 + [4] * 4


def test_backbone_stops_after_the_deepest_stage_wanted_and_leaves_no_hook():
    model = create_model("tiny_cnn", 2, "none").eval()
    ran = []
    model.get_submodule("stages.1").register_forward_hook(lambda *_: ran.append("stages.1"))
    images = torch.randn(1, 3, 32, 32)
    maps = stage_maps(model, images, ["stem", "stages.0"])
    assert ran == [] and [m.shape[1] for m in maps] == [32, 32]
    assert not model.get_submodule("stages.0")._forward_hooks
    with torch.no_grad():
        assert torch.allclose(maps[1], model.stages[0](model.stem(images)), atol=1e-5)


def test_coreset_from_a_candidate_subset_indexes_the_full_set():
    points = torch.randn(5000, 8)
    picks = greedy_coreset(points, 50, max_candidates=1000, seed=3)
    subset = set(torch.randperm(5000, generator=torch.Generator().manual_seed(3))[:1000].tolist())
    assert len(set(picks.tolist())) == 50 and set(picks.tolist()) <= subset and picks.max() >= 1000


@pytest.mark.slow  # a whole run: ~5 s on 2 shared cores
def test_images_above_the_bound_are_fitted_and_scored_in_tiles(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        path = tmp_path / "data" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(path)
    lines = []
    run = vislearn.train("defects", data=tmp_path / "data", out=tmp_path / "run", log=lines.append, progress=False,
                         model="tiny_cnn", weights="none", image_size=48, extra={"method": "patchcore", "max_native_side": 32})
    assert read_json(run.dir / "config.json")["extra"]["tile"] == 32
    assert "resolution: 48 px as set by --image-size, described in 32 px tiles" in lines
    detector, pre, _ = load_detector(run.dir)
    assert detector.tile == 32
    prediction = next(predict_paths(detector, [str(tmp_path / "data/0.png")], pre))
    assert prediction.heatmap_hw.shape == (48, 48)
