"""The defects section: method, per-type table with masks, heat figures on one scale, outliers, images unlike training."""
import csv
import json

import numpy as np
from PIL import Image

from vislearn.report import write_report
from vislearn.report.defects import FIGURES, HeatExample, defect_config_rows, defects_context, heat_examples_figure, outlier_warnings


def _predictions(run_dir, rows):
    with (run_dir / "predictions_test.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "defect_type", "score", "global_z", "verdict", "refer_to_human", "refer_reason"])
        writer.writeheader()
        writer.writerows(rows)


def test_defects_section_names_the_method_and_draws_the_tradeoff(tmp_path):
    _predictions(tmp_path, [{"path": "a.png", "defect_type": "good", "score": 0.5}, {"path": "b.png", "defect_type": "crack", "score": 4.0}])
    metrics = {"threshold": 2.0, "image_auroc": 1.0,
               "per_defect": [{"defect_type": "crack", "count": 1, "image_auroc": 1.0, "detected": 1.0}]}
    section = defects_context(tmp_path, metrics, {"task": "defects", "extra": {"method": "patchcore+distill"}})
    assert section["headline"][0] == ("method", "patchcore+distill")
    assert dict(section["headline"])["image AUROC"] == "1.000"
    assert section["table"][0]["name"] == "crack" and section["tradeoff"].startswith("data:image/png")
    assert (tmp_path / "plots/threshold_tradeoff.png").is_file()


def test_other_tasks_have_no_defects_section(tmp_path):
    assert defects_context(tmp_path, {"accuracy": 0.9}) is None


def test_pixel_metrics_say_no_masks_and_the_table_says_which_types_had_them(tmp_path):
    rows = [{"defect_type": "hole", "count": 2, "has_masks": True, "pixel_auroc": 0.91},
            {"defect_type": "stain", "count": 2, "has_masks": False, "pixel_auroc": None}]
    some = defects_context(tmp_path, {"threshold": 2.0, "pixel_auroc": 0.93, "types_with_masks": ["hole"],
                                      "types_without_masks": ["stain"], "per_defect": rows}, {"task": "defects"})
    assert dict(some["headline"])["pixel AUROC"] == "0.930" and "(hole); without masks: stain." in some["masks_note"]
    assert [(r["masks"], r["pixel"]) for r in some["table"]] == [("yes", "0.910"), ("no", "no masks")]
    none = defects_context(tmp_path, {"threshold": 2.0, "pixel_auroc": None, "aupro": None, "types_with_masks": [],
                                      "per_defect": rows[1:]}, {"task": "defects"})
    assert dict(none["headline"])["pixel AUROC"] == "no masks" and dict(none["headline"])["AUPRO (FPR ≤ 0.3)"] == "no masks"


def test_defect_runs_show_only_the_settings_they_used():
    config = {"task": "defects", "epochs": 20, "lr": 0.003, "val_fraction": 0.15, "augment": "light", "explain_examples": 12,
              "batch_size": 16, "extra": {"method": "patchcore"}}
    keys = [k for k, _ in defect_config_rows(config)]
    assert keys == ["task", "batch_size", "extra.method"]  # no classification settings; patchcore trains no student
    with_student = [k for k, _ in defect_config_rows({**config, "extra": {"method": "patchcore+distill"}})]
    assert "epochs" in with_student and "lr" in with_student and "val_fraction" not in with_student


def test_heat_figure_has_a_colour_bar_from_zero_to_twice_the_threshold(tmp_path):
    photo = np.full((40, 40, 3), 120, np.uint8)
    heat = np.zeros((32, 32), np.float32)
    heat[10:14, 10:14] = 2.5  # a near miss below the threshold 3: must still show
    path = heat_examples_figure([HeatExample(photo, heat, np.zeros((40, 40), bool), "speck · score 2.50")], 3.0, tmp_path / "f.png")
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert pixels.shape[1] > 3 * 200  # photo, heat, mask and a colour bar side by side
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 80) & (pixels[..., 1] < 80)
    assert red.sum() > 30 and blue.sum() > 30  # the colour bar's two ends are drawn


def _defect_run(run_dir):
    (run_dir / "config.json").write_text(json.dumps({"task": "defects", "val_fraction": 0.15, "augment": "light",
                                                      "explain_examples": 12, "extra": {"method": "patchcore"}}))
    outlier = {"path": "train/good/007.png", "score": 9.5, "kind": "local"}
    (run_dir / "data_summary.json").write_text(json.dumps({"train_outliers": [outlier], "num_images": 3}))
    referred = {"verdict": "unlike training images", "refer_to_human": 1, "refer_reason": "unlike training images"}
    _predictions(run_dir, [{"path": "g.png", "defect_type": "good", "score": 0.1, "global_z": 0.1},
                           {"path": "x.png", "defect_type": "hole", "score": 44.0, "global_z": 44.0, **referred}])
    metrics = {"split": "test", "threshold": 2.0, "image_auroc": 1.0, "num_images": 2, "types_with_masks": [], "pixel_auroc": None,
               "per_defect": [{"defect_type": "hole", "count": 1, "image_auroc": 1.0, "detected": 1.0, "has_masks": False}],
               "unlike_training": {"threshold": 20.0, "quantile": 2.1, "floor": 20.0, "max_false_referral": 0.01, "held_out": 24,
                                   "referred": {"good": 0.0, "hole": 1.0}},
               "worst_misses": [], "worst_false_alarms": [{"path": "g.png", "defect_type": "good", "score": 2.5}]}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    photo, heat = np.full((20, 20, 3), 90, np.uint8), np.full((16, 16), 2.5, np.float32)
    heat_examples_figure([HeatExample(photo, heat, None, "good")], 2.0, run_dir / FIGURES["false_alarms"])


def test_a_defect_run_report_lists_outliers_as_warnings_and_shows_the_referred_images(tmp_path):
    _defect_run(tmp_path)
    html = write_report(tmp_path).read_text()
    assert 'id="metrics"' not in html and "val_fraction" not in html and "explain_examples" not in html
    assert "Worst false alarms" in html and "No defective test image passed." in html and html.count("data:image/png") >= 2
    assert "<h3>Training images flagged" in html and "train/good/007.png</td>" in html
    assert outlier_warnings({"train_outliers": [{"path": "a.png", "score": 9.5, "kind": "local"}]})[0].startswith(
        "training image a.png scores 9.50 above the threshold (local): is it really good?")
    warnings = html[html.index('<h3>Warnings</h3>'):]
    assert "train/good/007.png scores 9.50" in warnings
    assert "Images unlike training (referred to a human)" in html and "x.png" in html and "set by the floor" in html
    assert "100.0%" in html  # the hole's share referred in the per-type table


def test_the_report_says_what_the_threshold_promised_and_how_many_good_test_images_it_flagged(tmp_path):
    from vislearn.metrics.defects import false_alarm_check

    promise = {"calibration_images": 40, "rank": 40, "guaranteed_false_alarm": 1 / 41}
    metrics = {"threshold": 2.5, "threshold_rule": "threshold 2.50 (z), the conformal quantile of 40 calibration good images",
               "false_alarm_check": false_alarm_check(20, 100, promise)}
    notes = defects_context(tmp_path, metrics, {"task": "defects"})["threshold_notes"]
    assert notes[0] == metrics["threshold_rule"]
    assert notes[1].startswith("warning: good test images flagged: 20 of 100 (20.0%); the threshold promised 2.4%")
    assert "differ from the training ones" in notes[1]
    assert defects_context(tmp_path, {"threshold": 2.5}, {"task": "defects"})["threshold_notes"] == []  # runs saved before
