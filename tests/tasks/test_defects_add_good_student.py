"""`vislearn defects add-good` teaches the student the added good images (or, with `--student keep`, leaves it)."""
import numpy as np
import pytest
import torch
from PIL import Image

import vislearn
from vislearn.data.samples.defects import write_texture
from vislearn.cli import main
from vislearn.config import TrainConfig
from vislearn.engine import load_tensors, read_json
from vislearn.tasks.defects import cli
from vislearn.tasks.defects.add_good import STUDENT_CHOICES, _own_good_images, add_good
from vislearn.tasks.defects.detector import _loader, load_detector, predict_paths


@pytest.fixture(scope="module")
def brick_run(tmp_path_factory):
    """A 32 px patchcore+distill run (1 epoch) and 6 good bricks in a new, brighter light."""
    root = tmp_path_factory.mktemp("student")
    write_texture("brick", root / "data", np.random.default_rng(0), size=32, n_train=12, n_test_good=2, n_per_defect=1)
    write_texture("brick", root / "fresh", np.random.default_rng(1), size=32, n_train=6, n_test_good=0, n_per_defect=0)
    new = []
    for path in sorted((root / "fresh/train/good").glob("*.png")):
        pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
        new.append(root / "new" / path.name)
        new[-1].parent.mkdir(exist_ok=True)
        Image.fromarray((np.clip(pixels ** 0.6, 0, 1) * 255).round().astype(np.uint8)).save(new[-1])
    vislearn.train("defects", data=root / "data", out=root / "run", log=None, progress=False, model="tiny_cnn", weights="none",
                   image_size=32, epochs=1, batch_size=4, extra={"method": "patchcore+distill"})
    return root / "run", [str(p) for p in new]


def _student(run_dir):
    return {k: v for k, v in load_tensors(run_dir / "detector.safetensors")[0].items() if k.startswith("model.student")}


def _student_error(run_dir, paths) -> float:
    detector, pre, _ = load_detector(run_dir)
    return detector.method.distill.validation_error(_loader(paths, pre, 4))


def test_fine_tuned_student_changes_and_errs_less_on_the_added_images_and_the_run_loads_and_scores(brick_run, tmp_path):
    run, new = brick_run
    record = add_good(run, new, out=tmp_path / "taught", keep_defect_like=True, evaluate=False, log=lambda _: None)
    before, after = _student(run), _student(tmp_path / "taught")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    assert _student_error(tmp_path / "taught", new) < _student_error(run, new)
    assert record["student"].startswith("student taught 6 new good images mixed with")
    assert record["seconds"]["student fine-tune and map units"] > 0
    detector, pre, _ = load_detector(tmp_path / "taught")
    trained = load_detector(run)[0].method
    assert detector.method.scales[1] != trained.scales[1] and detector.method.peaks[0] != trained.peaks[0]  # the student's
    assert detector.method.scales[0] == trained.scales[0] and detector.method.peaks[1:] == trained.peaks[1:]  # PatchCore's kept
    scores = [p.score for p in predict_paths(detector, new, pre)]
    assert len(scores) == 6 and np.isfinite(scores).all()
    assert read_json(tmp_path / "taught/threshold.json")["threshold"] == pytest.approx(detector.calibration.threshold)


def test_student_keep_leaves_the_student_and_its_units_bit_identical(brick_run, tmp_path):
    run, new = brick_run
    assert main(["defects", "add-good", str(run), *new, "--out", str(tmp_path / "kept"), "--student", "keep",
                 "--keep-defect-like", "--no-eval", "--quiet"]) == 0
    before, after = _student(run), _student(tmp_path / "kept")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert load_detector(tmp_path / "kept")[0].method.scales == load_detector(run)[0].method.scales
    record = read_json(tmp_path / "kept/add_good.json")
    assert record["student"].startswith("left as trained") and "student fine-tune and map units" not in record["seconds"]


def test_without_the_training_images_the_student_learns_the_new_ones_alone_and_says_why(brick_run, tmp_path):
    run, new = brick_run
    config = TrainConfig.from_dict({k: v for k, v in read_json(run / "config.json").items() if k not in ("preprocessing", "class_names")})
    saved = read_json(run / "threshold.json")
    own, why = _own_good_images(config, saved, {*saved["tune_images"], *saved["calibration_images"]})
    assert len(own) == 9 and not set(own) & set(saved["tune_images"]) and why == ""  # 12 good, every 4th held out
    own, why = _own_good_images(config.replace(data=str(tmp_path / "gone")), {**saved, "added_good": new[:2]}, set())
    assert own == new[:2] and "not there" in why  # images added before still count


def test_a_random_distill_run_learns_added_images_too(tmp_path):
    write_texture("brick", tmp_path / "data", np.random.default_rng(2), size=32, n_train=8, n_test_good=0, n_per_defect=0)
    vislearn.train("defects", data=tmp_path / "data", out=tmp_path / "run", log=None, progress=False, model="tiny_cnn",
                   weights="none", image_size=32, epochs=1, batch_size=4, extra={"method": "random-distill"})
    new = sorted(map(str, (tmp_path / "data/train/good").glob("*.png")))[:3]
    record = add_good(tmp_path / "run", new, out=tmp_path / "taught", keep_defect_like=True, evaluate=False, log=lambda _: None)
    assert "student (random-distill): fine-tuned 1 epochs" in record["student"]
    assert any(not torch.equal(a, b) for a, b in zip(_student(tmp_path / "run").values(), _student(tmp_path / "taught").values()))
    detector, pre, _ = load_detector(tmp_path / "taught")
    assert np.isfinite([p.score for p in predict_paths(detector, new, pre)]).all()


def test_the_command_line_offers_the_same_student_choices():
    assert cli.STUDENT_CHOICES == STUDENT_CHOICES
