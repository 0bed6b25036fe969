"""The command line end to end on tiny data: train -> eval -> predict -> explain -> report."""
import csv
import json

import pytest

from vislearn.cli import main

TRAIN = ["--model", "tiny_cnn_small", "--weights", "none", "--epochs", "2", "--image-size", "16", "--workers", "0", "--batch-size", "32"]


@pytest.fixture(scope="module")
def trained_run(tiny_digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "classify", "--data", str(tiny_digits), "--out", str(out), "--quiet", *TRAIN]) == 0
    return out


def test_train_writes_checkpoint_config_metrics_explanations_and_report(trained_run):
    for name in ["model.safetensors", "last.safetensors", "config.json", "history.json", "metrics.json", "calibration.json",
                 "data_summary.json", "predictions_test.csv", "report.html", "explain/examples.json", "explain/layers.json",
                 "explain/filters.png", "plots/confusion_matrix.png"]:
        assert (trained_run / name).is_file(), name
    config = json.loads((trained_run / "config.json").read_text())
    assert config["class_names"] == [str(d) for d in range(10)]
    assert config["preprocessing"]["image_size"] == 16
    assert len(json.loads((trained_run / "history.json").read_text())) == 2
    summary = json.loads((trained_run / "data_summary.json").read_text())  # images in memory: batched and augmented in torch
    assert summary["image_cache"]["used"] and summary["augmentation"]["batched_in_torch"]
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["num_images"] == 40  # round(0.15 * 30) = 4 per class
    assert 0.0 <= metrics["accuracy"] <= 1.0 and len(metrics["confusion_matrix"]) == 10
    html = (trained_run / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="http' not in html


def test_train_json_prints_one_parseable_object(tiny_digits, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "classify", "--data", str(tiny_digits), "--out", str(out), "--quiet", "--json", *TRAIN]
    args[args.index("--epochs") + 1] = "1"
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["run"] == str(out) and result["report"].endswith("report.html") and 0 <= result["accuracy"] <= 1


def test_eval_on_another_folder_writes_metrics_and_pngs(trained_run, tiny_digits, tmp_path, capsys):
    assert main(["eval", str(trained_run), "--data", str(tiny_digits), "--out", str(tmp_path / "ev"), "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_images"] == 300
    for name in ["metrics.json", "predictions_test.csv", "confusion_matrix.png", "reliability.png"]:
        assert (tmp_path / "ev" / name).is_file()


def test_eval_refuses_classes_the_model_never_saw(trained_run, make_digits, tmp_path, capsys):
    data = make_digits(tmp_path / "d", per_class=2, classes=[1, 2])
    (data / "2").rename(data / "twelve")
    assert main(["eval", str(trained_run), "--data", str(data), "--quiet"]) == 2
    assert "twelve" in capsys.readouterr().err


def test_predict_writes_calibrated_csv_and_skips_unreadable_files(trained_run, tiny_digits, tmp_path, capsys):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "preds.csv"
    code = main(["predict", str(trained_run), str(tiny_digits / "3"), str(tmp_path / "broken.png"), "--out", str(out), "--refer-below", "0.99"])
    assert code == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 30
    for row in rows:
        probs = [float(v) for k, v in row.items() if k.startswith("prob_")]
        assert abs(sum(probs) - 1) < 1e-3
        low = float(row["confidence"]) < 0.99
        assert row["refer_to_human"] == str(int(low or row["refer_reason"] == "unlike training images"))
        assert row["refer_reason"] in ({"low confidence", "unlike training images"} if low else {"", "unlike training images"})
        assert float(row["unlike_score"]) >= 0
    err = capsys.readouterr().err
    assert "broken.png" in err and "referral: fixed: refer below confidence 0.99" in err


def test_predict_with_prediction_sets_refers_sets_of_several_classes(trained_run, tiny_digits, tmp_path):
    out = tmp_path / "preds.csv"
    assert main(["predict", str(trained_run), str(tiny_digits / "3"), "--out", str(out), "--prediction-sets", "0.8", "--quiet"]) == 0
    rows = list(csv.DictReader(open(out)))
    for row in rows:
        members = row["prediction_set"].split("|") if row["prediction_set"] else []
        if len(members) != 1 and row["refer_reason"] != "unlike training images":
            assert row["refer_reason"] == "ambiguous: " + "|".join(members) and row["refer_to_human"] == "1"


@pytest.mark.parametrize("request_args, message", [
    (["--max-error", "0.01"], "needs at least 299 calibration images (this run has"),
    (["--max-error", "1.5"], "--max-error must be a rate strictly between 0 and 1"),
    (["--prediction-sets", "0"], "--prediction-sets must be a rate strictly between 0 and 1"),
])
def test_a_guarantee_the_run_cannot_give_is_one_clear_line(trained_run, tiny_digits, capsys, request_args, message):
    assert main(["predict", str(trained_run), str(tiny_digits / "3"), "--quiet", *request_args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_train_refuses_a_rate_the_calibration_split_cannot_carry_before_training(tiny_digits, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "classify", "--data", str(tiny_digits), "--out", str(out), "--max-error", "0.01", "--quiet", *TRAIN]) == 2
    assert "needs at least 299 calibration images, and the calibration split has" in capsys.readouterr().err
    assert not (out / "model.safetensors").exists()


def test_a_run_trained_before_referral_data_predicts_by_confidence_alone(trained_run, tiny_digits, tmp_path, capsys):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(trained_run, old)
    (old / "calibration.safetensors").unlink()
    config = json.loads((old / "config.json").read_text())
    for key in ("calibration_share", "refer_below", "max_error", "guarantee_level", "prediction_sets", "unlike_rate"):
        config.pop(key)
    (old / "config.json").write_text(json.dumps(config))
    (old / "calibration.json").write_text(json.dumps({"temperature": 1.3}))
    out = tmp_path / "preds.csv"
    assert main(["predict", str(old), str(tiny_digits / "3"), "--out", str(out)]) == 0
    assert "no unlike-training model in this run" in capsys.readouterr().err
    rows = list(csv.DictReader(open(out)))
    assert all(r["refer_reason"] in ("", "low confidence") and r["unlike_score"] == "" for r in rows)
    assert main(["predict", str(old), str(tiny_digits / "3"), "--max-error", "0.05", "--quiet"]) == 2
    assert "retrain it" in capsys.readouterr().err


def test_explain_writes_overlays_and_layer_views(trained_run, tiny_digits, tmp_path):
    image = sorted((tiny_digits / "7").iterdir())[0]
    assert main(["explain", str(trained_run), str(image), "--out", str(tmp_path / "ex"), "--target", "7", "--quiet"]) == 0
    names = {p.name for p in (tmp_path / "ex").iterdir()}
    assert {f"{image.stem}_gradcam.png", f"{image.stem}_integrated_gradients.png", "filters.png", "feature_maps_deep.png"} <= names


def test_bad_data_folder_is_one_clear_line_not_a_traceback(tmp_path, capsys):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    assert main(["train", "classify", "--data", str(tmp_path / "flat"), "--quiet", *TRAIN]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "one folder per class" in err and "Traceback" not in err


def test_every_verb_explains_itself(capsys):
    for verb in (["train"], ["eval"], ["predict"], ["explain"], ["report"], ["data", "sample"], ["models"]):
        with pytest.raises(SystemExit) as exit_:
            main([*verb, "--help"])
        assert exit_.value.code == 0
        assert "usage: vislearn" in capsys.readouterr().out


def test_auto_backend_is_timed_once_per_machine_then_read_from_backend_json(trained_run, tmp_path, monkeypatch):
    import shutil

    from vislearn.run import Run
    from vislearn.tasks.classify import run as classify_run

    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    (run_dir / "backend.json").unlink(missing_ok=True)
    timings = []
    monkeypatch.setattr(classify_run, "fastest_backend", lambda *a, **k: timings.append(1) or "onnx")
    run = Run.load(run_dir)
    assert classify_run.runner(run, "auto", n_images=10_000, device="cpu")[0] == "onnx"
    assert classify_run.runner(run, "auto", n_images=10_000, device="cpu")[0] == "onnx"
    assert len(timings) == 1  # the second call read the remembered choice
    saved = json.loads((run_dir / "backend.json").read_text())
    saved["machine"]["host"] = "another-computer"
    (run_dir / "backend.json").write_text(json.dumps(saved))
    classify_run.runner(run, "auto", n_images=10_000, device="cpu")
    assert len(timings) == 2  # another machine times again


def test_verbs_that_do_not_apply_to_a_task_say_so(trained_run, tmp_path, capsys):
    import json as _json
    import shutil

    run_dir = tmp_path / "defects-run"
    shutil.copytree(trained_run, run_dir)
    config = _json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(_json.dumps({**config, "task": "defects"}))
    assert main(["explain", str(run_dir), "x.png", "--quiet"]) == 2
    assert "`vislearn explain` does not apply to defects runs" in capsys.readouterr().err
