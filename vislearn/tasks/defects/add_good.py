"""``vislearn defects add-good RUN IMAGES``: false alarms a user marks as good join the run's model of "good" without
a retrain, and the threshold is set again on the same held-out good images.

What is recomputed (each timed, logged and written to ``add_good.json``):

- the new images are scored with the run as it was: unreadable files are reported by path and skipped, and an image
  that looks like a real, local defect (:func:`looks_like_a_defect`) is warned about ("is it really good?") and left
  out unless ``keep_defect_like``;
- the method's memory (:meth:`PatchCore.add_good`): each bank gets the new patch features it does not cover yet; the
  pixel Gaussian gets the new images as a look of its own (:class:`~vislearn.anomaly.pixel_gaussian.PixelGaussian`:
  a pixel is scored against its closest look; a handful of images joins the newest look instead); the whole-image
  Gaussian (:func:`~vislearn.anomaly.gaussian.merge_gaussian`) is joined with the new images', each image weighing
  the same as a fitted one;
- the student (``random-distill``, ``patchcore+distill``; ``student="keep"`` skips this): a short fine-tune with the
  engine's fit loop (:func:`teach_student`: the new images mixed with the run's own good training images when they
  are still on disk, else the new ones alone, said in the log; STUDENT_EPOCHS at STUDENT_LR_SHARE of the training's
  learning rate, early-stopped on the run's held-out tuning images, seeded), then the units its map changes (the
  student's spread, the pair's peaks) fitted again on the same tuning images as the fit sets them;
- the held-out good images the run kept apart (``threshold.json``: ``tune_images``, ``calibration_images``) are scored
  again against the new memory: the tuning ones set the z units, the calibration ones the conformal threshold at the
  run's ``--max-false-alarm``, as at training; the unlike-training rule is re-fitted on the same scores. None of
  the added images is held out to calibrate: on the sample's grass (default method, whose pixel map keeps seeing the
  new look) holding every 5th out raised the threshold and hole recall fell from 0.83 to 0.25 (0.00 with all
  held-out ones calibrating), where all in the memory kept it at 0.83;
- the test images of the run's data, when they are still there, are evaluated again (metrics.json, report).

The run is copied to a new folder (default ``RUN-good``, ``RUN-good2``, ...); ``in_place`` keeps the replaced
files in ``RUN/before-add-good-N/``.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from ...anomaly.distill import StudentLessons
from ...anomaly.features import Description
from ...anomaly.gaussian import merge_gaussian
from ...anomaly.tiling import TiledLoader
from ...data import Sample, eval_transform, make_loader
from ...engine import read_json, save_tensors, write_json
from ...errors import VislearnError
from ...predictions import DefectPrediction
from .detector import DETECTOR, _loader, load_detector, options, predict_paths
from .train import _batches, _raw
from .unlike import fit_unlike_training

# an added image "looks like a defect" when it is flagged locally, above DEFECT_LIKE_FACTOR x the threshold, on less
# than DEFECT_LIKE_AREA of its pixels: a good image in a new look is raised all over (or by its whole-image score),
# a real defect in one place
DEFECT_LIKE_FACTOR, DEFECT_LIKE_AREA = 2.0, 0.25
# the student's fine-tune on added images: a few epochs at a low learning rate, as many as the run's student would
# spend on the same number of images at most, early stopping after STUDENT_PATIENCE epochs without a better
# held-out error
STUDENT_EPOCHS, STUDENT_PATIENCE, STUDENT_LR_SHARE = 5, 2, 0.3
STUDENT_CHOICES = ("fine-tune", "keep")
REPLACED = ("detector.safetensors", "threshold.json", "metrics.json", "predictions_test.csv", "add_good.json", "report.html")


def looks_like_a_defect(prediction: DefectPrediction, threshold: float) -> bool:
    """True for a flagged image whose flag is local, strong and small (see DEFECT_LIKE_FACTOR)."""
    if not prediction.is_defect or prediction.kind != "local" or prediction.score < DEFECT_LIKE_FACTOR * threshold:
        return False
    return float(prediction.defect_mask_hw.mean()) < DEFECT_LIKE_AREA


def output_dir(run_dir: Path, out: str | Path | None, in_place: bool) -> Path:
    """Where the updated run goes: ``out`` (new or empty), the next free ``RUN-good[N]``, or RUN itself with its
    replaced files kept in ``RUN/before-add-good-N/``."""
    if in_place:
        for n in range(1, 10_000):
            backup = run_dir / f"before-add-good-{n}"
            if not backup.exists():
                break
        backup.mkdir()
        for name in REPLACED:
            if (run_dir / name).exists():
                shutil.copy2(run_dir / name, backup / name)
        return run_dir
    if out is None:
        out = next(p for n in range(1, 10_000) if not (p := run_dir.with_name(f"{run_dir.name}-good{'' if n == 1 else n}")).exists())
    out = Path(out)
    if out.resolve() == run_dir.resolve() or (out.exists() and any(out.iterdir())):
        raise VislearnError(f"{out} exists and is not empty: give a new --out folder (or --in-place to update {run_dir}, "
                            "keeping its replaced files)")
    shutil.copytree(run_dir, out, dirs_exist_ok=True)
    return out


def _held_out(saved: dict, run_dir: Path) -> tuple[list[str], list[str]]:
    tune, calibrate = saved.get("tune_images"), saved.get("calibration_images")
    if not tune or not calibrate:
        raise VislearnError(f"{run_dir}/threshold.json lists no held-out good images (a run saved before they were kept): "
                            "train it again with `vislearn train defects`")
    missing = [p for p in {*tune, *calibrate} if not Path(p).is_file()]
    if missing:
        raise VislearnError(f"{len(missing)} held-out good images of {run_dir} are gone (e.g. {missing[0]}): the threshold is "
                            "set again on them; put them back where the run was trained")
    return tune, calibrate


def _screen(detector, paths: list[str], pre, batch_size: int, keep_defect_like: bool, log) -> tuple[list[str], list[dict], list[dict]]:
    """(paths to add, skipped rows, scored rows) after scoring ``paths`` with the run as it is."""
    problems: list = []
    threshold, kept, rows = detector.calibration.threshold, [], []
    for p in predict_paths(detector, paths, pre, batch_size, problems):
        defect_like = looks_like_a_defect(p, threshold)
        rows.append({"path": p.path, "score_before": p.score, "kind": p.kind, "flagged_before": bool(p.is_defect),
                     "defect_like": defect_like, "added": not defect_like or keep_defect_like})
        if defect_like:
            log(f"warning: {p.path} scores {p.score:.2f} (threshold {threshold:.2f}), a strong local defect on "
                f"{float(p.defect_mask_hw.mean()):.0%} of the image: is it really good? "
                + ("added anyway (--keep-defect-like)" if keep_defect_like else "left out (--keep-defect-like adds it)"))
        if rows[-1]["added"]:
            kept.append(p.path)
    log(f"scored {len(rows)} images with the run as it was: {sum(r['flagged_before'] for r in rows)} flagged "
        f"(threshold {threshold:.2f}), {sum(r['defect_like'] for r in rows)} look like a real defect")
    skipped = [{"path": q.path, "reason": q.reason} for q in problems]
    for row in skipped:
        log(f"skipped {row['path']}: {row['reason']}")
    return kept, skipped, rows


def _extend(detector, paths: list[str], pre, batch_size: int, fitted_images: int) -> list[str]:
    """The method's memory, then the whole-image Gaussian: pooled features described against the new memory, each
    image leaving out its own patches (as the fit's are)."""
    loader = _loader(paths, pre, batch_size)
    lines = detector.method.add_good(_batches(TiledLoader(loader, detector.tile) if detector.tile else loader), fitted_images)
    pooled = Description(*map(torch.cat, zip(*(detector.describe(images, ids + fitted_images)
                                                 for images, ids in _batches(loader))))).pooled_bd
    detector.mean_d, detector.precision_dd = merge_gaussian(detector.mean_d, detector.precision_dd, fitted_images, pooled)
    return lines + [f"whole-image Gaussian: {fitted_images} fitted + {len(pooled)} new images, each weighing the same"]


def _own_good_images(config, saved: dict, held_out: set[str]) -> tuple[list[str], str]:
    """(the run's good images the student was fitted on, plus any added before, those still on disk; why none)."""
    from ...data.mvtec import read_defect_data

    try:
        fitted = [p for p in read_defect_data(config.data).train_good if p not in held_out]
    except (VislearnError, OSError) as err:
        fitted, why = [], f"the run's training images are not there ({err})"
    else:
        why = "" if fitted else f"{config.data} holds no training image besides the held-out ones"
    return [p for p in fitted + saved.get("added_good", []) if Path(p).is_file()], why


def teach_student(detector, config, pre, new: list[str], saved: dict, tune: list[str], calibrate: list[str],
                  log: Callable[[str], None]) -> list[str]:
    """The student fine-tuned on ``new`` mixed with the run's own good images (:meth:`teach_student` of the method),
    early-stopped on ``tune``; returns the log lines."""
    own, why = _own_good_images(config, saved, {*tune, *calibrate})
    lines = [f"student taught {len(new)} new good images mixed with {len(own)} of the run's own" if own else
             f"student taught the {len(new)} new good images alone: {why}"]
    log(lines[0])
    known = set(own)
    paths = own + [p for p in new if p not in known]
    train_loader = make_loader([Sample(p, i) for i, p in enumerate(paths)], eval_transform(pre), config.batch_size, True, 0, config.seed)
    val_loader = _loader(tune, pre, config.batch_size)
    if detector.tile:
        train_loader, val_loader = TiledLoader(train_loader, detector.tile), TiledLoader(val_loader, detector.tile)
    tuned = config.replace(epochs=min(STUDENT_EPOCHS, config.epochs), patience=STUDENT_PATIENCE, lr=config.lr * STUDENT_LR_SHARE)
    return lines + detector.method.teach_student(StudentLessons(train_loader, val_loader, tuned, log))


def add_good(run_dir: str | Path, images: list[str], out: str | Path | None = None, in_place: bool = False,
             keep_defect_like: bool = False, evaluate: bool = True, batch_size: int = 32, student: str = "fine-tune",
             log: Callable[[str], None] = print) -> dict:
    """Adds good ``images`` to a defects run (see the module's docstring); returns what ``add_good.json`` holds."""
    from ...report import write_report  # the report package is heavy (matplotlib): imported when it is used

    if student not in STUDENT_CHOICES:
        raise VislearnError(f"student={student!r}: choose one of {', '.join(STUDENT_CHOICES)}")
    run_dir, seconds = Path(run_dir), {}
    started = clock = time.perf_counter()
    detector, pre, config = load_detector(run_dir)
    saved = read_json(run_dir / "threshold.json")
    tune, calibrate = _held_out(saved, run_dir)
    before = detector.calibration.threshold
    kept, skipped, rows = _screen(detector, [str(p) for p in images], pre, batch_size, keep_defect_like, log)
    if not kept:
        raise VislearnError("no image to add: " + ("all were unreadable or looked like defects" if rows or skipped else "none given"))
    seconds["score the new images"], clock = time.perf_counter() - clock, time.perf_counter()
    fitted_images = saved.get("good_images_in_model") or read_json(run_dir / "data_summary.json")["train_good"]
    recomputed = _extend(detector, kept, pre, batch_size, fitted_images)
    for line in recomputed:
        log(line)
    seconds["memory and Gaussians"], clock = time.perf_counter() - clock, time.perf_counter()
    student_done = "no student (the method has none)"
    if hasattr(detector.method, "teach_student"):
        student_done = "left as trained (--student keep); it learns the new images at the next `vislearn train defects`"
        if student == "fine-tune":
            taught = teach_student(detector, config, pre, kept, saved, tune, calibrate, log)
            for line in taught[1:]:
                log(line)
            recomputed += taught
            seconds["student fine-tune and map units"] = time.perf_counter() - clock
            student_done = f"{'; '.join(taught[:2])} ({seconds['student fine-tune and map units']:.0f} s)"
        else:
            log("student " + student_done)
    clock = time.perf_counter()
    calibration_raw = _raw(detector, _loader(calibrate, pre, batch_size))
    calibration = detector.calibrate(_raw(detector, _loader(tune, pre, batch_size)), calibration_raw, options(config)["max_false_alarm"])
    unlike = fit_unlike_training(calibration.global_.z(calibration_raw[1]), config.unlike_rate)
    log(f"threshold {before:.2f} -> {calibration.threshold:.2f}: {len(tune)} tuning and {len(calibrate)} calibration held-out good "
        f"images re-scored against the new memory; " + calibration.conformal.describe())
    seconds["re-score held-out good images"], clock = time.perf_counter() - clock, time.perf_counter()
    after = {p.path: p for p in predict_paths(detector, kept, pre, batch_size)}
    for row in rows:
        if row["path"] in after:
            row["score_after"], row["flagged_after"] = after[row["path"]].score, bool(after[row["path"]].is_defect)
    target = output_dir(run_dir, out, in_place)
    save_tensors(target / DETECTOR, detector.tensors(), detector.metadata())
    record = {"added": len(kept), "images": rows, "skipped": skipped, "threshold_before": before,
              "threshold_after": calibration.threshold, "recomputed": recomputed, "good_images_in_model": fitted_images + len(kept),
              "student": student_done, "from_run": str(run_dir)}
    write_json(target / "threshold.json", {**saved, **detector.metadata(), "unlike_training": unlike._asdict(),
                                           "good_images_in_model": fitted_images + len(kept),
                                           "calibration_scores": detector.calibrated(*calibration_raw).score_b.tolist(),
                                           "added_good": saved.get("added_good", []) + kept})
    record["metrics"] = _evaluate(detector, config, pre, target, batch_size, unlike, log) if evaluate else None
    if record["metrics"] is None:
        log(f"{target}/metrics.json and the report's figures are still the run's from before add-good "
            f"({'--no-eval' if not evaluate else 'its test images were not evaluated again'})")
    seconds["write the run, evaluate the test images"] = time.perf_counter() - clock
    record["seconds"] = {**seconds, "total": time.perf_counter() - started}
    log("took " + ", ".join(f"{k} {v:.1f} s" for k, v in record["seconds"].items()))
    write_json(target / "add_good.json", record)
    log(f"report, with what was added: {write_report(target).resolve()}")
    return {**record, "run": str(target)}


def _evaluate(detector, config, pre, target: Path, batch_size: int, unlike, log) -> dict | None:
    """metrics.json again on the run's test images, when its data folder still holds them."""
    from ...data.mvtec import read_defect_data
    from .outputs import evaluate_samples

    try:
        test = read_defect_data(config.data).test
    except (VislearnError, OSError) as err:
        log(f"test images not evaluated again ({err})")
        return None
    if not test:
        return None
    metrics = evaluate_samples(detector, test, pre, target, batch_size, unlike)
    log(f"test image AUROC {metrics['image_auroc']:.4f}  F1 {metrics['f1']:.4f} on {len(test)} test images of {config.data}")
    return {k: metrics[k] for k in ("image_auroc", "f1", "num_good") if k in metrics}
