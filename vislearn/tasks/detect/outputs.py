"""What a detection run writes: metrics (pycocotools), predictions as COCO JSON / YOLO txt, pictures with boxes."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...data.box_dataset import make_box_loader
from ...data.box_transforms import box_eval_transform, boxes_to_file_pixels
from ...data.boxes import BoxRecord
from ...data.detection import read_detection
from ...data.images import read_image
from ...engine import pick_device, write_json
from ...errors import DataLayoutError
from ...metrics.detection import ImageBoxes, detection_report
from .files import detections_json, draw_boxes, refuse_existing, unique_stems, upscaled, write_json_new, yolo_text
from .kinds import EVAL_CONF, kind_of
from .model import load_detector, options

EXAMPLES, WORST = 6, 6  # pictures of test images in the report: the first few, and those with the most errors


@torch.no_grad()
def detect_records(model, records: list[BoxRecord], pre, conf: float, iou: float, batch_size: int = 16, device: str = "auto",
                   progress: bool = False, desc: str = "detect", skipped: list | None = None) -> Iterator[tuple[int, ImageBoxes, tuple[int, int]]]:
    """(record index, detections in the file's own pixels, (width, height)) per readable image; unreadable ones go to ``skipped``."""
    device = pick_device(device)
    model.eval().to(device)
    kind = kind_of(model)
    loader = make_box_loader(records, box_eval_transform(pre), batch_size, False, 0)
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False, unit="batch"):
        if skipped is not None:
            skipped.extend(batch.failed)
        if len(batch) == 0:
            continue
        for index, target, found in zip(batch.indices.tolist(), batch.labels, kind.detect(model, batch.images.to(device), conf, iou)):
            width, height = target["image_wh"].tolist()
            boxes_xyxy = boxes_to_file_pixels(found.boxes_xyxy.float().cpu().numpy(), pre, width, height)
            yield index, ImageBoxes(boxes_xyxy, found.class_ids.cpu().numpy(), found.scores.float().cpu().numpy()), (width, height)


def _confident(item: ImageBoxes, conf: float) -> ImageBoxes:
    keep = item.scores >= conf
    return ImageBoxes(item.boxes_xyxy[keep], item.class_ids[keep], item.scores[keep])


def _truth(record: BoxRecord) -> ImageBoxes:
    return ImageBoxes(record.boxes_xyxy, record.class_ids)


def _pictures(rows: list[dict], records, found: dict, class_names, conf: float, out_dir: Path, kind: str) -> list[dict]:
    pictures = []
    for row in rows:
        record = records[row["record"]]
        picture = draw_boxes(read_image(record.path), _confident(found[row["record"]], conf), class_names, _truth(record))
        path = out_dir / "detections" / kind / f"{len(pictures):02d}_{Path(record.path).stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        upscaled(picture).save(path)
        pictures.append({"path": record.path, "picture": str(path), "missed": row["missed"], "false_positives": row["false_positives"]})
    return pictures


def evaluate_records(model, records: list[BoxRecord], class_names: list[str], pre, config, out_dir: Path, split: str = "test",
                     progress: bool = True) -> dict:
    """pycocotools metrics on ``records``; writes metrics.json, predictions_<split>.json and pictures of examples and worst images."""
    opts = options(config)
    started, found = time.perf_counter(), {}
    scored = detect_records(model, records, pre, EVAL_CONF, opts["iou"], config.batch_size, config.device, progress, f"evaluate {split}")
    for index, item, _ in scored:
        found[index] = item
    seconds = time.perf_counter() - started
    if not found:
        raise DataLayoutError(f"no readable images in the {split} split")
    order = sorted(found)
    metrics = {"split": split, **detection_report([_truth(records[i]) for i in order], [found[i] for i in order], class_names, opts["conf"]),
               "ms_per_image": 1000 * seconds / len(order)}
    per_image = [{**row, "record": order[row["index"]]} for row in metrics.pop("per_image")]
    worst = sorted((r for r in per_image if r["missed"] + r["false_positives"]), key=lambda r: -(r["missed"] + r["false_positives"]))[:WORST]
    metrics["examples"] = _pictures(per_image[:EXAMPLES], records, found, class_names, opts["conf"], out_dir, "examples")
    metrics["worst_images"] = _pictures(worst, records, found, class_names, opts["conf"], out_dir, "worst")
    metrics["per_class_ap"] = metrics.pop("per_class")
    sizes = [(records[i].width, records[i].height) for i in order]
    write_json(out_dir / f"predictions_{split}.json",
               detections_json(class_names, [records[i].path for i in order], sizes, [_confident(found[i], opts["conf"]) for i in order]))
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def evaluate(run, data_source, out_dir: Path, refer_below: float = 0.8, progress: bool = True) -> dict:
    """A detect run on another COCO/YOLO dataset: its test split if it has one, else every image; class names must match."""
    data = read_detection(data_source, run.config.seed, 0.0, 0.0, options(run.config)["layout"])
    records = data.splits.get("test") or [r for split in data.splits.values() for r in split]
    unknown = [n for n in data.class_names if n not in run.class_names]
    if unknown:
        raise DataLayoutError(f"{data_source}: classes {', '.join(unknown)} were not in training ({', '.join(run.class_names)})")
    index = np.asarray([run.class_names.index(n) for n in data.class_names], np.int64)
    records = [r._replace(class_ids=index[r.class_ids]) if len(r.class_ids) else r for r in records]
    model, pre = load_detector(run)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_records(model, records, run.class_names, pre, run.config, out_dir, "test", progress)
    return {**metrics, "out": str(out_dir), "warnings": data.warnings, "skipped": [vars(p) for p in data.skipped]}


def predict_images(run, paths: list[Path], out_dir: Path, conf: float, iou: float, batch_size: int = 16, progress: bool = True) -> dict:
    """Detections for image files: out_dir/predictions.json (COCO), labels/<stem>.txt (YOLO + score), drawn/<stem>.png."""
    model, pre = load_detector(run)
    stems = unique_stems([str(p) for p in paths])
    refuse_existing([out_dir / "predictions.json"] + [out_dir / d / f"{s}{e}" for s in stems for d, e in (("labels", ".txt"), ("drawn", ".png"))])
    records = [BoxRecord(str(p), 0, 0, np.zeros((0, 4), np.float32), np.zeros(0, np.int64)) for p in paths]
    done, found, sizes, skipped = [], [], [], []
    for index, item, (width, height) in detect_records(model, records, pre, conf, iou, batch_size, run.config.device, progress,
                                                       "predict", skipped):
        (out_dir / "labels").mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / f"{stems[index]}.txt").write_text(yolo_text(item, width, height), encoding="utf-8")
        picture = draw_boxes(read_image(paths[index]), item, run.class_names)
        (out_dir / "drawn").mkdir(parents=True, exist_ok=True)
        picture.save(out_dir / "drawn" / f"{stems[index]}.png")
        done.append(str(paths[index])), found.append(item), sizes.append((width, height))
    coco = detections_json(run.class_names, done, sizes, found)
    write_json_new(out_dir / "predictions.json", coco)
    return {"out_dir": str(out_dir), "images": len(done), "boxes": len(coco["annotations"]),
            "skipped": [vars(p) for p in skipped], "predictions": coco["annotations"]}


def finish(run_dir: Path, result: dict, log) -> None:
    """Log the test figures, explain a few detections, write the report."""
    from ...report import write_report
    from .explain import explain_examples

    m = result.get("metrics") or {}
    if m:
        log(f"{m['split']} mAP@[.5:.95] {m['map'] or 0:.4f}  mAP@.5 {m['map50'] or 0:.4f}  mAP@.75 {m['map75'] or 0:.4f}  "
            f"on {m['num_images']} images ({m['ms_per_image']:.0f} ms/image)")
    try:
        explain_examples(run_dir, result["model"], result["preprocessing"], result["data"].class_names, m.get("examples", []))
    except (RuntimeError, ValueError, TypeError) as exc:  # an explanation must not cost the report
        log(f"warning: detection heatmaps could not be drawn ({exc})")
    log(f"report: {write_report(run_dir).resolve()}")
