"""Detection end to end on a tiny generated set: train -> metrics -> report -> predict (images, video) -> explain -> eval."""
import json
import shutil

import av
import numpy as np
import pytest
import torch
from PIL import Image

from vislearn.cli import main
from vislearn.data.box_transforms import box_eval_transform
from vislearn.data.samples.detect import write_detect_sample
from vislearn.run import Run
from vislearn.tasks import TASKS
from vislearn.tasks.detect.explain import explain_boxes
from vislearn.tasks.detect.kinds import kind_of
from vislearn.tasks.detect.model import load_detector

TRAIN = ["--weights", "none", "--epochs", "1", "--image-size", "64", "--workers", "0", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("det") / "data"
    write_detect_sample(root, limit=8, size=64)
    (root / "images" / "train" / "0007.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # a download that went wrong
    return root


@pytest.fixture(scope="module")
def run_dir(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "det"
    assert main(["train", "detect", "--data", str(sample), "--model", "tiny_det", "--out", str(out), *TRAIN]) == 0
    return out


def test_train_writes_weights_coco_metrics_predictions_and_a_report_section(run_dir):
    for name in ["model.safetensors", "config.json", "history.json", "metrics.json", "data_summary.json", "predictions_test.json",
                 "report.html", "plots/pr_curves.png", "explain/detections.json"]:
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["num_images"] == 4 and 0.0 <= metrics["map50"] <= 1.0
    assert [r["name"] for r in metrics["per_class_ap"]] == ["cup", "cat", "rocket"]
    assert len(metrics["pr_curves"]["recall"]) == 101 and len(metrics["examples"]) == 4
    history = json.loads((run_dir / "history.json").read_text())
    assert "val_map50" in history[0] and "train_map50" not in history[0]  # mAP only where the pass made detections
    skipped = json.loads((run_dir / "data_summary.json").read_text())["skipped"]
    assert [s["path"].endswith("0007.png") for s in skipped] == [True]  # the broken image is reported, the run went on
    html = (run_dir / "report.html").read_text()
    assert "Average precision per class" in html and "Precision-recall curves per class" in html and "Worst images" in html


def test_predict_writes_coco_json_yolo_txt_and_drawn_images_and_never_overwrites(run_dir, sample, tmp_path, capsys):
    images = sorted((sample / "images" / "test").glob("*.png"))[:2]
    out = tmp_path / "pred"
    args = ["predict", str(run_dir), *map(str, images), "--out-dir", str(out), "--conf", "0.0", "--iou", "0.5", "--json", "--quiet"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    coco = json.loads((out / "predictions.json").read_text())
    assert result["images"] == 2 and [i["file_name"] for i in coco["images"]] == [str(p) for p in images]
    assert len(coco["annotations"]) == result["boxes"] > 0 and {"bbox", "score", "category_id"} <= set(coco["annotations"][0])
    lines = (out / "labels" / f"{images[0].stem}.txt").read_text().splitlines()
    assert len(lines[0].split()) == 6  # class cx cy w h score
    assert Image.open(out / "drawn" / f"{images[0].stem}.png").size == (64, 64)
    assert main(args) == 2  # outputs exist: refuse rather than overwrite


def test_a_new_run_records_letterbox_and_giou_and_an_old_run_predicts_as_it_always_did(run_dir, sample, tmp_path):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preprocessing"]["resize_mode"] == "letterbox" and config["extra"]["box_loss"] == "giou"
    old = tmp_path / "old-run"  # a run written before both: no resize_mode, no box_loss
    shutil.copytree(run_dir, old)
    del config["preprocessing"]["resize_mode"], config["extra"]["box_loss"], config["extra"]["resize_mode"]
    (old / "config.json").write_text(json.dumps(config))
    assert Run.load(old).preprocessing.resize_mode == "stretch"
    picture = Image.open(sorted((sample / "images" / "test").glob("*.png"))[0]).convert("RGB").crop((0, 0, 64, 40))
    path = tmp_path / "wide.png"
    picture.save(path)
    [new_boxes], [old_boxes] = (TASKS.get("detect").predict(Run.load(r), [path], progress=False, conf=0.0)[0] for r in (run_dir, old))
    model, pre = load_detector(Run.load(old))
    inputs = box_eval_transform(pre)(picture, np.zeros((0, 4), np.float32))[0]  # stretched to 64 x 64, no padding
    with torch.no_grad():
        found = kind_of(model).detect(model, inputs[None], 0.0, 0.5)[0]
    assert len(old_boxes.boxes_xyxy) == len(found.boxes_xyxy) > 0 and len(new_boxes.boxes_xyxy) > 0
    assert old_boxes.boxes_xyxy == pytest.approx(found.boxes_xyxy.numpy() * np.float32([1, 40 / 64, 1, 40 / 64]), abs=1e-3)
    assert new_boxes.boxes_xyxy[:, [1, 3]].max() <= 40  # in the file's pixels, not the padded input's


def _write_video(path, frames=4, size=64):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for i in range(frames):
            picture = np.full((size, size, 3), 40 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_predict_on_a_video_writes_an_annotated_video_and_one_json_row_per_frame(run_dir, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    _write_video(video)
    out = tmp_path / "vid"
    assert main(["predict", str(run_dir), str(video), "--out-dir", str(out), "--conf", "0.0", "--json", "--quiet"]) == 0
    frames = json.loads((out / "clip_frames.json").read_text())["frames"]
    assert [f["frame"] for f in frames] == [0, 1, 2, 3] and all("detections" in f for f in frames)
    with av.open(str(out / "clip_boxes.mp4")) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 4 and decoded[0].shape == (64, 64, 3)


def test_gradcam_per_box_is_a_heatmap_in_unit_range_and_leaves_no_hooks(run_dir, sample):
    model, pre = load_detector(Run.load(run_dir))
    image = Image.open(sorted((sample / "images" / "test").glob("*.png"))[0]).convert("RGB")
    explained = explain_boxes(model, image, pre, conf=0.0, top=2)
    assert len(explained) == 2
    for box in explained:
        assert box.heatmap_hw.shape == (64, 64) and box.heatmap_hw.min() >= 0 and box.heatmap_hw.max() == pytest.approx(1.0)
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_explain_and_eval_commands_dispatch_to_the_detect_task(run_dir, sample, tmp_path, capsys):
    image = sorted((sample / "images" / "test").glob("*.png"))[0]
    assert main(["explain", str(run_dir), str(image), "--out", str(tmp_path / "ex"), "--json", "--quiet"]) == 0
    assert "boxes" in json.loads(capsys.readouterr().out)
    assert main(["eval", str(run_dir), "--data", str(sample), "--out", str(tmp_path / "ev"), "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_images"] == 4 and (tmp_path / "ev" / "pr_curves.png").is_file() and (tmp_path / "ev" / "metrics.json").is_file()


def test_a_torchvision_detector_trains_through_the_engine_and_predicts(sample, tmp_path, capsys):
    out = tmp_path / "tv"
    args = ["train", "detect", "--data", str(sample), "--model", "fasterrcnn_mobilenet_v3_large_fpn", "--out", str(out), *TRAIN]
    assert main(args) == 0
    history = json.loads((out / "history.json").read_text())
    assert np.isfinite(history[0]["train_loss"]) and np.isnan(history[0]["val_loss"])  # torchvision gives no loss in eval mode
    image = sorted((sample / "images" / "test").glob("*.png"))[0]
    assert main(["predict", str(out), str(image), "--out-dir", str(tmp_path / "p"), "--conf", "0.0", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1
    torch.set_grad_enabled(True)
