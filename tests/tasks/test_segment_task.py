"""The segment task: loss, end to end on a small generated shapes set (train, report, predict, eval), CLI."""
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

import vislearn
from vislearn.cli import main
from vislearn.data.samples.segment import write_shapes_sample
from vislearn.engine.device import one_thread
from vislearn.tasks.segment.train import SegmentTask, dice_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def test_dice_loss_is_zero_for_a_confident_right_answer_and_ignores_255():
    masks = torch.tensor([[[0, 1], [1, 255]]])
    logits = torch.nn.functional.one_hot(masks.clamp(max=1), 2).permute(0, 3, 1, 2).float() * 50
    assert float(dice_loss(logits, masks)) == pytest.approx(0.0, abs=1e-3)
    logits[0, :, 1, 1] = torch.tensor([50.0, -50.0])  # wrong only where the mask says "not scored"
    assert float(SegmentTask(2).loss(logits, masks)) == pytest.approx(0.0, abs=1e-3)
    assert float(SegmentTask(2).loss(-logits, masks)) > 10


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("segment")
    write_shapes_sample(root / "data", count=24, size=64, quiet=True)
    with one_thread():  # module-scoped: set up before the per-test thread fixture
        run = vislearn.train("segment", data=root / "data", out=root / "run", log=None, progress=False, model="tiny_unet",
                             weights="none", epochs=1, batch_size=8, image_size=48, workers=0, device="cpu", precision="fp32")
    return root, run


def test_train_writes_metrics_config_and_a_report_with_the_segmentation_section(shapes_run):
    root, run = shapes_run
    m = run.metrics
    assert m["split"] == "test" and m["num_images"] == 4 and 0 <= m["miou"] <= 1
    assert [r["name"] for r in m["per_class_iou"]] == ["background", "disc", "square", "triangle"]
    assert run.class_names == ["background", "disc", "square", "triangle"] and run.preprocessing.image_size == 48
    assert m["tile_size"] == 48  # 64 px test images were scored whole, by 48 px sliding-window tiles
    assert len(m["worst_images"]) == 4 and all((root / "run" / "worst").glob("*.png"))
    html = (root / "run" / "report.html").read_text()
    assert "Segmentation on the test split" in html and "triangle" in html and "data:image/png;base64" in html
    assert "<h2>Confusion matrix" not in html and "Not available" not in html  # no empty classification views
    assert "Images in dataset</div><div class=\"value\">24<" in html and "Macro-F1" not in html
    with open(root / "run" / "predictions_test.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {"miou", "fraction_disc"} <= set(rows[0])


def test_predict_writes_palette_masks_of_the_input_size_overlays_and_fractions(shapes_run, tmp_path, capsys):
    root, run = shapes_run
    tiles = [np.asarray(Image.open(p)) for p in sorted((root / "data" / "images").glob("*.png"))[:6]]
    big = np.concatenate([np.concatenate(tiles[:3], 1), np.concatenate(tiles[3:], 1)], 0)[:, :150]  # 128 x 150
    Image.fromarray(big).save(tmp_path / "big.png")
    (tmp_path / "broken.png").write_bytes(b"no")
    assert main(["predict", str(run.dir), str(tmp_path / "big.png"), str(tmp_path / "broken.png"),
                 "--out-dir", str(tmp_path / "out"), "--json", "--quiet", "--tile-overlap", "0.5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["path"].endswith("broken.png") for s in result["skipped"]] == [True]
    (row,) = result["predictions"]
    mask = Image.open(row["mask"])
    assert mask.mode == "P" and mask.size == (150, 128) and np.asarray(mask).max() < 4
    assert mask.getpalette()[3:6] == [128, 0, 0]  # class 1 in the VOC palette
    assert Image.open(row["overlay"]).size == (150, 128)
    assert sum(v for k, v in row.items() if k.startswith("fraction_")) == pytest.approx(1.0, abs=1e-3)
    assert (tmp_path / "out" / "fractions.csv").is_file()


def test_eval_on_png_masks_and_on_coco_gives_the_same_figures(shapes_run, tmp_path, capsys):
    root, run = shapes_run
    for source, out in ((root / "data", "png"), (root / "data" / "annotations.json", "coco")):
        assert main(["eval", str(run.dir), "--data", str(source), "--out", str(tmp_path / out), "--json", "--quiet"]) == 0
    png, coco = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert png["num_images"] == coco["num_images"] == 24
    assert png["miou"] == pytest.approx(coco["miou"]) and png["per_class_iou"] == coco["per_class_iou"]


def test_eval_on_data_with_other_classes_is_a_clear_error(shapes_run, tmp_path, capsys):
    _, run = shapes_run
    write_shapes_sample(tmp_path, count=2, size=32, quiet=True)
    (tmp_path / "classes.json").write_text(json.dumps(["background", "cat", "dog", "bird"]))
    assert main(["eval", str(run.dir), "--data", str(tmp_path)]) == 2
    assert "differ from the run's" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_unet_reaches_mean_iou_0_8_on_the_shapes_sample_in_minutes(tmp_path):
    """The documented recipe (docs/segment.md): 300 shapes at 96 px, tiny_unet from scratch, 8 epochs on a CPU."""
    write_shapes_sample(tmp_path / "data", quiet=True)
    run = vislearn.train("segment", data=tmp_path / "data", out=tmp_path / "run", log=None, progress=False, model="tiny_unet",
                         weights="none", epochs=8, lr=3e-3, batch_size=16, workers=0, device="cpu", precision="fp32")
    m = run.metrics
    assert m["split"] == "test" and m["num_images"] == 45
    assert m["miou"] >= 0.8, m["per_class_iou"]  # measured 0.91 (torchmetrics, whole test images)


def test_eval_scores_only_the_test_split_of_a_split_folder(shapes_run, tmp_path, capsys):
    import shutil

    root, run = shapes_run
    for split, stems in (("train", range(0, 2)), ("test", range(2, 5))):
        for sub in ("images", "masks"):
            (tmp_path / split / sub).mkdir(parents=True)
            for i in stems:
                shutil.copy(root / "data" / sub / f"shapes_{i:04d}.png", tmp_path / split / sub)
    shutil.copy(root / "data" / "classes.json", tmp_path)
    assert main(["eval", str(run.dir), "--data", str(tmp_path), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["num_images"] == 3


def test_region_targets_average_each_class_over_its_own_pixels():
    from vislearn.explain.gradcam import RegionMeanLogit

    logits = torch.zeros(3, 2, 2)
    logits[1, :, 0] = torch.tensor([4.0, 2.0])  # class 1 wins the left column
    logits[0, :, 1] = 1.0  # class 0 wins the right column; class 2 wins nowhere
    logits[2] = torch.tensor([[-1.0, -3.0], [-1.0, -3.0]])
    scores = [float(RegionMeanLogit(k)(logits)) for k in range(3)]
    assert scores == [1.0, 3.0, -2.0]  # class 2: mean over every pixel, as it has no region


def test_explain_writes_one_gradcam_per_class_and_refuses_unknown_targets(shapes_run, tmp_path, capsys):
    root, run = shapes_run
    image = sorted((root / "data" / "images").glob("*.png"))[0]
    assert main(["explain", str(run.dir), str(image), "--out", str(tmp_path / "ex"), "--target", "disc", "--quiet", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["classes"]
    assert [r["class"] for r in rows] == ["disc"]
    assert Image.open(rows[0]["picture"]).size == (48, 48)
    assert main(["explain", str(run.dir), str(image), "--target", "dragon", "--quiet"]) == 2
    assert "not a class of this run" in capsys.readouterr().err


def test_eval_writes_metrics_json_once_with_the_eval_keys(shapes_run, tmp_path, monkeypatch):
    from vislearn.run import Run
    from vislearn.tasks.segment import outputs as segment_outputs

    root, run = shapes_run
    written, write_json = [], segment_outputs.write_json
    monkeypatch.setattr(segment_outputs, "write_json", lambda path, obj, **kw: written.append(path.name) or write_json(path, obj, **kw))
    m = segment_outputs.evaluate(Run.load(run.dir), root / "data", tmp_path / "eval", progress=False)
    assert written == ["metrics.json"]
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["out"] == str(tmp_path / "eval") and saved["num_images"] == m["num_images"] == 24 and "skipped" in saved
