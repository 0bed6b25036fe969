"""`vislearn defects add-good`: false alarms marked good stop being flagged, real defects stay flagged, the run is kept."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vislearn
from vislearn.anomaly.threshold import conformal_threshold
from vislearn.cli import main
from vislearn.engine import read_json
from vislearn.errors import VislearnError
from vislearn.predictions import DefectPrediction
from vislearn.tasks.defects.add_good import DEFECT_LIKE_FACTOR, looks_like_a_defect, output_dir
from vislearn.tasks.defects.detector import load_detector, predict_paths


def _prediction(score: float, kind: str, area: float) -> DefectPrediction:
    mask = np.zeros((10, 10), bool)
    mask.flat[:round(area * 100)] = True
    return DefectPrediction("x.png", score, kind != "", kind, score, 0.0, np.zeros((10, 10)), mask)


def test_only_a_strong_small_local_flag_looks_like_a_real_defect():
    threshold = 2.0
    assert looks_like_a_defect(_prediction(DEFECT_LIKE_FACTOR * threshold + 1, "local", 0.05), threshold)
    assert not looks_like_a_defect(_prediction(DEFECT_LIKE_FACTOR * threshold + 1, "local", 0.6), threshold)  # raised all over
    assert not looks_like_a_defect(_prediction(DEFECT_LIKE_FACTOR * threshold + 1, "global", 0.05), threshold)
    assert not looks_like_a_defect(_prediction(threshold + 0.5, "local", 0.05), threshold)  # a mild flag: a false alarm
    assert not looks_like_a_defect(_prediction(1.0, "", 0.0), threshold)


def test_the_updated_run_goes_to_a_new_folder_unless_in_place_which_keeps_the_old_files(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "threshold.json").write_text("old")
    assert output_dir(run, None, False) == tmp_path / "run-good" and (tmp_path / "run-good/threshold.json").read_text() == "old"
    assert output_dir(run, None, False) == tmp_path / "run-good2"
    with pytest.raises(VislearnError, match="not empty"):
        output_dir(run, tmp_path / "run-good", False)
    with pytest.raises(VislearnError, match="in-place"):
        output_dir(run, run, False)
    assert output_dir(run, None, True) == run and (run / "before-add-good-1/threshold.json").read_text() == "old"


def _image(rng, light: float = 0.0, spot: bool = False) -> Image.Image:
    """32 px grey grain; ``light`` brightens it (the new look), ``spot`` paints a 6 px bright square (a real defect)."""
    pixels = 0.35 + light + 0.1 * rng.random((32, 32, 1)) * np.ones((1, 1, 3))
    if spot:
        pixels[12:18, 12:18] = 0.95
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def grain_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("addgood")
    rng = np.random.default_rng(0)
    for folder, n, light in (("data/train/good", 40, 0.0), ("new", 20, 0.2)):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            _image(rng, light).save(root / folder / f"{i:03d}.png")
    _image(rng, spot=True).save(root / "spot.png")
    _image(rng, 0.2, spot=True).save(root / "spot_new_look.png")
    (root / "new/broken.png").write_bytes(b"not a png")
    run = vislearn.train("defects", data=root / "data", out=root / "run", log=None, progress=False, image_size=32,
                         model="tiny_cnn", weights="none", extra={"method": "patchcore"})
    return root, Path(run.dir)


def _flagged(run_dir: Path, paths) -> list[bool]:
    detector, pre, _ = load_detector(run_dir)
    return [p.is_defect for p in predict_paths(detector, [str(p) for p in paths], pre)]


@pytest.mark.slow  # a 40-image fit at 32 px with a random tiny CNN and one add-good: ~15 s on 2 shared cores
def test_added_false_alarms_are_no_longer_flagged_a_real_defect_still_is_and_the_run_is_untouched(grain_run, tmp_path):
    root, run = grain_run
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir() if p.is_file()}
    new = sorted((root / "new").glob("0*.png"))
    added, others = new[:10], new[10:]
    assert sum(_flagged(run, others)) >= 8  # the new look: measured 10 of 10 flagged
    out = tmp_path / "run2"
    given = [*map(str, added), str(root / "new/broken.png")]
    assert main(["defects", "add-good", str(run), *given, "--out", str(out), "--quiet"]) == 0
    record, saved = read_json(out / "add_good.json"), read_json(out / "threshold.json")
    assert record["skipped"][0]["path"].endswith("broken.png") and record["added"] == 10
    assert sum(_flagged(out, others)) <= 2  # measured 0 of 10
    assert _flagged(out, [root / "spot.png", root / "spot_new_look.png"]) == [True, True]
    # the threshold is the conformal rule over the held-out calibration images re-scored against the new memory
    rule = conformal_threshold(torch.tensor(saved["calibration_scores"]), saved["max_false_alarm"])
    assert saved["threshold"] == pytest.approx(rule.threshold)
    assert saved["good_images_in_model"] == 32 + 10 and len(saved["added_good"]) == 10
    assert saved["calibration_images"] == read_json(run / "threshold.json")["calibration_images"]  # the run's own
    detector, _, _ = load_detector(out)
    before, _, _ = load_detector(run)
    assert all(len(a) > len(b) for a, b in zip(detector.method.banks, before.method.banks))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir() if p.is_file()} == files
    assert set(record["seconds"]) >= {"score the new images", "memory and Gaussians", "re-score held-out good images", "total"}
    report = (out / "report.html").read_text()  # re-written on the test images, with what was added
    assert 'id="add-good"' in report and "10 good images from the user joined the memory" in report
    assert "were not scored again after adding" in report  # this data folder has no test images
