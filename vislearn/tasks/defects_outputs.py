"""What a defects run writes: metrics with a per-defect table, prediction rows, mask and overlay PNGs."""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ..data import read_image
from ..data.images import image_size
from ..data.mvtec import DefectSample, read_mask, read_test_folder
from ..engine import write_json
from ..errors import DataLayoutError
from ..explain.overlay import heatmap_overlay, save_png
from ..metrics.defects import defect_metrics, per_defect_rows
from .common import prediction_rows
from .defects import DefectPrediction, load_detector, predict_paths

ROW_FIELDS = ["path", "defect_type", "score", "is_defect", "kind", "local_z", "global_z"]
HEAT_TOP_Z = 8.0  # heatmaps are shown from z = 0 (typical good) to this


def _mask_at(sample: DefectSample, size: int) -> np.ndarray | None:
    if sample.mask_path is None:
        return np.zeros((size, size), bool) if not sample.is_defect else None
    mask = read_mask(sample.mask_path, image_size(sample.path), sample.path)
    return np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST))


def write_pictures(prediction: DefectPrediction, out_dir: Path, stem: str) -> dict:
    """<stem>_mask.png (defect mask at the image's own size) and <stem>_overlay.png (heatmap over the photo)."""
    photo = np.asarray(read_image(prediction.path))
    heat = np.clip(prediction.heatmap_hw / HEAT_TOP_Z, 0, 1)
    mask = Image.fromarray(prediction.defect_mask_hw.astype(np.uint8) * 255).resize(photo.shape[1::-1], Image.NEAREST)
    return {"mask": str(save_png(np.asarray(mask), out_dir / f"{stem}_mask.png")),
            "overlay": str(save_png(heatmap_overlay(photo, heat), out_dir / f"{stem}_overlay.png"))}


def _write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ROW_FIELDS + ["mask", "overlay"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _row(p: DefectPrediction, defect_type: str = "") -> dict:
    return {"path": p.path, "defect_type": defect_type, "score": round(p.score, 4), "is_defect": int(p.is_defect),
            "kind": p.kind, "local_z": round(p.local_z, 4), "global_z": round(p.global_z, 4)}


def evaluate_samples(detector, samples: list[DefectSample], pre, out_dir: Path, batch_size: int = 32, worst: int = 6) -> dict:
    """Score ``samples`` (streamed), write metrics.json, predictions_test.csv and pictures of the worst misses."""
    if not any(not s.is_defect for s in samples):
        raise DataLayoutError(f"{Path(samples[0].path).parent.parent if samples else out_dir}: no good test images; "
                              "the threshold check and AUROC need good images (add test/good/)")
    by_path = {s.path: s for s in samples}
    size, threshold = pre.image_size, detector.calibration.threshold
    masks = [_mask_at(s, size) for s in samples]  # read first: a mismatched mask fails before minutes of scoring
    has_masks = all(m is not None for m in masks) and any(m.any() for m in masks)
    started, predictions, heats = time.perf_counter(), [], []
    for p in predict_paths(detector, [s.path for s in samples], pre, batch_size):
        predictions.append(p._replace(heatmap_hw=None, defect_mask_hw=None))
        heats.append(p.heatmap_hw.astype(np.float16) if has_masks else None)
    seconds = time.perf_counter() - started
    types = [by_path[p.path].defect_type for p in predictions]
    scores, kinds = np.asarray([p.score for p in predictions]), [p.kind for p in predictions]
    heat = np.stack(heats).astype(np.float32) if has_masks else None
    mask = np.stack([masks[[s.path for s in samples].index(p.path)] for p in predictions]) if has_masks else None
    metrics = {"split": "test", **defect_metrics(types, scores, threshold, heat, mask),
               "per_defect": per_defect_rows(types, scores, threshold, kinds, heat, mask),
               "ms_per_image": 1000 * seconds / max(len(predictions), 1)}
    misses = sorted([p for p, t in zip(predictions, types) if p.is_defect != (t != "good")],
                    key=lambda p: -abs(p.score - threshold))[:worst]
    rows = [_row(p, t) for p, t in zip(predictions, types)]
    metrics["worst_misses"] = _write_misses(detector, misses, pre, out_dir, by_path)
    write_json(out_dir / "metrics.json", metrics)
    _write_rows(out_dir / "predictions_test.csv", rows)
    return metrics


def _write_misses(detector, misses, pre, out_dir: Path, by_path) -> list[dict]:
    rows = []
    for i, p in enumerate(predict_paths(detector, [m.path for m in misses], pre)):
        rows.append({**_row(p, by_path[p.path].defect_type), **write_pictures(p, out_dir / "misses", f"{i:02d}_{Path(p.path).stem}")})
    return rows


def evaluate(run, data_source, out_dir: Path, refer_below: float = 0.8, progress: bool = True) -> dict:
    """Metrics of a defects run on an MVTec-style folder (its test/ split) with masks where present."""
    detector, pre, config = load_detector(Path(run.dir))
    samples = read_test_folder(Path(data_source))
    out_dir.mkdir(parents=True, exist_ok=True)
    return {**evaluate_samples(detector, samples, pre, out_dir, config.batch_size), "out": str(out_dir)}


def predict(run, images: list[Path], out_dir: Path | None = None, batch_size: int = 32) -> list[dict]:
    """Rows of path, score, is_defect, kind; mask and overlay PNGs in ``out_dir`` when given."""
    detector, pre, _ = load_detector(Path(run.dir))
    return prediction_rows(predict_paths(detector, [str(x) for x in images], pre, batch_size), _row, write_pictures, out_dir)


def finish(run_dir: Path, result: dict, log) -> None:
    """Log the test figures and write the report."""
    from ..report import write_report

    m = result.get("metrics") or {}
    if m:
        log(f"test image AUROC {m['image_auroc']:.4f}  F1 {m['f1']:.4f}  pixel AUROC {m.get('pixel_auroc') or float('nan'):.4f}  "
            f"AUPRO {m.get('aupro') or float('nan'):.4f}  ({m['ms_per_image']:.0f} ms/image)")
    log(f"report: {write_report(run_dir).resolve()}")


def cli_predict(args, log) -> dict:
    """``vislearn predict RUN IMAGES --out CSV --out-dir PNGS`` for a defects run."""
    from ..api import expand_images
    from ..run import Run

    rows = predict(Run.load(args.run), expand_images(args.images), args.out_dir, args.batch_size)
    if args.out or not args.json:
        with (open(args.out, "w", newline="") if args.out else _stdout()) as f:
            writer = csv.DictWriter(f, fieldnames=[k for k in ROW_FIELDS + ["mask", "overlay"] if k != "defect_type"], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    log(f"{len(rows)} scored, {sum(r['is_defect'] for r in rows)} defective" + (f"; masks and overlays in {args.out_dir}" if args.out_dir else ""))
    return {"predictions": rows, "out": args.out}


def cli_eval(args, log) -> dict:
    from ..run import Run

    run = Run.load(args.run)
    out_dir = Path(args.out) if args.out else run.dir / f"eval-{Path(args.data).name}"
    m = evaluate(run, args.data, out_dir)
    log(f"image AUROC {m['image_auroc']:.4f}  F1 {m['f1']:.4f}  pixel AUROC {m.get('pixel_auroc') or float('nan'):.4f}  "
        f"AUPRO {m.get('aupro') or float('nan'):.4f}  on {m['num_images']} images; wrote {out_dir}/metrics.json")
    return {k: m.get(k) for k in ("out", "num_images", "image_auroc", "f1", "pixel_auroc", "aupro", "per_defect")}


def _stdout():
    import contextlib
    import sys

    return contextlib.nullcontext(sys.stdout)
