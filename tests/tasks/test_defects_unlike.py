"""Inputs unlike training in defect runs: foreign images are referred, local defects of the product stay `defect`."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

import vislearn
from vislearn.cli import main
from vislearn.data.samples.defects import DEFECTS, random_crop, texture_rgb, write_texture
from vislearn.report.defects import FIGURES
from vislearn.tasks.defects.unlike import UNLIKE_TRAINING, fit_unlike_training, referral_fields, verdict


def test_threshold_is_the_false_referral_quantile_or_the_floor_whichever_is_higher():
    held_out = torch.arange(1.0, 101.0)  # z of 100 held-out good images: 1 .. 100
    assert fit_unlike_training(held_out, 0.01, floor=20).threshold == 99.0  # only the image at 100 is referred
    low = fit_unlike_training(held_out / 10, 0.01, floor=20)
    assert (low.threshold, low.set_by) == (20, "floor") and low.quantile == pytest.approx(9.9)
    assert "set by the floor" in low.describe() and "9.90" in low.describe()
    few = fit_unlike_training(torch.arange(24.0), 0.01)
    assert "down to 4.0% only" in few.describe()  # 24 images cannot resolve 1 %: the log says so
    with pytest.raises(ValueError, match="max_false_referral"):
        fit_unlike_training(held_out, 1.5)


def test_an_image_unlike_training_is_neither_good_nor_defective():
    rule = fit_unlike_training(torch.zeros(10), 0.01, floor=20)
    assert verdict(False, 25.0, rule) == verdict(True, 25.0, rule) == UNLIKE_TRAINING
    assert verdict(True, 19.0, rule) == "defect" and verdict(False, 3.0, rule) == "good"
    assert verdict(False, 1e6, None) == "good"  # a run trained before the check: nothing is referred
    assert referral_fields(True, 25.0, rule) == {"verdict": UNLIKE_TRAINING, "refer_to_human": 1, "refer_reason": UNLIKE_TRAINING}
    assert referral_fields(True, 5.0, rule) == {"verdict": "defect", "refer_to_human": 0, "refer_reason": ""}


def _save(array_hw3, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(array_hw3 * 255, 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def brick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("unlike")
    write_texture("brick", root / "brick", np.random.default_rng(0), size=64, n_train=30, n_test_good=0, n_per_defect=0)
    run = vislearn.train("defects", data=root / "brick", out=root / "run", log=None, progress=False, image_size=64,
                         extra={"method": "patchcore"})
    return root, run


@pytest.mark.slow  # one 30-image fit at 64 px: ~10 s on 2 shared cores
def test_foreign_images_are_referred_and_local_defects_of_the_product_stay_defects(brick_run, tmp_path):
    root, run = brick_run
    rng = np.random.default_rng(5)
    brick, gravel, grass = (texture_rgb(t) for t in ("brick", "gravel", "grass"))
    foreign = [_save(random_crop(gravel, 64, rng), tmp_path / "in/gravel.png"), _save(random_crop(grass, 64, rng), tmp_path / "in/grass.png"),
               _save(np.zeros((64, 64, 3)), tmp_path / "in/black.png"), _save(rng.random((64, 64, 3)), tmp_path / "in/noise.png")]
    good = [_save(random_crop(brick, 64, rng), tmp_path / f"in/good{i}.png") for i in range(4)]
    local = [_save(DEFECTS.get(name)(random_crop(brick, 64, rng), rng)[0], tmp_path / f"in/{name}.png") for name in ("hole", "stain", "crack")]
    assert main(["predict", str(run.dir), *map(str, foreign + good + local), "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    rows = {r["path"]: r for r in csv.DictReader(open(tmp_path / "p.csv"))}
    assert all(rows[str(p)]["verdict"] == UNLIKE_TRAINING and rows[str(p)]["refer_reason"] == UNLIKE_TRAINING for p in foreign)
    assert all(rows[str(p)]["verdict"] != UNLIKE_TRAINING and rows[str(p)]["refer_to_human"] == "0" for p in good)
    assert [rows[str(p)]["verdict"] for p in local] == ["defect"] * 3  # flagged, and not referred away
    # measured at 64 px: foreign whole-image z 31-39, local defects <= 5, good <= 1; the floor is 10
    assert min(float(rows[str(p)]["global_z"]) for p in foreign) > 25 and max(float(rows[str(p)]["global_z"]) for p in good + local) < 8


@pytest.mark.slow  # one 20-image fit at 64 px
def test_a_training_image_flagged_is_it_really_good_is_drawn_and_listed_in_the_report_warnings(tmp_path):
    write_texture("brick", tmp_path / "brick", np.random.default_rng(0), size=64, n_train=20, n_test_good=0, n_per_defect=0)
    bad = tmp_path / "brick/train/good/007.png"  # a defect among the good training images: the report must show it
    pixels = np.asarray(Image.open(bad)).copy()
    pixels[16:40, 16:40] = (20, 120, 220)
    Image.fromarray(pixels).save(bad)
    run = vislearn.train("defects", data=tmp_path / "brick", out=tmp_path / "run", log=None, progress=False, image_size=64,
                         extra={"method": "patchcore"})
    assert (run.dir / FIGURES["train_outliers"]).is_file()
    html = (run.dir / "report.html").read_text()
    warnings = html[html.index("<h3>Warnings</h3>"):]
    assert "007.png scores" in warnings and "is it really good?" in warnings
    assert "<h3>Training images flagged" in html and "007.png</td>" in html
