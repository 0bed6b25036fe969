"""A detect run on a torchvision detector exports the whole detector (its own decoding and NMS in the graph), and
the run's confidence filter and class-wise NMS in numpy decide the same boxes as the run's PyTorch chain."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from tiny_runs import train_tiny

from vislearn.cli import main
from vislearn.data.samples.detect import write_detect_sample
from vislearn.errors import VislearnError
from vislearn.export import detect_torchvision, export_run
from vislearn.export.written import GraphOptions


@pytest.fixture(scope="module")
def tv_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tv-export")
    write_detect_sample(root / "boxes", quiet=True, limit=6, size=64)
    # conf 0.05: an untrained detector's scores are low; the run's own threshold must keep some boxes to compare
    return train_tiny("detect", data=root / "boxes", out=root / "run", model="fasterrcnn_mobilenet_v3_large_fpn",
                      image_size=64, batch_size=8, extra={"conf": 0.05}).dir


@pytest.mark.slow  # a Faster R-CNN run, its TorchScript export and the gate: ~25 s on 2 shared cores
def test_a_torchvision_detector_exports_and_its_boxes_pass_the_parity_gate(tv_run, tmp_path, capsys):
    graph = tmp_path / "model.onnx"
    result = export_run(tv_run, out=graph, options=GraphOptions(opset=17), log=lambda _: None)
    assert result.valid, [c for c in result.checks if not c.passed]
    rows = {c.name: c for c in result.checks}
    assert rows["boxes at conf 0.01"].compared > 0 and rows["box scores at conf 0.01"].compared > 0
    assert "heatmap logits" not in rows  # no heatmap in a torchvision detector: its raw outputs are the boxes
    sidecar = json.loads(graph.with_suffix(".json").read_text())
    assert sidecar["detect"]["detector_kind"] == "torchvision" and sidecar["preprocessing"]["mean"] == [0.0, 0.0, 0.0]
    # a sidecar that drifted from training (stretched instead of letterboxed) puts the boxes of a non-square picture
    # elsewhere: the gate says NOT valid, exit 2. (An untrained detector's boxes barely depend on the pixels, so a changed
    # mean would not show; the resize decides where they land in the file.)
    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 90, 3), dtype=np.uint8)).save(wide)
    sidecar["preprocessing"]["resize_mode"] = "stretch"
    graph.with_suffix(".json").write_text(json.dumps(sidecar))
    assert main(["export", str(tv_run), "--out", str(graph), "--check-only", "--images", str(wide), "--quiet"]) == 2
    assert "export NOT valid" in capsys.readouterr().err


@pytest.mark.parametrize("options, says", [(GraphOptions(dynamic_batch=True), "one image per call"),
                                           (GraphOptions(opset=10), "opset 11 or later")])
def test_a_torchvision_detector_refuses_a_dynamic_batch_and_an_old_opset(options, says, tmp_path):
    run = SimpleNamespace(dir=tmp_path, config=SimpleNamespace(model="fasterrcnn_mobilenet_v3_large_fpn"))
    with pytest.raises(VislearnError, match=says):
        detect_torchvision.write(run, None, None, tmp_path / "m.onnx", options)
    assert not (tmp_path / "m.onnx").exists()
