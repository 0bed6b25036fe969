"""What a segment run writes: whole-image masks (palette PNG), overlays, per-image rows, metrics and the worst images."""
from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from ...data.layouts import Problem
from ...data.mask_dataset import image_tensor, read_sample_mask
from ...data.mask_transforms import to_model_input
from ...data.masks import IGNORE_INDEX, MaskSample, class_colours, read_mask_data, save_mask_png
from ...engine import pick_device, pick_precision, write_json
from ...engine.sliding_window import TILE_OVERLAP, sliding_window_logits
from ...errors import DataLayoutError, ImageReadError
from ...explain.overlay import save_png
from ...metrics.segmentation import SegmentationScores, mean_iou
from ..common import prediction_rows
from .model import load_segmentation_model

WORST_DIR = "worst"


class MaskPrediction(NamedTuple):
    path: str
    image_hw3: np.ndarray  # (H, W, 3) uint8 as read
    mask_hw: np.ndarray  # (H, W) uint8 predicted class per pixel, at the image's own size
    class_fractions: dict[str, float]  # share of the image's pixels given to each class


def tile_overlap(config) -> float:
    """The run's sliding-window overlap (runs saved without one get the default)."""
    return float(config.extra.get("tile_overlap", TILE_OVERLAP))


def predict_masks(model, paths: list[str], class_names: list[str], pre, overlap: float = TILE_OVERLAP, device: str = "auto",
                  precision: str = "auto", problems: list[Problem] | None = None) -> Iterator[MaskPrediction]:
    """One MaskPrediction per readable image (tiled when larger than the training tile); unreadable ones go to ``problems``."""
    dev = pick_device(device)
    run_precision = pick_precision(dev, precision)
    model.to(dev).eval()
    pad_value = (0 - torch.tensor(pre.mean)) / torch.tensor(pre.std)  # a black pixel, as training pads
    normalise = to_model_input(pre)
    for path in paths:
        try:
            image = image_tensor(path)
        except ImageReadError as err:
            if problems is not None:
                problems.append(Problem(err.path, err.reason))
            continue
        logits = sliding_window_logits(model, normalise(image), pre.image_size, overlap, pad_value,
                                       precision=run_precision)
        mask = logits.argmax(dim=0).to(torch.uint8).cpu().numpy()
        counts = np.bincount(mask.ravel(), minlength=len(class_names))
        fractions = {name: float(c) / mask.size for name, c in zip(class_names, counts)}
        yield MaskPrediction(path, image.permute(1, 2, 0).numpy(), mask, fractions)


def colour_overlay(image_hw3: np.ndarray, mask_hw: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: the photo with every non-background class painted in its palette colour (255 = white)."""
    colours = class_colours()[mask_hw].astype(np.float32)
    painted = mask_hw != 0
    out = image_hw3.astype(np.float32)
    out[painted] = (1 - alpha) * out[painted] + alpha * colours[painted]
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def write_pictures(p: MaskPrediction, out_dir: Path, stem: str) -> dict:
    """<stem>_mask.png (palette PNG, value = class index, the image's size) and <stem>_overlay.png."""
    return {"mask": str(save_mask_png(p.mask_hw, out_dir / f"{stem}_mask.png")),
            "overlay": str(save_png(colour_overlay(p.image_hw3, p.mask_hw), out_dir / f"{stem}_overlay.png"))}


def _write_rows(path: Path | None, rows: list[dict]) -> None:
    fields = list(rows[0]) if rows else ["path"]
    with (open(path, "w", newline="") if path else _stdout()) as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _row(p: MaskPrediction) -> dict:
    h, w = p.mask_hw.shape
    return {"path": p.path, "width": w, "height": h, **{f"fraction_{k}": round(v, 5) for k, v in p.class_fractions.items()}}


def evaluate_samples(model, samples: list[MaskSample], class_names: list[str], pre, config, out_dir: Path, split: str = "test",
                     progress: bool = True, worst: int = 6) -> dict:
    """Score whole images against their masks; write predictions_<split>.csv and pictures of the worst images.

    Returns the metrics; the caller adds its own keys and writes metrics.json once.
    """
    overlap = tile_overlap(config)
    scores, rows, worst_k, problems = SegmentationScores(len(class_names)), [], [], []
    by_path = {s.path: s for s in samples}
    started = time.perf_counter()
    predictions = predict_masks(model, [s.path for s in samples], class_names, pre, overlap, config.device, config.precision, problems)
    for p in tqdm(predictions, total=len(samples), desc=f"score {split}", disable=not progress, leave=False, unit="img"):
        truth = torch.from_numpy(read_sample_mask(by_path[p.path]))
        pred = torch.from_numpy(p.mask_hw)
        scores.update(pred[None], truth[None])
        image_miou = mean_iou(pred, truth, len(class_names))
        scored = truth != IGNORE_INDEX
        accuracy = float((pred[scored] == truth[scored]).float().mean()) if scored.any() else float("nan")
        rows.append({**_row(p), "miou": round(image_miou, 5), "pixel_accuracy": round(accuracy, 5)})
        _keep_worst(worst_k, _Scored(image_miou, p, truth.numpy()), worst)
    seconds = time.perf_counter() - started
    if not rows:
        raise DataLayoutError(f"no readable images in the {split} split")
    metrics = {"split": split, **scores.compute(class_names), "num_images": len(rows),
               "ms_per_image": 1000 * seconds / len(rows), "tile_size": pre.image_size, "tile_overlap": overlap,
               "unreadable": [vars(p) for p in problems]}
    metrics["worst_images"] = _write_worst(worst_k, out_dir / WORST_DIR)
    _write_rows(out_dir / f"predictions_{split}.csv", rows)
    return metrics


class _Scored(NamedTuple):
    miou: float
    prediction: MaskPrediction
    truth_hw: np.ndarray  # (H, W) uint8 true class per pixel, 255 = not scored


def _keep_worst(worst_k: list[_Scored], scored: _Scored, k: int) -> None:
    """Keep in ``worst_k`` the ``k`` lowest-IoU images so far (ties by path), so the report panels need no second prediction."""
    if math.isnan(scored.miou) or k <= 0:
        return
    worst_k.append(scored)
    worst_k.sort(key=lambda s: (s.miou, s.prediction.path))
    del worst_k[k:]


def _write_worst(worst_k: list[_Scored], out_dir: Path) -> list[dict]:
    """One PNG per image: photo | truth overlay | prediction overlay."""
    found = []
    for image_miou, p, truth in worst_k:
        panel = np.concatenate([p.image_hw3, colour_overlay(p.image_hw3, truth), colour_overlay(p.image_hw3, p.mask_hw)], axis=1)
        picture = save_png(panel, out_dir / f"{len(found):02d}_{Path(p.path).stem}.png")
        found.append({"path": p.path, "miou": image_miou, "picture": str(picture)})
    return found


def _eval_data(run, source: Path):
    """Every image of ``source`` (its test/ split when it has one), in the run's classes."""
    data = read_mask_data(source, run.config.seed, 0.0, 0.0)
    generic = all(n == f"class_{i}" for i, n in enumerate(data.class_names))
    if data.class_names != run.class_names and not (generic and len(data.class_names) <= len(run.class_names)):
        raise DataLayoutError(f"{source}: classes {data.class_names} differ from the run's {run.class_names}")
    if data.splits.get("test"):
        return data, data.splits["test"]
    return data, [s for split in data.splits.values() for s in split]


def evaluate(run, data_source, out_dir: Path, refer_below: float = 0.8, progress: bool = True) -> dict:
    """Metrics of a segment run on another image/mask folder or COCO file; files go to ``out_dir``."""

    data, samples = _eval_data(run, Path(data_source))
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_samples(load_segmentation_model(run), samples, run.class_names, run.preprocessing, run.config, out_dir, "test", progress)
    metrics.update(out=str(out_dir), skipped=[vars(p) for p in data.skipped])
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def predict(run, images: list[Path], out_dir: Path | None = None, overlap: float | None = None,
            problems: list[Problem] | None = None) -> list[dict]:
    """Rows of path, size and class pixel fractions; mask and overlay PNGs in ``out_dir`` when given."""

    overlap = tile_overlap(run.config) if overlap is None else overlap
    predictions = predict_masks(load_segmentation_model(run), [str(x) for x in images], run.class_names,
                                run.preprocessing, overlap, run.config.device, run.config.precision, problems)
    return prediction_rows(predictions, _row, write_pictures, out_dir)


def finish(run_dir: Path, result: dict, log) -> None:
    """Log the figures of the scored split and write the report."""
    from ...report import write_report

    m = result.get("metrics") or {}
    if m:
        log(f"{m['split']} mean IoU {m['miou']:.4f}  Dice {m['mean_dice']:.4f}  pixel accuracy {m['pixel_accuracy']:.4f}  "
            f"on {m['num_images']} images ({m['ms_per_image']:.0f} ms/image)")
        log("per-class IoU: " + ", ".join(f"{r['name']} {r['iou']:.3f}" for r in m["per_class_iou"] if r["iou"] is not None))
    log(f"report: {write_report(run_dir).resolve()}")


def cli_predict(args, log) -> dict:
    """``vislearn predict RUN IMAGES [--out CSV] [--out-dir PNGS] [--tile-overlap F]`` for a segment run."""
    from ...data.images import expand_images
    from ...run import Run

    problems: list[Problem] = []
    out_dir = Path(args.out_dir) if args.out_dir else None
    rows = predict(Run.load(args.run), expand_images(args.images), out_dir, args.tile_overlap, problems)
    if out_dir is not None:
        _write_rows(out_dir / "fractions.csv", rows)
    if args.out or not args.json:
        _write_rows(Path(args.out) if args.out else None, rows)
    for problem in problems:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)
    log(f"{len(rows)} segmented, {len(problems)} unreadable" + (f"; masks, overlays and fractions.csv in {out_dir}" if out_dir else ""))
    return {"predictions": rows, "skipped": [vars(p) for p in problems], "out": args.out}


def cli_eval(args, log) -> dict:
    from ...run import Run

    run = Run.load(args.run)
    out_dir = Path(args.out) if args.out else run.dir / f"eval-{Path(args.data).stem}"
    m = evaluate(run, args.data, out_dir, progress=not args.quiet)
    log(f"mean IoU {m['miou']:.4f}  Dice {m['mean_dice']:.4f}  pixel accuracy {m['pixel_accuracy']:.4f}  on {m['num_images']} images; "
        f"wrote {out_dir}/metrics.json, predictions_test.csv, {WORST_DIR}/")
    return {k: m.get(k) for k in ("out", "num_images", "miou", "mean_dice", "pixel_accuracy", "per_class_iou")}


def _stdout():
    import contextlib

    return contextlib.nullcontext(sys.stdout)


__all__ = ["MaskPrediction", "predict_masks", "colour_overlay", "evaluate_samples", "evaluate", "predict", "finish",
           "cli_predict", "cli_eval"]
