"""The defects task: bad input gets clear errors; end to end on a small generated texture set."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vislearn
from vislearn.cli import main
from vislearn.data.samples.defects import write_texture
from vislearn.engine import read_json
from vislearn.data.mvtec import DefectSample, read_defect_data, read_mask
from vislearn.errors import DataLayoutError
from vislearn.tasks.defects.outputs import evaluate_samples


def _png(path, size=(16, 16), value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return str(path)


def test_mask_of_another_size_than_its_image_names_both_files(tmp_path):
    image, mask = _png(tmp_path / "test/hole/000.png", (16, 16)), _png(tmp_path / "ground_truth/hole/000_mask.png", (8, 8))
    with pytest.raises(DataLayoutError, match=r"000_mask.png: mask is 8x8 but its image .*000.png is 16x16"):
        read_mask(mask, (16, 16), image)


def test_test_folder_without_good_images_says_threshold_needs_them(tmp_path):
    samples = [DefectSample(_png(tmp_path / "test/hole/000.png"), "hole", None)]
    with pytest.raises(DataLayoutError, match="no good test images"):
        evaluate_samples(None, samples, None, tmp_path)


def test_plain_folder_of_good_images_is_a_training_set(tmp_path):
    for i in range(5):
        _png(tmp_path / f"good_{i}.png")
    data = read_defect_data(tmp_path)
    assert len(data.train_good) == 5 and data.test == []


def test_too_few_good_images_is_a_clear_error(tmp_path):
    _png(tmp_path / "train/good/0.png")
    with pytest.raises(DataLayoutError, match="1 good training images"):
        read_defect_data(tmp_path)


def image_auroc_without_specks(run) -> float:
    """Image AUROC over the sample's defect types but its specks: at 64 px (the small brick set here) a speck is a
    single pixel; the 128 px specks are pinned on grass and gravel, and a 3 px fleck on other brick crops, by the slow tests below."""
    import csv

    from sklearn.metrics import roc_auc_score

    with open(run.dir / "predictions_test.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["defect_type"] != "speck"]
    return roc_auc_score([r["defect_type"] != "good" for r in rows], [float(r["score"]) for r in rows])


@pytest.fixture(scope="module")
def brick(tmp_path_factory):
    root = tmp_path_factory.mktemp("defects") / "brick"
    write_texture("brick", root, np.random.default_rng(0), size=64, n_train=40, n_test_good=12, n_per_defect=3)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("method, options, min_image_auroc, min_pixel_auroc", [
    # patchcore at the images' own 64 px (2.3x less CPU than at 128): measured 0.996 / 1.000 / 0.996, pixel 0.918 / 0.954 /
    # 0.922 on brick draws 0-2 (at 128 px: 0.952, 0.910 on draw 0); the students need 128 px (random-distill at 64: 0.905, 0.647)
    ("patchcore", dict(image_size=64), 0.90, 0.87),
    ("random-distill", dict(image_size=128, epochs=6, patience=6, lr=3e-3, batch_size=16), 0.95, 0.85),  # 0.992, 0.897
    ("patchcore+distill", dict(image_size=128, epochs=6, patience=6), 0.95, 0.87),
])
def test_train_predict_eval_on_a_small_brick_set(brick, tmp_path, method, options, min_image_auroc, min_pixel_auroc):
    run = vislearn.train("defects", data=brick, out=tmp_path / "run", log=None, progress=False, extra={"method": method}, **options)
    m = run.metrics
    assert image_auroc_without_specks(run) >= min_image_auroc and m["pixel_auroc"] >= min_pixel_auroc
    assert (tmp_path / "run/report.html").read_text().count("Per defect type") == 1
    assert main(["predict", str(run.dir), str(brick / "test/hole"), "--out", str(tmp_path / "p.csv"),
                 "--out-dir", str(tmp_path / "pngs"), "--quiet"]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "path,score,is_defect,kind,local_z,global_z,verdict,refer_to_human,refer_reason,mask,overlay" and len(rows) == 4
    assert len(list((tmp_path / "pngs").glob("*_overlay.png"))) == 3
    assert main(["eval", str(run.dir), "--data", str(brick), "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    assert (tmp_path / "ev/metrics.json").is_file()


def test_random_distill_gets_its_tuned_training_settings_unless_the_user_set_them():
    from vislearn.config import TrainConfig
    from vislearn.tasks.defects.train import with_method_training

    tuned = with_method_training(TrainConfig(task="defects", extra={"method": "random-distill"}))
    assert (tuned.epochs, tuned.patience, tuned.lr, tuned.batch_size) == (20, 20, 3e-3, 16)
    mine = with_method_training(TrainConfig(task="defects", epochs=3, lr=1e-4, extra={"method": "random-distill"}))
    assert (mine.epochs, mine.lr, mine.batch_size) == (3, 1e-4, 16)
    default = with_method_training(TrainConfig(task="defects"))  # the default patchcore+distill trains a student too
    assert (default.epochs, default.lr) == (20, 3e-3)
    assert with_method_training(TrainConfig(task="defects"), n_fit=96).epochs == 20  # the sample set: 2000 image visits
    assert with_method_training(TrainConfig(task="defects"), n_fit=240).epochs == 8
    assert with_method_training(TrainConfig(task="defects"), n_fit=5000).epochs == 4  # never fewer
    # a budget of patches: a 256 px image holds 4x the patches of a 128 px one
    assert with_method_training(TrainConfig(task="defects", image_size=256), n_fit=60).epochs == 8
    assert with_method_training(TrainConfig(task="defects", image_size=256), n_fit=240).epochs == 4
    assert with_method_training(TrainConfig(task="defects", epochs=30), n_fit=5000).epochs == 30  # the user's own value wins
    patchcore = TrainConfig(task="defects", extra={"method": "patchcore"})
    assert with_method_training(patchcore) == patchcore  # nothing to train: untouched


@pytest.mark.slow
@pytest.mark.parametrize("texture", ["grass", "gravel"])
def test_default_method_on_the_busy_sample_textures_specks_included(tmp_path, texture):
    # the sample set as `vislearn data sample defects` writes it for one texture: 128 px, 96 good images fitted,
    # 24 held out, 30 good + 64 defective test images (cracks, scratches, holes, stains, 1-3 px specks darker or
    # lighter than their surround, colour drift, blur, stretch). Measured on this draw and on seed 1: specks 1.000
    # on both textures; all types grass 0.990 / 0.994 (cracks 0.95), gravel 1.000; pixel AUROC 0.99-0.996.
    # With the coarse bank searched at every other cell: grass (this draw) 0.988, cracks 0.946, specks 1.000, pixel 0.991.
    # Before the generator drew visible specks, two of grass's 8 were dark dots in its own shadows (specks 0.783).
    from vislearn.data.samples.defects import write_defect_sample

    write_defect_sample(tmp_path / "data", quiet=True, textures=(texture,))
    run = vislearn.train("defects", data=tmp_path / "data" / texture, out=tmp_path / "run", log=None, progress=False)
    assert run.config.extra["method"] == "patchcore+distill"
    specks = next(row for row in run.metrics["per_defect"] if row["defect_type"] == "speck")
    assert specks["count"] == 8 and specks["has_masks"]
    assert specks["image_auroc"] >= 0.95 and run.metrics["image_auroc"] >= 0.98 and run.metrics["pixel_auroc"] >= 0.97
    # the false-alarm side: 24 held out, 16 of them only set the threshold, so it promises 1/17 = 5.9 % (1 % asked).
    # Measured good test images flagged: grass 2, 2, 3 of 30 (seeds 0-2), gravel 3 of 30 (seed 0); 7 or more happen in
    # 4 % of calibration draws (beta-binomial); the run reports drift only below 1 % (10 or more of 30)
    check = run.metrics["false_alarm_check"]
    assert check["promised"] == pytest.approx(1 / 17) and check["good"] == 30
    assert check["flagged"] <= 6 and not check["drift"]


def test_data_summary_counts_images_per_split_and_defect_type_for_the_report():
    from vislearn.tasks.defects.train import _counts

    test = [DefectSample("g.png", "good", None), DefectSample("c1.png", "crack", None), DefectSample("c2.png", "crack", None)]
    summary = _counts(["a.png", "b.png", "c.png"], ["d.png"], ["e.png", "f.png"], test)
    assert summary["class_names"] == ["good", "crack"] and summary["num_images"] == 9
    assert summary["counts"] == {"fit": {"good": 3}, "held out (tune)": {"good": 1}, "held out (threshold)": {"good": 2},
                                 "test": {"good": 1, "crack": 2}}


def test_a_defective_image_among_the_good_training_images_is_reported(tmp_path):
    root = tmp_path / "brick"
    write_texture("brick", root, np.random.default_rng(0), size=64, n_train=30, n_test_good=0, n_per_defect=0)
    bad = root / "train/good/007.png"
    pixels = np.asarray(Image.open(bad)).copy()
    pixels[16:40, 16:40] = (20, 120, 220)  # a large blue patch: nothing like brick
    Image.fromarray(pixels).save(bad)
    run = vislearn.train("defects", data=root, out=tmp_path / "run", log=None, progress=False, image_size=64,
                         extra={"method": "patchcore"})
    outliers = read_json(run.dir / "threshold.json")["train_outliers"]
    worst = max(outliers, key=lambda row: row["score"])
    assert Path(worst["path"]).name == "007.png" and worst["kind"] == "local"
    assert worst["score"] > 2 * read_json(run.dir / "threshold.json")["threshold"]


def _speck_set(root: Path, size: int = 128, n_good: int = 32, n_test: int = 12, seed: int = 0) -> None:
    """Brick photo crops (scikit-image, grey) at ``size`` px; each test/speck image carries one bluish fleck
    (foreign material) 3 px across, 2.3 % of the side, with its mask. Built here, apart from the sample set."""
    import skimage.data

    rng = np.random.default_rng(seed)
    brick = skimage.data.brick()
    yy, xx = np.mgrid[:size, :size]

    def crop():
        y, x = rng.integers(0, brick.shape[0] - size, 2)
        return np.repeat(brick[y:y + size, x:x + size, None], 3, axis=2).astype(np.float32)

    def save(pixels, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)

    for i in range(n_good):
        save(crop(), root / "train/good" / f"{i:03d}.png")
    for i in range(n_test):
        save(crop(), root / "test/good" / f"{i:03d}.png")
        cy, cx = rng.integers(12, size - 12, 2)
        speck, pixels = (yy - cy) ** 2 + (xx - cx) ** 2 <= 2, crop()
        fleck = pixels.mean(axis=2, keepdims=True) * np.array([0.5, 0.7, 1.3])
        save(np.where(speck[..., None], fleck, pixels), root / "test/speck" / f"{i:03d}.png")
        save(speck * 255.0, root / "ground_truth/speck" / f"{i:03d}_mask.png")


@pytest.mark.slow
def test_default_settings_catch_a_speck_under_3_percent_of_the_side_at_native_resolution(tmp_path):
    _speck_set(tmp_path / "brick")
    run = vislearn.train("defects", data=tmp_path / "brick", out=tmp_path / "run", log=None, progress=False)
    assert run.config.image_size == 128 and run.config.extra["tile"] is None  # native: nothing shrunk, nothing tiled
    # measured 0.972 (pixel AUROC 0.959); 0.54 before PatchCore's fine scale, the peak-unit maximum and the 2 px blur
    assert run.metrics["image_auroc"] >= 0.94 and run.metrics["pixel_auroc"] >= 0.9


def test_the_held_out_images_that_pick_the_epoch_do_not_set_the_threshold(tmp_path, monkeypatch):
    from vislearn.anomaly.distill import RandomDistill
    from vislearn.config import TrainConfig
    from vislearn.tasks.defects.train import train

    root = tmp_path / "brick"
    write_texture("brick", root, np.random.default_rng(0), size=32, n_train=60, n_test_good=0, n_per_defect=0)
    picked_epoch_on, fit = [], RandomDistill.fit

    def recording_fit(self, batches, log=print, val_loader=None, **context):
        picked_epoch_on.extend(record.path for record in val_loader.dataset.records)
        return fit(self, batches, log, val_loader=val_loader, **context)

    monkeypatch.setattr(RandomDistill, "fit", recording_fit)
    config = TrainConfig(task="defects", data=str(root), image_size=32, epochs=1, extra={"method": "random-distill"})
    train(config, tmp_path / "run", log=lambda line: None, progress=False)  # the task's fit alone: no report
    saved = read_json(tmp_path / "run/threshold.json")
    tune, calibrate = saved["tune_images"], saved["calibration_images"]
    assert picked_epoch_on == tune and len(tune) == 4 and len(calibrate) == 8  # 60 images: 12 held out, a third tune
    assert not set(tune) & set(calibrate)
    assert len(saved["calibration_scores"]) == saved["conformal"]["calibration_images"] == 8
    assert saved["threshold"] == max(saved["calibration_scores"])  # 8 images cannot promise 1 %: the largest, and it says so
    assert saved["conformal"]["guaranteed_false_alarm"] == pytest.approx(1 / 9) and "cannot promise" in saved["conformal"]["fallback"]


def test_too_few_held_out_images_tune_and_calibrate_together_and_the_log_says_the_promise_is_void():
    from vislearn.tasks.defects.train import split_held_out

    said = []
    twelve = list("abcdefghijkl")
    assert split_held_out(twelve, said.append) == (["a", "d", "g", "j"], ["b", "c", "e", "f", "h", "i", "k", "l"])
    assert said == []
    tune, calibrate = split_held_out(["a", "b", "c"], said.append)
    assert tune == calibrate == ["a", "b", "c"] and "can exceed the one asked" in said[0]
