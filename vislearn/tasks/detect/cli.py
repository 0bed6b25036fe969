"""The command-line faces of detection: ``vislearn eval``, ``predict`` (images and videos) and ``explain`` on a detect run."""
from __future__ import annotations

import time
from pathlib import Path

from ...errors import DataLayoutError
from .model import load_detector, thresholds


def _split_inputs(items) -> tuple[list[Path], list[Path]]:
    """(images, videos) named directly or found inside folders."""
    from ...data.images import expand_images
    from .video import is_video_file

    videos = [Path(i) for i in items if is_video_file(i)]
    for folder in (Path(i) for i in items if Path(i).is_dir()):
        videos += sorted(p for p in folder.rglob("*") if p.is_file() and is_video_file(p))
    others = [i for i in items if not is_video_file(i)]
    images = []
    if others:
        try:
            images = expand_images(others)
        except DataLayoutError:
            if not videos:
                raise
    return images, videos


def cli_predict(args, log) -> dict:
    """``vislearn predict RUN IMAGES|VIDEOS --out-dir DIR --conf 0.25 --iou 0.5``."""
    from ...run import Run
    from .outputs import predict_images
    from .video import predict_video

    run = Run.load(args.run)
    conf, iou = thresholds(run, args.conf, args.iou)
    out_dir = Path(args.out_dir) if args.out_dir else run.dir / f"predict-{time.strftime('%Y%m%d-%H%M%S')}"
    images, videos = _split_inputs(args.images)
    result = {"out_dir": str(out_dir), "conf": conf, "iou": iou}
    if images:
        result.update(predict_images(run, images, out_dir, conf, iou, args.batch_size, progress=not args.quiet))
        log(f"{result['images']} images, {result['boxes']} boxes (score >= {conf}); wrote {out_dir}/predictions.json, labels/*.txt, drawn/*.png")
        for problem in result["skipped"]:
            log(f"skipped {problem['path']}: {problem['reason']}")
    if videos:
        model, pre = load_detector(run)
        result["videos"] = [predict_video(model, v, pre, run.class_names, out_dir, conf, iou) for v in videos]
        for v in result["videos"]:
            log(f"{v['video']}: {v['frames']} frames, {v['boxes']} boxes; wrote {v['annotated']} and {v['frames_json']}")
    return result


def cli_eval(args, log) -> dict:
    from ...report.detection import pr_curves_plot
    from ...run import Run
    from .outputs import evaluate

    run = Run.load(args.run)
    out_dir = Path(args.out) if args.out else run.dir / f"eval-{Path(args.data).name}"
    m = evaluate(run, args.data, out_dir, progress=not args.quiet)
    pr_curves_plot(m["pr_curves"], out_dir / "pr_curves.png")
    log(f"mAP@[.5:.95] {m['map'] or 0:.4f}  mAP@.5 {m['map50'] or 0:.4f}  mAP@.75 {m['map75'] or 0:.4f}  on {m['num_images']} images, "
        f"{m['num_boxes']} boxes; wrote {out_dir}/metrics.json, predictions_test.json, pr_curves.png, detections/")
    return {k: m.get(k) for k in ("out", "num_images", "num_boxes", "map", "map50", "map75", "per_class_ap")}


def cli_explain(args, log) -> dict:
    """``vislearn explain RUN IMAGE [--target CLASS]``: Grad-CAM heatmap per detected box."""
    from ...run import Run
    from ..verbs import explain

    run = Run.load(args.run)
    conf, _ = thresholds(run, None, None)  # `vislearn explain` has no --conf: the run's
    rows = explain(run, args.image, args.out, args.method, args.target)["boxes"]
    log(f"explained {len(rows)} boxes (score >= {conf}); wrote:\n  " + "\n  ".join(r["picture"] for r in rows) if rows
        else f"no box with score >= {conf} to explain in {args.image}")
    return {"boxes": rows}
