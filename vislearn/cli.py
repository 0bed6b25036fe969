"""The ``vislearn`` command line: a thin layer over :mod:`vislearn.api`.

Logs and progress go to stderr; ``--json`` prints one JSON object on stdout for scripts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .engine.ray_jobs import CHUNK_SIZE
from .serve.server import add_arguments as serve_arguments
from .watch.command import add_arguments as watch_arguments

EXAMPLES = """examples:
  vislearn data sample digits data/digits
  vislearn train classify --data data/digits --model tiny_cnn --weights none --epochs 15 --out runs/digits
  vislearn eval runs/digits --data data/other_digits
  vislearn predict runs/digits data/digits/3 --out preds.csv --max-error 0.01 --prediction-sets 0.95
  vislearn explain runs/digits data/digits/3/digit_00003.png
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", choices=_tasks(), help="what to learn")
    p.add_argument("--data", required=True, help="class folders (optionally train/val/test/) or a CSV of path,label")
    p.add_argument("--out", help="run folder (default runs/<task>-<time>)")
    p.add_argument("--model", default="tf_efficientnet_lite0", help="tiny_cnn, tiny_cnn_small or any timm name (see `vislearn models`)")
    p.add_argument("--weights", default="auto", help="auto (packaged, else hub), hub, none, or a local .safetensors/.pth file")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, help="default: the optimizer's own (adamw 0.05, sgd 5e-4)")
    p.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd"], help="adamw (default) or sgd (Nesterov momentum 0.9)")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "onecycle"],
                   help="learning rate per step: cosine (warm-up, then down to 1 %%; default) or onecycle (up from lr/25 over "
                        "the warm-up, then down to ~0)")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--memory-format", default="auto", choices=["auto", "channels_last", "contiguous"],
                   help="layout of weights and batches; auto: channels_last for conv models on CUDA, contiguous on CPU "
                        "(channels_last: 1.2-1.3x faster steps for small conv nets on CPU, measured)")
    p.add_argument("--patience", type=int, default=5, help="stop after this many epochs without a better validation score")
    p.add_argument("--image-size", type=int, help="square input size (default: from the data, within the model's)")
    p.add_argument("--augment", default="light", help="none, light (no flips), flip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--precision", default="auto", help="auto (bf16/fp16 on GPU, fp32 on CPU), fp32, bf16, fp16")
    p.add_argument("--workers", type=int, default=-1, help="loader processes (-1: cores - 1)")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out from its last finished epoch")
    _distributed_args(p.add_argument_group("many processes", "train in N processes (torchrun, DistributedDataParallel); "
                                           "see docs/distributed.md for torchrun itself and several machines"))
    _add_flag_groups(p, _task_flag_groups())  # each task declares its own train flags (tasks/base.py TrainFlag)
    _common(p)


def _distributed_args(group) -> None:
    group.add_argument("--nproc", type=int, default=1, help="processes on this machine (one per GPU; on CPU each takes its share "
                                                            "of the cores); launches torchrun --standalone itself")
    group.add_argument("--accumulate", type=int, default=1, help="batches whose gradients make one optimizer step (default 1)")
    group.add_argument("--global-batch", type=int, help="images per optimizer step over all processes: --accumulate becomes "
                                                        "this / (--batch-size x processes), which must divide it")
    group.add_argument("--sync-bn", action="store_true", help="BatchNorm statistics over every process's batch (CUDA only)")


def _add_flag_groups(p: argparse.ArgumentParser, groups: list) -> None:
    """Each task's flags under its own heading of ``--help``; two tasks declaring one flag is an argparse error."""
    for flags in groups:
        group = p.add_argument_group(flags.title, flags.description)
        for f in flags.flags:
            group.add_argument(f.flag, dest=f.dest, **f.argparse)


def _engine_args(p: argparse.ArgumentParser, ray_does: str) -> None:
    group = p.add_argument_group("engine", f"where the work runs; ray: {ray_does} (needs pip install 'vislearn[ray]')")
    group.add_argument("--engine", default="local", choices=["local", "ray"], help="local (this process, default) or ray")
    group.add_argument("--address", help="Ray cluster to join, e.g. auto (started with `ray start`) or HOST:PORT "
                                         "(default: a local cluster on this machine's cores)")
    group.add_argument("--actors", type=int, help="Ray actors, each holding one copy of the model (default: one per CPU)")
    group.add_argument("--shard-size", type=int, default=CHUNK_SIZE, help=f"images per output shard (default {CHUNK_SIZE}); "
                       "a re-run skips finished shards, so a killed job loses at most the shards in progress")


def _tasks() -> list[str]:
    from .tasks import TASKS

    return TASKS.names()


def _task_flag_groups() -> list:
    from .tasks import TASKS

    return [TASKS.get(name).train_flags for name in TASKS if TASKS.get(name).train_flags is not None]


def _verb_flag_groups(verb: str) -> list:
    """The flags every task adds to ``vislearn VERB`` (tasks/base.py Flag): the run's task reads its own."""
    from .tasks import TASKS
    from .tasks.base import verb_flags

    return [group for name in TASKS if (group := verb_flags(TASKS.get(name), verb)) is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vislearn", description="Learn visual patterns from images: train, evaluate, predict, explain.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vislearn {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("train", help="train a model; writes checkpoints, metrics, explanations and report.html",
                         description="Train, calibrate on validation, evaluate on test, explain, and write an HTML report.")
    _train_args(p)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("eval", help="evaluate a trained run on another labelled folder or CSV",
                         description="Accuracy, macro-F1, per-class precision/recall, AUROC, ECE; confusion matrix and reliability PNGs.")
    p.add_argument("run", help="run folder written by `vislearn train`")
    p.add_argument("--data", required=True, help="class folders (its test/ split if present) or a CSV of path,label")
    p.add_argument("--out", help="output folder (default RUN/eval-<data name>)")
    _add_flag_groups(p, _verb_flag_groups("eval"))
    _common(p)
    p.set_defaults(func=cmd_eval)

    p = verbs.add_parser("predict", help="calibrated predictions for images or folders, as CSV",
                         description="Calibrated class probabilities; images below --refer-below are marked refer_to_human.")
    p.add_argument("run")
    p.add_argument("images", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("--out", help="CSV to write (default: print the CSV on stdout)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out-dir", help="defects runs: folder for the per-image mask and overlay PNGs; "
                                     "detect runs: folder for predictions.json, labels/*.txt, drawn/*.png and annotated videos; "
                                     "--engine ray: folder for the Parquet shards and predictions.csv")
    _engine_args(p, "classify and defects runs: images (folders, files or list files of paths) in resumable Parquet shards")
    _add_flag_groups(p, _verb_flag_groups("predict"))
    _common(p)
    p.set_defaults(func=cmd_predict)

    p = verbs.add_parser("explain", help="heatmaps of what drove a prediction, filters and feature maps",
                         description="Grad-CAM and Integrated Gradients overlays, first-layer filters, early/middle/deep feature maps.")
    p.add_argument("run")
    p.add_argument("image")
    p.add_argument("--method", help="gradcam or integrated_gradients (default: both)")
    p.add_argument("--target", help="class to explain (default: the predicted one)")
    p.add_argument("--out", help="output folder (default RUN/explain/<image name>)")
    _add_flag_groups(p, _verb_flag_groups("explain"))
    _common(p)
    p.set_defaults(func=cmd_explain)

    p = verbs.add_parser("export", help="the run as an ONNX graph + preprocessing sidecar, refused unless its decisions match",
                         description="Export a run and check it: held-out images through PyTorch and through the export.")
    p.add_argument("run")
    p.add_argument("--format", default="onnx", help="onnx (checked in ONNX Runtime) or openvino (+ OpenVINO IR, checked in OpenVINO)")
    p.add_argument("--out", help="graph file (default RUN/export/model.onnx); the sidecar .json and parity.json go beside it")
    p.add_argument("--dynamic-batch", action="store_true", help="a batch dimension of any size (default: one image)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: torch's)")
    p.add_argument("--images", nargs="+", help="check parity on these files/folders instead of the run's held-out images")
    p.add_argument("--check-only", action="store_true", help="check the export already at --out without writing it again")
    _common(p)
    p.set_defaults(func=cmd_export)

    p = verbs.add_parser("report", help="(re)write RUN/report.html", description="Write the self-contained HTML report of a run folder.")
    p.add_argument("run")
    _common(p)
    p.set_defaults(func=cmd_report)

    p = verbs.add_parser("data", help="sample datasets", description="Write sample datasets as ordinary ImageFolder trees.")
    data_verbs = p.add_subparsers(dest="data_verb", required=True, metavar="ACTION")
    s = data_verbs.add_parser("sample", help="write a sample dataset: digits, fashion-mnist, defects, segment, detect, collection, tracks",
                              description="digits: scikit-learn's 1,797 handwritten digits. fashion-mnist: the IDX files "
                                          "from --source (default /usr/share/datasets/fashion-mnist; Debian: apt-get install dataset-fashion-mnist).")
    s.add_argument("name")
    s.add_argument("dir")
    s.add_argument("--source", help="folder with the IDX files (fashion-mnist)")
    s.add_argument("--limit", type=int, help="at most this many images per split")
    _common(s)
    s.set_defaults(func=cmd_sample)
    c = data_verbs.add_parser("convert", help="convert detection data between COCO JSON and YOLO txt",
                              description="Read SRC (COCO or YOLO, splits kept), copy its images and write the boxes to the new folder DST.")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--to", required=True, choices=["coco", "yolo"])
    _common(c)
    c.set_defaults(func=cmd_convert)

    p = verbs.add_parser("organize", help="group, name and de-duplicate a photo collection without labels; search index; gallery",
                         description="Embed every image (incrementally), group them (number of groups chosen automatically), name the "
                                     "groups, find duplicates, build a search index, and write groups.csv/json, duplicates.csv, skipped.csv "
                                     "and report.html into --out. The photos are never written, moved or deleted.")
    p.add_argument("dir", help="folder of photos (searched recursively)")
    p.add_argument("--out", required=True, help="index folder (re-running updates it: only new or changed photos are embedded)")
    p.add_argument("--embedder", default="lite0", help="lite0 (offline ImageNet), self-supervised (learnt on the photos), openclip:ARCH (image+text)")
    p.add_argument("--weights", help="local weights file for the embedder (openclip needs one offline)")
    p.add_argument("--image-size", type=int, default=224, help="pixels the embedder sees (default 224)")
    p.add_argument("--groups", type=int, help="number of groups (default: chosen automatically)")
    p.add_argument("--names", help="comma-separated words to name groups with, e.g. beach,food,friends")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--copy-into", help="copy each group's photos into DIR/<group name>/ (never overwrites)")
    out.add_argument("--link-into", help="symlink each group's photos into DIR/<group name>/")
    p.add_argument("--workers", type=int, default=-1, help="decoding processes (-1: cores - 1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--backend", default="auto", help="auto (fastest here), torch, onnx")
    p.add_argument("--people", action="store_true", help="also find faces and group them by person into people.csv (needs the [people] extra)")
    p.add_argument("--ssl-epochs", type=int, default=15, help="epochs of the self-supervised embedder's training on the photos")
    _engine_args(p, "the embedding step on a Ray cluster (store shards of fixed chunks; re-runs skip finished ones)")
    p.add_argument("--evaluate-labels", action="store_true", help="the photos' folder names are true groups: print NMI/ARI against baselines")
    _common(p)
    p.set_defaults(func=cmd_organize)

    p = verbs.add_parser("search", help="photos like an example image, or matching words, in an organize index",
                         description="Top-k photos by cosine similarity to --image; --text uses the image-text model (openclip "
                                     "indexes) or, offline, the ImageNet classes the words stand for.")
    p.add_argument("index", help="folder written by `vislearn organize --out`")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", help="example image")
    query.add_argument("--text", help="words, e.g. \"dog on a beach\"")
    p.add_argument("-k", type=int, default=10, help="how many results")
    _common(p)
    p.set_defaults(func=cmd_search)

    p = verbs.add_parser("review", help="likely label mistakes in a labelled folder or CSV (confident learning), with a contact sheet",
                         description="Rank images whose label looks wrong, each with a suggested label: out-of-fold "
                                     "probabilities (from the run's features, or --method retrain), confident learning; "
                                     "writes review.csv and review.html.")
    p.add_argument("run", help="a trained classify run folder")
    p.add_argument("--data", required=True, help="labelled folder or CSV to review (e.g. the training data)")
    p.add_argument("--out", help="where review.csv and review.html go (default RUN/review-<data name>)")
    p.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default 5)")
    p.add_argument("--method", default="features", help="what makes the out-of-fold probabilities: features (default: a "
                                                         "logistic regression on the run's features, seconds) or retrain (the "
                                                         "run's recipe trained once per fold: FOLDS trainings, finds the "
                                                         "mistakes the run memorised)")
    p.add_argument("--explain", type=int, default=24, help="Grad-CAM for this many of the most likely mistakes (default 24)")
    p.add_argument("--top", type=int, default=0, help="review.csv lists at least this many images: past the flagged ones, "
                                                       "the rest by the same score, column flagged = no (default 0: flagged only)")
    p.add_argument("--rank", choices=("auto", "margin", "pairs"), default="auto",
                   help="the list's order: margin (each probability against its class's usual level), pairs (the probability of "
                        "a mistake under the estimated noise pairs: for labels mixed up in pairs) or auto (default: pairs where "
                        "the estimate says mistakes come in pairs and is large enough to trust; the log says which and why)")
    _common(p)
    p.set_defaults(func=cmd_review)

    p = verbs.add_parser("suggest", help="which unlabelled images to label next (uncertain and diverse; unlike-training apart)",
                         description="Rank pool images to label next: the model's least sure predictions spread over the "
                                     "collection, plus the images unlike the training ones; writes suggest.csv and suggest.html.")
    p.add_argument("run", help="a trained classify run folder")
    p.add_argument("--pool", required=True, help="folder of unlabelled images (searched recursively)")
    p.add_argument("-k", type=int, default=100, help="how many images to suggest (default 100)")
    p.add_argument("--out", help="where suggest.csv and suggest.html go (default RUN/suggest-<pool name>)")
    _common(p)
    p.set_defaults(func=cmd_suggest)

    p = verbs.add_parser("serve", help="serve trained runs over HTTP: JSON API, web page, metrics (127.0.0.1 by default)",
                         description="Predict on any trained run over HTTP with dynamic batching; see docs/serve.md.")
    serve_arguments(p)
    _common(p)
    p.set_defaults(func=cmd_serve)

    p = verbs.add_parser("watch", help="a trained run on live video (file, http/rtsp stream, webcam): tracks, counts, events; never falls behind",
                         description="Analyse a video source as it plays: detection with tracking and line/zone counting, or per-frame "
                                     "classify/defects/segment; see docs/watch.md.")
    watch_arguments(p)
    _common(p)
    p.set_defaults(func=cmd_watch)

    from .tasks.defects.cli import add_arguments as defects_arguments

    defects_arguments(verbs.add_parser("defects", help="a defects run after training: add-good (false alarms marked good)",
                                       description="Change a trained defects run without a retrain."), _common, cmd_defects)

    p = verbs.add_parser("models", help="list model names", description="vislearn's own backbones and every timm architecture.")
    p.add_argument("pattern", nargs="?", default="")
    _common(p)
    p.set_defaults(func=cmd_models)
    return parser


def _log(args):
    return (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))


def cmd_train(args) -> dict:
    from .api import train
    from .tasks import TASKS

    given = vars(args)
    from .engine.recipe import weight_decay_for

    options = {k: given[k] for k in ("model", "weights", "epochs", "batch_size", "lr", "warmup_epochs", "patience",
                                     "image_size", "augment", "seed", "device", "precision", "workers", "val_fraction", "test_fraction",
                                     "accumulate", "global_batch", "sync_bn", "optimizer", "schedule")}
    options["weight_decay"] = weight_decay_for(args.optimizer, args.weight_decay)
    options["channels_last"] = {"auto": None, "channels_last": True, "contiguous": False}[args.memory_format]
    extra = {}
    for flags in _task_flag_groups():  # as before tasks declared them: config fields always, extra options when given
        for f in flags.flags:
            if f.config_field:
                options[f.dest] = given[f.dest]
            elif given[f.dest] is not None:
                extra[f.dest] = given[f.dest]
    if extra:
        options["extra"] = extra
    run = train(args.task, data=args.data, out=args.out, resume=args.resume, log=_log(args), progress=not args.quiet, **options)
    if run is None:  # a process of a torchrun launch other than rank 0: it trained, rank 0 reports
        return None
    metrics = run.metrics or {}
    keys = TASKS.get(args.task).summary_keys
    return {"run": str(run.dir), "report": str(run.report_path), **{k: metrics.get(k) for k in keys}}


def _task_command(args, verb: str):
    """The run's task's command for ``verb``: each task prints and returns its own results."""
    from .errors import VislearnError
    from .run import Run
    from .tasks import TASKS

    task = Run.load(args.run).config.task
    command = TASKS.get(task).commands.get(verb)
    if command is None:
        raise VislearnError(f"`vislearn {verb}` does not apply to {task} runs")
    return command


def cmd_eval(args) -> dict:
    return _task_command(args, "eval")(args, _log(args))


def cmd_predict(args) -> dict:
    if args.engine == "ray":
        from .tasks.predict_ray import cli_predict

        return cli_predict(args, _log(args))
    return _task_command(args, "predict")(args, _log(args))


def cmd_explain(args) -> dict:
    return _task_command(args, "explain")(args, _log(args))


def cmd_export(args) -> dict:
    from .export import cli_export

    return cli_export(args, _log(args))


def cmd_report(args) -> dict:
    from .report import write_report

    path = write_report(args.run)
    _log(args)(f"report: {Path(path).resolve()}")
    return {"report": str(path)}


def cmd_sample(args) -> dict:
    from .data.samples import SAMPLES, write_sample

    out = write_sample(args.name, args.dir, quiet=args.quiet, source=args.source, limit=args.limit)
    what = (SAMPLES.get(args.name).__doc__ or "").strip().splitlines()[0]
    _log(args)(f"wrote sample dataset {args.name!r} to {out}/: {what}")
    return {"dir": str(out)}


def cmd_organize(args) -> dict:
    from .tasks.organize.index import OrganizeOptions, organize

    names = tuple(w.strip() for w in (args.names or "").split(",") if w.strip())
    options = OrganizeOptions(embedder=args.embedder, weights=args.weights, image_size=args.image_size, groups=args.groups, names=names,
                              copy_into=args.copy_into, link_into=args.link_into, workers=args.workers, batch_size=args.batch_size,
                              backend=args.backend, evaluate_labels=args.evaluate_labels,
                              ssl_epochs=args.ssl_epochs, people=args.people, engine=args.engine, address=args.address,
                              actors=args.actors, shard_size=args.shard_size)
    r = organize(args.dir, args.out, options, log=_log(args), progress=not (args.quiet or args.json))
    _log(args)(f"{r.n_images} images in {r.n_groups} groups (+{r.n_other} other), {r.n_duplicate_groups} duplicate groups, "
               f"{r.n_skipped} files skipped; names by {r.named_by}\nreport: {Path(r.report).resolve()}")
    return {"index": str(r.index_dir), "report": str(r.report), "images": r.n_images, "groups": r.n_groups, "other": r.n_other,
            "duplicate_groups": r.n_duplicate_groups, "skipped": r.n_skipped, "embedded": r.update.embedded, "reused": r.update.reused,
            "named_by": r.named_by, "quality": [q._asdict() for q in r.quality], "stage_seconds": r.stage_seconds}


def cmd_search(args) -> dict:
    from .tasks.organize.search import search_by_image, search_by_text

    how = "image"
    if args.image:
        hits = search_by_image(args.index, args.image, args.k)
    else:
        hits, how = search_by_text(args.index, args.text, args.k)
    if not args.json:
        print(f"# {len(hits)} results by {how}")
        print("\n".join(f"{h.score:.4f}\t{h.path}" for h in hits))
    return {"by": how, "hits": [h._asdict() for h in hits]}


def cmd_convert(args) -> dict:
    from .data.convert import convert

    result = convert(args.src, args.dst, args.to)
    log = _log(args)
    for warning in result["warnings"]:
        log(f"warning: {warning}")
    for problem in result["skipped"]:
        log(f"skipped {problem['path']}: {problem['reason']}")
    log(f"wrote {result['boxes']} boxes on {sum(result['images'].values())} images as {args.to} to {result['dst']}/")
    return result


def _classify_run(folder: str, verb: str):
    """The classify run in ``folder``; a clear error for a run of another task."""
    from .errors import VislearnError
    from .run import Run

    run = Run.load(folder)
    if run.config.task != "classify":
        raise VislearnError(f"{folder}: {verb} works on classify runs (this is a {run.config.task} run)")
    return run


def cmd_review(args) -> dict:
    from .tasks.classify.review import review

    run = _classify_run(args.run, "review")
    out = Path(args.out) if args.out else run.dir / f"review-{Path(args.data).name}"
    result = review(run, args.data, out, args.folds, args.explain, progress=not args.quiet, log=_log(args), top=args.top,
                    method=args.method, rank=args.rank)
    _log(args)(f"wrote {result['csv']} and {result['report']}")
    return result


def cmd_suggest(args) -> dict:
    from .tasks.classify.suggest import suggest

    run = _classify_run(args.run, "suggest")
    out = Path(args.out) if args.out else run.dir / f"suggest-{Path(args.pool).name}"
    result = suggest(run, args.pool, out, args.k, progress=not args.quiet, log=_log(args))
    _log(args)(f"wrote {result['csv']} and {result['report']}")
    return result


def cmd_serve(args) -> dict:
    from .serve.server import command

    return command(args, _log(args))


def cmd_watch(args) -> dict:
    from .watch.command import command

    return command(args, _log(args))


def cmd_defects(args) -> dict:
    from .tasks.defects.cli import command

    return command(args, _log(args))


def cmd_models(args) -> dict:
    from .models import list_models

    names = list_models(args.pattern)
    if not args.json:
        print("\n".join(names))
    return {"models": names}


def main(argv: list[str] | None = None) -> int:
    from .errors import VislearnError

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "nproc", 1) > 1 and "WORLD_SIZE" not in os.environ:
            return _launch_processes(args, argv)
        result = args.func(args)
    except VislearnError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; for training, run the same command with --resume to continue from the last finished epoch", file=sys.stderr)
        return 130
    if args.json and result is not None:
        print(json.dumps(result, default=str))
    return 0


def _launch_processes(args, argv: list[str]) -> int:
    """``vislearn train ... --nproc N``: the same command, less --nproc, in N processes under torchrun."""
    from .engine import distributed
    from .errors import DistributedSetupError
    from .tasks import TASKS
    from .tasks.base import trains_in_processes

    if not trains_in_processes(TASKS.get(args.task)):
        raise DistributedSetupError(f"--nproc: {args.task} trains in one process only (several processes train classify); "
                                    f"leave --nproc out")
    return distributed.launch(_without_nproc(argv), args.nproc, _log(args))


def _without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less ``--nproc N`` / ``--nproc=N``."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


if __name__ == "__main__":
    sys.exit(main())
