"""What a defects run writes: metrics with a per-defect table, prediction rows (with the verdict: good, defect or
unlike training images), mask and overlay PNGs, heat figures of the worst misses, false alarms and training outliers."""
from __future__ import annotations

import csv
import time
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from ...data import Sample, eval_transform, make_loader, read_image
from ...data.images import image_size
from ...data.mvtec import DefectSample, read_mask, read_test_folder
from ...engine import read_json, write_json
from ...errors import DataLayoutError
from ...explain.overlay import heatmap_overlay, save_png
from ...metrics.defects import PixelTruth, defect_metrics, false_alarm_check, false_alarm_line, per_defect_rows, pixel_text
from ...report.defects import FIGURES, HeatExample, heat_examples_figure, heat_scale
from ..common import prediction_rows
from ...predictions import DefectPrediction
from .detector import load_detector, predict_paths
from .unlike import UNLIKE_TRAINING, UnlikeTraining, read_unlike_training, referral_fields, referred_by_type

ROW_FIELDS = ["path", "defect_type", "score", "is_defect", "kind", "local_z", "global_z", "verdict", "refer_to_human", "refer_reason"]
CSV_FIELDS = [k for k in ROW_FIELDS + ["mask", "overlay"] if k != "defect_type"]  # `vislearn predict`'s columns
WORST = 6  # misses, false alarms and training outliers shown each


def _mask_at(sample: DefectSample, size: int) -> np.ndarray | None:
    if sample.mask_path is None:
        return np.zeros((size, size), bool) if not sample.is_defect else None
    mask = read_mask(sample.mask_path, image_size(sample.path), sample.path)
    return np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST))


def write_pictures(prediction: DefectPrediction, out_dir: Path, stem: str, threshold: float) -> dict:
    """<stem>_mask.png (defect mask at the image's own size) and <stem>_overlay.png (heatmap over the photo,
    0 to twice the threshold: the report's colour scale)."""
    photo = np.asarray(read_image(prediction.path))
    heat = np.clip(prediction.heatmap_hw / heat_scale(threshold), 0, 1)
    mask = Image.fromarray(prediction.defect_mask_hw.astype(np.uint8) * 255).resize(photo.shape[1::-1], Image.NEAREST)
    return {"mask": str(save_png(np.asarray(mask), out_dir / f"{stem}_mask.png")),
            "overlay": str(save_png(heatmap_overlay(photo, heat), out_dir / f"{stem}_overlay.png"))}


def _write_csv(file, rows: list[dict], fields: list[str]) -> None:
    writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


def _row(p: DefectPrediction, unlike: UnlikeTraining | None, defect_type: str = "") -> dict:
    return {"path": p.path, "defect_type": defect_type, "score": round(p.score, 4), "is_defect": int(p.is_defect),
            "kind": p.kind, "local_z": round(p.local_z, 4), "global_z": round(p.global_z, 4),
            **referral_fields(p.is_defect, p.global_z, unlike)}


def _pixel_truth(heats: dict, masks: dict, by_path: dict) -> PixelTruth | None:
    if not heats:
        return None
    return PixelTruth([by_path[path].defect_type for path in heats], np.stack(list(heats.values())).astype(np.float32),
                      np.stack([masks[path] for path in heats]))


def evaluate_samples(detector, samples: list[DefectSample], pre, out_dir: Path, batch_size: int = 32,
                     unlike: UnlikeTraining | None = None) -> dict:
    """Score ``samples`` (streamed); write metrics.json, predictions_test.csv and figures of the worst misses and
    false alarms. Pixel metrics use the images with masks and the good ones."""
    if not any(not s.is_defect for s in samples):
        raise DataLayoutError(f"{Path(samples[0].path).parent.parent if samples else out_dir}: no good test images; "
                              "the threshold check and AUROC need good images (add test/good/)")
    by_path = {s.path: s for s in samples}
    size, threshold = pre.image_size, detector.calibration.threshold
    masks = {s.path: _mask_at(s, size) for s in samples}  # read first: a mismatched mask fails before minutes of scoring
    with_pixels = any(m is not None and m.any() for m in masks.values())  # heatmaps are kept only where masks can judge them
    started, predictions, heats = time.perf_counter(), [], {}
    for p in predict_paths(detector, [s.path for s in samples], pre, batch_size):
        predictions.append(p._replace(heatmap_hw=None, defect_mask_hw=None))
        if with_pixels and masks[p.path] is not None:
            heats[p.path] = p.heatmap_hw.astype(np.float16)
    seconds = time.perf_counter() - started
    types = [by_path[p.path].defect_type for p in predictions]
    scores, kinds = np.asarray([p.score for p in predictions]), [p.kind for p in predictions]
    pixels = _pixel_truth(heats, masks, by_path)
    rows = [_row(p, unlike, t) for p, t in zip(predictions, types)]
    metrics = {"split": "test", **defect_metrics(types, scores, threshold, pixels),
               "per_defect": per_defect_rows(types, scores, threshold, kinds, pixels),
               "ms_per_image": 1000 * seconds / max(len(predictions), 1),
               "scoring_backend": detector.scoring_backend(),
               "unlike_training": {**unlike._asdict(), "referred": referred_by_type(types, [r["verdict"] for r in rows])} if unlike else None}
    conformal = detector.calibration.conformal
    metrics["false_alarm_check"] = false_alarm_check(int(((scores > threshold) & (np.asarray(types) == "good")).sum()),
                                                     metrics["num_good"], conformal._asdict() if conformal else None)
    metrics["threshold_rule"] = conformal.describe() if conformal else None
    decided = [(p, t) for p, r, t in zip(predictions, rows, types) if r["verdict"] != UNLIKE_TRAINING]
    missed = sorted([p for p, t in decided if t != "good" and not p.is_defect], key=lambda p: p.score)[:WORST]
    false_alarms = sorted([p for p, t in decided if t == "good" and p.is_defect], key=lambda p: -p.score)[:WORST]
    metrics["worst_misses"] = _worst(detector, missed, pre, out_dir, by_path, masks, unlike, "misses")
    metrics["worst_false_alarms"] = _worst(detector, false_alarms, pre, out_dir, by_path, masks, unlike, "false_alarms")
    write_json(out_dir / "metrics.json", metrics)
    with open(out_dir / "predictions_test.csv", "w", newline="") as f:
        _write_csv(f, rows, ROW_FIELDS)
    return metrics


def _caption(p: DefectPrediction, truth: str) -> str:
    return f"{truth} · score {p.score:.2f} · {'flagged' if p.is_defect else 'passed'}"


def _worst(detector, chosen, pre, out_dir: Path, by_path, masks, unlike, group: str) -> list[dict]:
    """Rows of the chosen test images (rescored for their heatmaps) and their figure, FIGURES[group]."""
    rows, examples = [], []
    for p in predict_paths(detector, [c.path for c in chosen], pre):
        truth = by_path[p.path].defect_type
        mask = masks[p.path]
        photo = np.asarray(read_image(p.path))
        full_mask = np.asarray(Image.fromarray(mask).resize(photo.shape[1::-1], Image.NEAREST)) if mask is not None else None
        examples.append(HeatExample(photo, p.heatmap_hw, full_mask, _caption(p, truth)))
        rows.append({**_row(p, unlike, truth), "figure": FIGURES[group]})
    if examples:
        heat_examples_figure(examples, detector.calibration.threshold, out_dir / FIGURES[group])
    return rows


def write_train_outliers(detector, outliers: list[dict], pre, run_dir: Path) -> list[dict]:
    """Heatmaps of the training images flagged "is it really good?", highest score first, each scored leaving its own
    patches out of the memory (row["fit_index"]: its id among the fitted images); figure FIGURES["train_outliers"]."""
    worst = sorted(outliers, key=lambda row: -row["score"])[:WORST]
    examples = []
    loader = make_loader([Sample(row["path"], row.get("fit_index", -1)) for row in worst], eval_transform(pre), WORST, False, 0)
    for batch in loader:
        if len(batch):
            s = detector.score(batch.images, batch.labels)
            for j, index in enumerate(batch.indices.tolist()):
                row = worst[index]
                examples.append(HeatExample(np.asarray(read_image(row["path"])), s.heatmap_bhw[j].numpy(), None,
                                            f"training image · score {row['score']:.2f} ({row['kind']})"))
    if examples:
        heat_examples_figure(examples, detector.calibration.threshold, run_dir / FIGURES["train_outliers"])
    return [{**row, "figure": FIGURES["train_outliers"]} for row in worst]


def evaluate(run, data_source, out_dir: Path, refer_below: float = 0.8, progress: bool = True) -> dict:
    """Metrics of a defects run on an MVTec-style folder (its test/ split) with masks where present."""
    detector, pre, config = load_detector(Path(run.dir))
    samples = read_test_folder(Path(data_source))
    out_dir.mkdir(parents=True, exist_ok=True)
    unlike = read_unlike_training(Path(run.dir))
    return {**evaluate_samples(detector, samples, pre, out_dir, config.batch_size, unlike), "out": str(out_dir)}


def predict(run, images: list[Path], out_dir: Path | None = None, batch_size: int = 32) -> list[dict]:
    """Rows of path, score, is_defect, kind, verdict, refer_reason; mask and overlay PNGs in ``out_dir`` when given."""
    detector, pre, _ = load_detector(Path(run.dir))
    unlike = read_unlike_training(Path(run.dir))
    return prediction_rows(predict_paths(detector, [str(x) for x in images], pre, batch_size), partial(_row, unlike=unlike),
                           partial(write_pictures, threshold=detector.calibration.threshold), out_dir)


def prediction_table(run, predictions: list[DefectPrediction]) -> tuple[list[str], list[list]]:
    """(header, rows) of ``vislearn predict``'s CSV for predictions without pictures (mask and overlay left empty)."""
    unlike = read_unlike_training(Path(run.dir))
    return CSV_FIELDS, [[_row(p, unlike).get(k, "") for k in CSV_FIELDS] for p in predictions]


def finish(run_dir: Path, result: dict, log) -> None:
    """Log the test figures, draw the training images flagged "is it really good?" and write the report."""
    from ...report import write_report

    m = result.get("metrics") or {}
    if m:
        log(f"test image AUROC {m['image_auroc']:.4f}  F1 {m['f1']:.4f}  pixel AUROC {pixel_text(m)}  "
            f"AUPRO {pixel_text(m, 'aupro')}  ({m['ms_per_image']:.0f} ms/image)")
        log(f"scoring: {m.get('scoring_backend', 'PyTorch')}")
        _log_details(m, log)
    outliers = read_json(run_dir / "threshold.json").get("train_outliers") or []
    if outliers and result.get("detector") is not None:
        write_train_outliers(result["detector"], outliers, result["preprocessing"], run_dir)
    log(f"report: {write_report(run_dir).resolve()}")


def _log_details(m: dict, log) -> None:
    """The false alarms against the promise, which defect types the pixel metrics used, and the share of each type
    referred as unlike training."""
    if m.get("false_alarm_check"):
        log(false_alarm_line(m["false_alarm_check"]))
    if m.get("types_with_masks"):
        log(f"pixel metrics over the good images and the types with masks ({', '.join(m['types_with_masks'])})"
            + (f"; without masks: {', '.join(m['types_without_masks'])}" if m.get("types_without_masks") else ""))
    referred = (m.get("unlike_training") or {}).get("referred") or {}
    if referred:
        log(f"referred as {UNLIKE_TRAINING} (share of test images): " + ", ".join(f"{k} {v:.0%}" for k, v in referred.items()))


def cli_predict(args, log) -> dict:
    """``vislearn predict RUN IMAGES --out CSV --out-dir PNGS`` for a defects run."""
    from ...data.images import expand_images
    from ...run import Run

    rows = predict(Run.load(args.run), expand_images(args.images), args.out_dir, args.batch_size)
    if args.out or not args.json:
        with (open(args.out, "w", newline="") if args.out else _stdout()) as f:
            _write_csv(f, rows, CSV_FIELDS)
    said = Counter(r["verdict"] for r in rows)
    log(f"{len(rows)} scored: {said['good']} good, {said['defect']} defective, {said[UNLIKE_TRAINING]} {UNLIKE_TRAINING} "
        f"(referred to a human)" + (f"; masks and overlays in {args.out_dir}" if args.out_dir else ""))
    return {"predictions": rows, "out": args.out}


def cli_eval(args, log) -> dict:
    from ...run import Run

    run = Run.load(args.run)
    out_dir = Path(args.out) if args.out else run.dir / f"eval-{Path(args.data).name}"
    m = evaluate(run, args.data, out_dir)
    log(f"image AUROC {m['image_auroc']:.4f}  F1 {m['f1']:.4f}  pixel AUROC {pixel_text(m)}  "
        f"AUPRO {pixel_text(m, 'aupro')}  on {m['num_images']} images; wrote {out_dir}/metrics.json")
    _log_details(m, log)
    return {k: m.get(k) for k in ("out", "num_images", "image_auroc", "f1", "pixel_auroc", "aupro", "types_with_masks",
                                  "per_defect", "unlike_training")}


def _stdout():
    import contextlib
    import sys

    return contextlib.nullcontext(sys.stdout)
