"""`vislearn export` on a tiny run of every task: the parity gate passes on an honest export, fails (non-zero exit,
"NOT valid") on one whose sidecar preprocessing was changed, and bad input gets a one-line error."""
import json
import shutil

import numpy as np
import pytest
from tiny_runs import TINY_RUN

import vislearn
from vislearn.cli import main
from vislearn.data.samples.defects import write_texture
from vislearn.data.samples.detect import write_detect_sample
from vislearn.data.samples.segment import write_shapes_sample
from vislearn.engine.device import one_thread
from vislearn.export import EXPORTERS, export_run
from vislearn.export.written import GraphOptions
from vislearn.tasks import TASKS


def _classify(root, make_digits) -> dict:
    # enough held-out images per class to keep separate calibration images: the unlike-training arrays are exported
    return dict(data=make_digits(root / "digits", per_class=12, classes=range(3)), model="tiny_cnn_small", image_size=16,
                batch_size=16)


def _defects(root, _) -> dict:
    write_texture("brick", root / "brick", np.random.default_rng(0), size=32, n_train=10, n_test_good=2, n_per_defect=1)
    return dict(data=root / "brick", model="tiny_cnn", image_size=32, batch_size=8, extra={"method": "random-distill"})


def _detect(root, _) -> dict:
    write_detect_sample(root / "boxes", quiet=True, limit=6, size=64)
    return dict(data=root / "boxes", model="tiny_det", image_size=64, batch_size=8)


def _segment(root, _) -> dict:
    # 48 px images on a 32 px tile: the export's sliding window is exercised
    write_shapes_sample(root / "shapes", count=12, size=48, quiet=True)
    return dict(data=root / "shapes", model="tiny_unet", image_size=32, batch_size=8)


RECIPES = {"classify": _classify, "defects": _defects, "detect": _detect, "segment": _segment}
ROWS = {"classify": {"labels", "refer_to_human", "logits", "unlike-training score"}, "defects": {"is_defect", "defect mask pixels", "heatmap"},
        "detect": {"boxes at conf 0.01", "box corners at conf 0.01", "heatmap logits"}, "segment": {"mask pixels", "logits"}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_digits):
    """task -> run folder, trained for one epoch on tiny data."""
    root = tmp_path_factory.mktemp("export")
    with one_thread():
        return {name: vislearn.train(name, out=root / f"run-{name}", **TINY_RUN, **RECIPES[name](root, make_digits)).dir
                for name in EXPORTERS}


def test_every_task_has_an_exporter():
    assert EXPORTERS.names() == TASKS.names()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_export_of_every_task_passes_the_parity_gate(name, runs, tmp_path):
    graph = tmp_path / "model.onnx"
    result = export_run(runs[name], out=graph, options=GraphOptions(opset=18, dynamic_batch=name == "segment"), log=lambda _: None)
    assert result.valid, [c for c in result.checks if not c.passed]
    assert result.split == "test" and result.images >= 2
    sidecar = json.loads(graph.with_suffix(".json").read_text())
    assert sidecar["task"] == name and sidecar["opset"] == 18 and sidecar["preprocessing"]["mean"]
    parity = json.loads((tmp_path / "parity.json").read_text())
    assert parity["valid"] and {c["name"] for c in parity["checks"]} >= {"images read"} | ROWS[name]
    # every image compared, decisions included: no row may pass by comparing nothing
    assert all(c.compared > 0 for c in result.checks if "conf 0.25" not in c.name), result.checks


@pytest.mark.slow
@pytest.mark.parametrize("name", ["classify", "detect", "segment"])  # defects: its graph's export alone takes ~8 s
def test_a_sidecar_with_the_wrong_mean_fails_the_gate(name, runs, tmp_path, capsys):
    graph = tmp_path / "model.onnx"
    assert main(["export", str(runs[name]), "--out", str(graph), "--quiet"]) == 0
    assert "pass" in capsys.readouterr().out
    sidecar = json.loads(graph.with_suffix(".json").read_text())
    sidecar["preprocessing"]["mean"] = [m - 0.05 for m in sidecar["preprocessing"]["mean"]]
    graph.with_suffix(".json").write_text(json.dumps(sidecar))

    assert main(["export", str(runs[name]), "--out", str(graph), "--check-only", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert "NO" in out and "export NOT valid" in err
    assert json.loads((tmp_path / "parity.json").read_text())["valid"] is False


def test_a_folder_that_is_not_a_run_gets_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not a vislearn run folder" in err and "\n" not in err


def test_an_unknown_format_gets_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "tflite", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown export format 'tflite'; known: onnx, openvino"


@pytest.mark.slow
def test_the_openvino_export_passes_and_its_fp16_weights_would_not(runs, tmp_path):
    ov = pytest.importorskip("openvino")
    graph = tmp_path / "model.onnx"
    result = export_run(runs["classify"], "openvino", out=graph, log=lambda _: None)
    assert result.valid and graph.with_suffix(".xml").is_file() and graph.with_suffix(".bin").is_file()
    # OpenVINO's own default stores fp16 weights: the raw outputs then drift ~1e-3, beyond the gate's tolerance
    ov.save_model(ov.convert_model(str(graph)), str(graph.with_suffix(".xml")), compress_to_fp16=True)
    drifted = export_run(runs["classify"], "openvino", out=graph, log=lambda _: None, write=False)
    assert not drifted.valid


@pytest.mark.slow
def test_a_run_referring_by_prediction_sets_exports_its_sets_with_parity(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["classify"], run)
    config = json.loads((run / "config.json").read_text())
    # the tiny run keeps 3 calibration images: enough for 50 % sets (a 90 % set needs 9)
    (run / "config.json").write_text(json.dumps({**config, "prediction_sets": 0.5}))
    with one_thread():
        result = export_run(run, log=lambda _: None)
        assert result.valid, [c for c in result.checks if not c.passed]
        row = next(c for c in result.checks if c.name == "prediction sets")
        assert row.compared == result.images > 0 and row.differ == 0
        sets = json.loads(result.sidecar.read_text())["classify"]["prediction_sets"]
        assert sets["level"] == 0.5 and 0 < sets["aps_quantile"] <= 1
        # the sets the export decides are the ones `vislearn predict` gives, and a set of 2+ classes is referred as ambiguous
        predicted, _ = vislearn.predict(run, _held_out(run), progress=False)
        assert all(p.prediction_set is not None for p in predicted)
        assert all((len(p.prediction_set) != 1) <= p.refer_reason.startswith(("ambiguous", "unlike")) for p in predicted)
        # a sidecar whose threshold was changed decides other sets: the gate says NOT valid
        sidecar = json.loads(result.sidecar.read_text())
        sidecar["classify"]["prediction_sets"]["aps_quantile"] = 0.999999
        result.sidecar.write_text(json.dumps(sidecar))
        changed = export_run(run, log=lambda _: None, write=False)
    assert not changed.valid and not next(c for c in changed.checks if c.name == "prediction sets").passed


def _held_out(run) -> list[str]:
    from vislearn.export.parity import held_out_images

    return held_out_images(run, 1000)[1]
