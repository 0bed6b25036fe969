"""vislearn.load_run / predict / evaluate / explain on a run of every registered task: typed predictions that agree with
what `vislearn predict` writes, unreadable files reported, metrics written, heatmap PNGs written."""
import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from tiny_runs import TINY_RUN

import vislearn
from vislearn.cli import main
from vislearn.data.samples.defects import write_texture
from vislearn.data.samples.detect import write_detect_sample
from vislearn.data.samples.segment import write_shapes_sample
from vislearn.engine.device import one_thread
from vislearn.tasks import TASKS


def _classify(root: Path, make_digits) -> tuple[dict, Path, Path]:
    data = make_digits(root / "digits", per_class=8, classes=range(3))
    return dict(data=data, model="tiny_cnn_small", image_size=16, batch_size=16), data, data / "1" / sorted(p.name for p in (data / "1").iterdir())[0]


def _defects(root: Path, _) -> tuple[dict, Path, Path]:
    data = root / "brick"
    write_texture("brick", data, np.random.default_rng(0), size=32, n_train=10, n_test_good=3, n_per_defect=1)
    return dict(data=data, model="tiny_cnn", image_size=32, batch_size=8, extra={"method": "random-distill"}), data, data / "test/good/000.png"


def _detect(root: Path, _) -> tuple[dict, Path, Path]:
    data = root / "boxes"
    write_detect_sample(data, quiet=True, limit=6, size=64)
    return dict(data=data, model="tiny_det", image_size=64, batch_size=8), data, data / "images/test/0000.png"


def _segment(root: Path, _) -> tuple[dict, Path, Path]:
    data = root / "shapes"
    write_shapes_sample(data, count=12, size=48, quiet=True)
    return dict(data=data, model="tiny_unet", image_size=32, batch_size=8), data, data / "images/shapes_0001.png"


class Recipe(NamedTuple):
    data: Callable  # (root, make_digits) -> (train options, labelled data, one image)
    prediction: type  # what vislearn.predict returns per image
    number: Callable  # one number of a prediction ...
    cli_number: Callable  # ... and the same number in `vislearn predict --json`'s first row
    options: dict = {}  # predict/explain options (and the same as CLI flags)
    flags: tuple = ()


def _first_fraction(row: dict) -> float:
    return next(v for k, v in row.items() if k.startswith("fraction_"))


RECIPES = {
    "classify": Recipe(_classify, vislearn.ClassPrediction, lambda p: p.confidence, lambda a: a["predictions"][0]["confidence"]),
    "defects": Recipe(_defects, vislearn.DefectPrediction, lambda p: p.score, lambda a: a["predictions"][0]["score"]),
    # after one epoch few boxes pass the default 0.25: keep them all, so boxes are compared and explained
    "detect": Recipe(_detect, vislearn.Detections, lambda p: sorted(p.scores.round(4).tolist()),
                     lambda a: sorted(b["score"] for b in a["predictions"]), {"conf": 0.0}, ("--conf", "0.0")),
    "segment": Recipe(_segment, vislearn.SegmentationMask, lambda p: p.class_fractions[p.class_names[0]],
                      lambda a: _first_fraction(a["predictions"][0])),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_digits):
    """task -> (run folder, labelled data, one image): every registered task trained for one epoch on tiny data."""
    root, trained = tmp_path_factory.mktemp("tasks"), {}
    with one_thread():
        for name in TASKS:
            options, data, image = RECIPES[name][0](root, make_digits)  # a task without a recipe here fails: add one
            trained[name] = (vislearn.train(name, out=root / f"run-{name}", **TINY_RUN, **options).dir, data, image)
    return trained


@pytest.mark.slow
@pytest.mark.parametrize("name", TASKS.names())
def test_predict_evaluate_and_explain_work_alike_for_every_task(name, runs, tmp_path, capsys):
    run_dir, data, image = runs[name]
    run = vislearn.load_run(run_dir)
    assert run.config.task == name
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    recipe = RECIPES[name]

    predictions, problems = vislearn.predict(run, [image, broken], progress=False, **recipe.options)
    assert [type(p) for p in predictions] == [recipe.prediction] and [Path(p.path) for p in problems] == [broken]
    assert Path(predictions[0].path) == image
    capsys.readouterr()
    assert main(["predict", str(run_dir), str(image), "--out-dir", str(tmp_path / "cli"), *recipe.flags, "--json", "--quiet"]) == 0
    assert recipe.number(predictions[0]) == pytest.approx(recipe.cli_number(json.loads(capsys.readouterr().out)), abs=1e-4)

    metrics = vislearn.evaluate(run_dir, data, tmp_path / "eval", progress=False)
    assert (tmp_path / "eval/metrics.json").is_file() and metrics["out"] == str(tmp_path / "eval")
    assert [k for k in TASKS.get(name).summary_keys if k in metrics]

    assert set(TASKS.get(name).explain_targets(run)) <= set(run.class_names)
    written = vislearn.explain(run, image, tmp_path / "explain", **recipe.options)
    pictures = [Path(v) for v in _strings(written) if Path(v).parent == tmp_path / "explain"]
    assert pictures and all(p.suffix == ".png" and p.is_file() for p in pictures), written


def _strings(value) -> list[str]:
    """Every string inside a nested dict/list answer."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if isinstance(value, (str, Path)) else []


def test_typed_predictions_name_their_fields_and_cannot_be_changed():
    boxes = vislearn.Detections("a.png", np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.array([1]), ("cat", "dog"), (8, 8))
    assert boxes.labels == ["dog"]
    with pytest.raises(AttributeError):
        boxes.path = "b.png"
    mask = vislearn.SegmentationMask("a.png", np.zeros((4, 5), np.uint8), {"background": 1.0}, ("background",))
    with pytest.raises(AttributeError):
        mask.mask_hw = None
    assert vislearn.Prediction is vislearn.ClassPrediction  # the classify record under its older name
