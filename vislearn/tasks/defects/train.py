"""Find defects learned from good images only: a method's local map + a whole-image score, calibrated on good images."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import torch

from ...anomaly import Detector
from ...anomaly.features import Description
from ...anomaly.tiling import Resolution, TiledLoader, choose_resolution
from ...config import TrainConfig
from ...data.images import image_size
from ...data.mvtec import read_defect_data
from ...engine import save_tensors, write_json
from .detector import DEFAULTS, DETECTOR, build_method, load_detector, options, predict_paths  # noqa: F401  (callers import them from here)
from .detector import _loader
from .unlike import fit_unlike_training

SUMMARY_KEYS = ("image_auroc", "f1", "pixel_auroc", "aupro")  # what `vislearn train defects --json` prints
# of the held-out good images, every TUNE_EVERY-th tunes (the student's epoch, each map's unit, the z-scores) and the
# others only set the threshold: a threshold taken on images that tuned the model promised 1 % and flagged 7 % of new
# good images (textile set). Calibration gets two thirds: the rate it can promise is 1 / (calibration images + 1)
TUNE_EVERY = 3
# held-out images below which tuning and calibration share them (and the promise is void: logged). The z-scores'
# units come from the tuning images alone: from the 2 of 6 held-out images of a 30-image run, a local hole's whole-image
# z passed the unlike-training floor and the hole was referred away instead of called a defect
MIN_SPLIT = 12


# Training settings measured to work for a method (see the README's table); they replace only values left
# at TrainConfig's generic defaults, so a flag the user gives always wins.
_DISTILL_TRAINING = {"epochs": 20, "patience": 20, "lr": 3e-3, "batch_size": 16}
# the student's epochs are a budget of patch visits: 2000 visits of 128 px images (20 epochs of the 96-image sample
# set); larger sets and larger images (a 256 px image holds 4x the patches of a 128 px one) get fewer epochs (at
# least MIN_STUDENT_EPOCHS), so fit time grows with the data far less than linearly
STUDENT_IMAGE_VISITS, STUDENT_VISIT_SIZE, MIN_STUDENT_EPOCHS = 2000, 128, 4
METHOD_TRAINING = {"random-distill": _DISTILL_TRAINING, "patchcore+distill": _DISTILL_TRAINING}


def with_method_training(config: TrainConfig, n_fit: int | None = None) -> TrainConfig:
    """``config`` with the method's tuned training settings where the user kept the generic default;
    with ``n_fit`` (images to fit, at ``config.image_size``) the tuned epochs shrink to the patch-visit budget."""
    generic = TrainConfig()
    tuned = {k: v for k, v in METHOD_TRAINING.get(options(config)["method"], {}).items() if getattr(config, k) == getattr(generic, k)}
    if "epochs" in tuned and n_fit:
        visits = STUDENT_IMAGE_VISITS * (STUDENT_VISIT_SIZE / (config.image_size or STUDENT_VISIT_SIZE)) ** 2
        tuned["epochs"] = max(MIN_STUDENT_EPOCHS, min(tuned["epochs"], round(visits / n_fit)))
    return config.replace(**tuned)


def _batches(loader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for batch in loader:
        if len(batch):
            yield batch.images, batch.labels


def _raw(detector: Detector, loader):
    """Raw heatmaps (N, H, W) and global distances (N,) over a loader, streamed in batches."""
    heats, globals_ = [], []
    for images, _ in _batches(loader):
        heat, global_ = detector.raw_scores(images)
        heats.append(heat), globals_.append(global_)
    return torch.cat(heats), torch.cat(globals_)


def choose_run_resolution(config: TrainConfig, sizes_wh: list[tuple[int, int]]) -> Resolution:
    """The user's ``--image-size`` if given (tiled above ``max_native_side``), else from the images' own sizes."""
    bound = options(config)["max_native_side"]
    if not config.image_size:
        return choose_resolution(sizes_wh, bound)
    tile = bound if config.image_size > bound else None
    return Resolution(config.image_size, tile, f"{config.image_size} px as set by --image-size"
                      + (f", described in {bound} px tiles" if tile else ""))


def _warn_sizes(sizes_wh: list[tuple[int, int]], size: int, log) -> None:
    sizes = set(sizes_wh)
    if len(sizes) > 1 or any(w != h for w, h in sizes):
        log(f"warning: training images come in {len(sizes)} sizes ({', '.join(f'{w}x{h}' for w, h in sorted(sizes)[:4])}...); "
            f"all are resized to {size}x{size}")


def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Fit on good images, tune on some held-out good ones and set the threshold on the others (a conformal quantile),
    report outliers, evaluate on test/ if present."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    opts = options(config)
    data = read_defect_data(config.data)
    sizes = [image_size(p) for p in data.train_good]
    resolution = choose_run_resolution(config, sizes)
    log(f"resolution: {resolution.reason}")
    opts = {**opts, "tile": resolution.tile}  # saved in config.json: predict describes images the same way
    torch.manual_seed(config.seed)
    method, pre = build_method(config.replace(image_size=resolution.image_size))
    config = config.replace(image_size=pre.image_size, extra=opts)
    _warn_sizes(sizes, pre.image_size, log)
    if not 0 < opts["held_out_fraction"] < 1:
        raise ValueError(f"--held-out-fraction must be between 0 and 1, got {opts['held_out_fraction']}")
    every = max(2, round(1 / opts["held_out_fraction"]))
    held_out = data.train_good[::every]
    fit_paths = [p for p in data.train_good if p not in set(held_out)]
    tune, calibrate = split_held_out(held_out, log)
    config = with_method_training(config, len(fit_paths))
    log(f"data {data.source}: {len(fit_paths)} good images to fit, {len(held_out)} held out ({len(tune)} tune the epoch and "
        f"scales, {len(calibrate)} set the threshold only), {len(data.test)} test images; {opts['method']} at {pre.image_size}px")
    fit_loader, held_loader = _loader(fit_paths, pre, config.batch_size), _loader(tune, pre, config.batch_size)
    # above the bound the method learns from tiles; whole images are then described tile by tile and stitched
    fit_tiles, held_tiles = (TiledLoader(fit_loader, resolution.tile), TiledLoader(held_loader, resolution.tile)) \
        if resolution.tile else (fit_loader, held_loader)
    method.fit(_batches(fit_tiles), log, train_loader=fit_tiles, val_loader=held_tiles, config=config, run_dir=run_dir, progress=progress)
    detector = Detector(method, tile=resolution.tile)
    # one leave-one-out pass over the fitted images: its pooled features fit the whole-image Gaussian, and its
    # patch maps (small, on the feature grid) then give the training images' own scores for the outlier check
    fitted = Description(*map(torch.cat, zip(*(detector.describe(images, ids) for images, ids in _batches(fit_loader)))))
    detector.fit_global(fitted.pooled_bd)
    calibration_raw = _raw(detector, _loader(calibrate, pre, config.batch_size))
    calibration = detector.calibrate(_raw(detector, held_loader), calibration_raw, opts["max_false_alarm"])
    if tune is calibrate:
        calibration.conformal = calibration.conformal._replace(fallback="its images also tuned the model: no promise holds")
    log(calibration.conformal.describe())
    unlike = fit_unlike_training(calibration.global_.z(calibration_raw[1]), config.unlike_rate)
    log(unlike.describe())
    outliers = train_outliers(detector, fit_paths, fitted, (pre.image_size, pre.image_size), config.batch_size)
    for row in outliers:
        log(f"warning: training image {row['path']} scores {row['score']:.2f} > threshold ({row['kind']}): is it really good?")
    save_tensors(run_dir / DETECTOR, detector.tensors(), detector.metadata())
    write_json(run_dir / "config.json", {**config.to_dict(), "class_names": ["good", "defect"], "preprocessing": pre.to_dict()})
    write_json(run_dir / "threshold.json", {**detector.metadata(), "train_outliers": outliers, "unlike_training": unlike._asdict(),
                                            "tune_images": tune, "calibration_images": calibrate,
                                            "calibration_scores": detector.calibrated(*calibration_raw).score_b.tolist()})
    write_json(run_dir / "data_summary.json", {"source": data.source, "train_good": len(fit_paths), "held_out_good": len(held_out),
                                               "test": len(data.test), "train_outliers": outliers, **_counts(fit_paths, tune, calibrate, data.test)})
    metrics = evaluate_samples(detector, data.test, pre, run_dir, config.batch_size, unlike) if data.test else None
    return {"model": None, "detector": detector, "metrics": metrics, "config": config, "preprocessing": pre}


def split_held_out(held_out: list[str], log: Callable[[str], None] = print) -> tuple[list[str], list[str]]:
    """(tune, calibrate): every TUNE_EVERY-th held-out image tunes, the others set the threshold only; below MIN_SPLIT
    images both are all of them (logged: the threshold's promise then does not hold)."""
    if len(held_out) < MIN_SPLIT:
        log(f"warning: only {len(held_out)} held-out good images: they both tune the model and set the threshold, so the "
            "false-alarm rate on new good images can exceed the one asked; add good images")
        return held_out, held_out
    return held_out[::TUNE_EVERY], [p for i, p in enumerate(held_out) if i % TUNE_EVERY]


def _counts(fit_paths: list[str], tune: list[str], calibrate: list[str], test) -> dict:
    """Images per split and defect type, in the report's data-table layout (``counts`` + ``class_names``)."""
    per_type: dict[str, int] = {}
    for sample in test:
        per_type[sample.defect_type] = per_type.get(sample.defect_type, 0) + 1
    names = ["good"] + sorted(set(per_type) - {"good"})
    counts = {"fit": {"good": len(fit_paths)}, "held out (tune)": {"good": len(tune)},
              "held out (threshold)": {"good": len(calibrate)}}
    return {"class_names": names, "counts": {**counts, **({"test": per_type} if per_type else {})},
            "num_images": len(fit_paths) + len(set(tune) | set(calibrate)) + len(test)}


def train_outliers(detector: Detector, paths: list[str], fitted: Description, size_hw: tuple[int, int], chunk: int = 32) -> list[dict]:
    """Training images whose leave-one-out score (each against the others' patches, ``fitted``) passes the threshold;
    heatmaps are upsampled ``chunk`` images at a time, never all at once."""
    rows = []
    for start in range(0, len(paths), chunk):
        part = Description(fitted.local_map_bhw[start:start + chunk], fitted.pooled_bd[start:start + chunk])
        scores = detector.calibrated(*detector.raw_from(part, size_hw))
        for i in torch.nonzero(scores.score_b > detector.calibration.threshold).flatten().tolist():
            kind = "local" if scores.local_z_b[i] >= scores.global_z_b[i] else "global"
            rows.append({"path": paths[start + i], "score": float(scores.score_b[i]), "kind": kind, "fit_index": start + i})
    return rows


from .outputs import evaluate_samples  # noqa: E402
