"""A defects run that describes its images in tiles exports the graph of one tile; the tiling, stitching and scoring
run in numpy from the sidecar and decide as the run's PyTorch chain does (parity gate), on images larger than a tile."""
import json

import numpy as np
import pytest
import torch
from tiny_runs import train_tiny

from vislearn.anomaly.detector import SMOOTH_SIGMA_PX, Calibration, Detector, _gaussian_kernel, upsample_map
from vislearn.anomaly.features import Description
from vislearn.anomaly.threshold import GoodStats
from vislearn.anomaly.tiling import cut_tiles, stitch
from vislearn.data.samples.defects import write_texture
from vislearn.export import export_run
from vislearn.export.defects_tiled import smooth, tiled_scores, tiling_entry, upsample_bilinear
from vislearn.export.defects_tiled import stitch as stitch_numpy


@pytest.mark.parametrize("size_hw", [(40, 40), (96, 72), (7, 13)])
def test_numpy_upsampling_and_smoothing_equal_the_detectors(size_hw):
    maps = torch.rand(2, 5, 6) * 3
    expected = upsample_map(maps, size_hw).numpy()
    got = smooth(upsample_bilinear(maps.numpy(), size_hw), _gaussian_kernel(SMOOTH_SIGMA_PX).numpy())
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-5


@pytest.mark.parametrize("side, tile", [(48, 32), (100, 32), (64, 64)])
def test_numpy_stitching_equals_the_detectors(side, tile):
    tiles, offsets = cut_tiles(torch.zeros(2, 3, side, side), tile)
    maps = torch.rand(len(tiles), tile // 8, tile // 8)
    expected = stitch(maps, offsets, side, tile).numpy()
    got = stitch_numpy(maps.view(2, len(offsets), *maps.shape[-2:]).numpy(), offsets, side, tile)
    assert np.abs(got - expected).max() < 1e-6


class _PoolingMethod:
    """A stand-in method: patch map = the channel mean of 8 px cells, pooled = channel means and maxima."""

    @staticmethod
    def describe(images_bchw, leave_out=None):
        cells = torch.nn.functional.avg_pool2d(images_bchw, 8)
        return Description(cells.mean(dim=1) ** 2, torch.cat([images_bchw.mean(dim=(2, 3)), images_bchw.amax(dim=(2, 3))], 1))


def test_the_sidecar_scoring_of_tiles_equals_the_tiled_detector():
    torch.manual_seed(0)
    detector = Detector(_PoolingMethod(), torch.rand(6), torch.eye(6) * 0.5, tile=32,
                        calibration=Calibration(GoodStats(0.3, 0.2), GoodStats(1.0, 0.5), threshold=4.0, max_false_alarm=0.01))
    images = torch.rand(3, 3, 56, 56)
    images[0, :, :20, :20] += 3  # a local defect: its pixels above the threshold
    images[1] *= 4  # a global one: every pixel floored at its global z
    expected = detector.score(images)
    tiling, arrays = tiling_entry(detector, 56)

    def graph(tiles):
        described = _PoolingMethod.describe(torch.from_numpy(tiles))
        return described.local_map_bhw.numpy(), described.pooled_bd.numpy()

    got = tiled_scores(graph, images.numpy(), tiling, arrays, 4.0)
    assert expected.score_b[:2].min() > 4.0 > expected.score_b[2]
    for mine, theirs in zip(got, expected):
        assert mine.shape == theirs.shape and np.abs(mine - theirs.numpy()).max() < 1e-4 * max(1.0, float(theirs.abs().max()))
    assert ((got[3] > 4.0) == (expected.heatmap_bhw > 4.0).numpy()).all()


@pytest.mark.slow  # a PatchCore run and its graph's export: ~10 s on 2 shared cores
def test_a_run_described_in_tiles_exports_one_tile_and_passes_the_parity_gate(tmp_path):
    write_texture("brick", tmp_path / "brick", np.random.default_rng(0), size=48, n_train=10, n_test_good=2, n_per_defect=1)
    run = train_tiny("defects", data=tmp_path / "brick", out=tmp_path / "run", model="tiny_cnn", image_size=48, batch_size=8,
                     extra={"method": "patchcore", "max_native_side": 32})
    result = export_run(run.dir, out=tmp_path / "model.onnx", log=lambda _: None)
    assert result.valid, [c for c in result.checks if not c.passed]
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["defects"]["tiling"]["tile"] == 32 and sidecar["preprocessing"]["size"] == [48, 48]
    assert result.images >= 3 and all(c.compared > 0 for c in result.checks)
    rows = {c.name: c for c in result.checks}
    assert rows["defect mask pixels"].compared == result.images * 48 * 48
    # the numpy side decides from the sidecar's numbers: calibration stats moved by one spread fail the gate
    sidecar["defects"]["tiling"]["local"]["mean"] -= sidecar["defects"]["tiling"]["local"]["std"]
    result.sidecar.write_text(json.dumps(sidecar))
    assert not export_run(run.dir, out=tmp_path / "model.onnx", log=lambda _: None, write=False).valid
