"""The classify task object: what the API and the CLI call on a classification run (see :class:`~vislearn.tasks.base.Task`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from . import train as classify
from . import cli as classify_cli
from . import run as classify_run
from ..base import TASKS, train_returning_result, Flag, FlagGroup, Log, TrainFlag, TrainResult

# the referral flags `train` keeps in the run and `predict` overrides for one call
REFER_BELOW_HELP = "refer images whose calibrated confidence is below this (default: the run's, 0.8); --max-error replaces it"
MAX_ERROR_HELP = ("guaranteed error rate among the images decided without a human, e.g. 0.01: "
                  "the threshold is chosen on the calibration images (exact binomial bound)")
SETS_HELP = ("e.g. 0.95: each image gets the set of classes that holds the truth "
             "95%% of the time (split conformal, APS); sets of 2+ classes are referred")

REFERRAL_FLAGS = FlagGroup("classify", "options of `train classify`: when to refer an image to a human (kept in the run), "
                           "fine-tuning an earlier run with corrections and a regression gate, and the image cache", (
    TrainFlag("--refer-below", "refer_below", True, {"type": float, "default": 0.8, "help": REFER_BELOW_HELP}),
    TrainFlag("--max-error", "max_error", True, {"type": float, "help": MAX_ERROR_HELP}),
    TrainFlag("--prediction-sets", "prediction_sets", True, {"type": float, "help": SETS_HELP}),
    TrainFlag("--guarantee-level", "guarantee_level", True, {"type": float, "default": 0.95,
                                                             "help": "probability with which --max-error holds (default 0.95)"}),
    TrainFlag("--calibration-share", "calibration_share", True, {"type": float, "default": 0.5, "help": (
        "share of the held-out images that calibrate; the rest pick the epoch (default 0.5)")}),
    TrainFlag("--unlike-rate", "unlike_rate", True, {"type": float, "default": 0.05, "help": (
        "at most this share of images like the training ones are referred as 'unlike training images' (default 0.05)")}),
    TrainFlag("--from", "from_run", False, {"metavar": "RUN", "help": (
        "fine-tune from this earlier classify run's weights, then compare both on the new test images and record the new run "
        "in RUN/promoted.json only if it is not worse (see --gate-margin)")}),
    TrainFlag("--corrections", "corrections", False, {"metavar": "CSV", "help": (
        "labels a person corrected, a CSV path,label (e.g. from `vislearn review`): applied to the data (and, with --from, "
        "to the earlier run's frozen test images); images not in the data are added to training")}),
    TrainFlag("--gate-margin", "gate_margin", False, {"type": float, "help": (
        "with --from: the largest accuracy drop still promoted (default 0.01); a significant McNemar test also refuses")}),
    TrainFlag("--label-smoothing", "label_smoothing", True, {"type": float, "default": 0.0, "help": (
        "share of each training target spread evenly over all the classes, e.g. 0.1 (default 0: none)")}),
    TrainFlag("--image-cache", "image_cache", False, {"choices": ("auto", "memory", "off"), "help": (
        "auto (default): decode the images once and keep them in memory for the epochs when they fit (a quarter of "
        "the memory, at most 4 GB; photos above twice the input size kept at that size), and on disk for the next "
        "run over the same files (keyed by their content; VISLEARN_CACHE_DIR, default ~/.cache/vislearn/decoded); "
        "memory: the same without the copy on disk; off: decode every epoch")}),
    TrainFlag("--tensor-batches", "tensor_batches", False, {"choices": ("auto", "off"), "help": (
        "auto (default): when the image cache holds the images, build and augment each batch in torch from one uint8 "
        "tensor at the input size (no per-image Pillow work, no loader processes); off: per image through Pillow")}),
))
EVAL_FLAGS = FlagGroup("classify runs", "options of `eval` on a classify run", (
    Flag("--refer-below", "refer_below", {"type": float, "help": "confidence below which an image is referred to a human (default: the run's)"}),
))
PREDICT_FLAGS = FlagGroup("classify runs", "options of `predict` on a classify run: referral (default: the run's) and backend", (
    Flag("--refer-below", "refer_below", {"type": float, "help": REFER_BELOW_HELP}),
    Flag("--max-error", "max_error", {"type": float, "help": MAX_ERROR_HELP}),
    Flag("--prediction-sets", "prediction_sets", {"type": float, "help": SETS_HELP}),
    Flag("--backend", "backend", {"default": "auto", "help": "auto (fastest on this machine), torch, onnx"}),
))


def write_explanations_and_report(run, model, log: Log, examples: int = 12) -> None:
    """Explain ``examples`` test predictions (gallery), write ``report.html`` and log the headline figures."""
    from ...explain.gallery import write_gallery
    from ...report import write_report

    split = run.metrics["split"] if run.metrics else "test"
    write_gallery(run.dir, model, run.preprocessing, run.class_names, split, examples)
    write_report(run.dir)
    m = run.metrics or {}
    log(f"{split} accuracy {m.get('accuracy', float('nan')):.4f}  macro-F1 {m.get('macro_f1', float('nan')):.4f}  "
        f"AUROC {m.get('auroc', float('nan')):.4f}  ECE {m.get('ece', float('nan')):.4f}  (temperature {classify_run.temperature(run):.2f})")
    log(f"report: {run.report_path.resolve()}")


@dataclass(frozen=True)
class Classification:
    """Classes from class folders or a CSV: calibrated probabilities, referral to a human, Grad-CAM and IG heatmaps."""

    summary_keys = classify_cli.SUMMARY_KEYS
    train_flags = REFERRAL_FLAGS
    commands = MappingProxyType({"eval": classify_cli.cli_eval, "predict": classify_cli.cli_predict, "explain": classify_cli.cli_explain})
    verb_flags = MappingProxyType({"eval": EVAL_FLAGS, "predict": PREDICT_FLAGS})
    prediction_table = staticmethod(classify_cli.prediction_table)
    trains_in_processes = True  # torchrun / --nproc: classify.train writes and evaluates on rank 0 only

    train = train_returning_result(classify.train)


    def finish(self, run_dir: Path, result: TrainResult, log: Log) -> None:
        from ...run import Run

        write_explanations_and_report(Run.load(run_dir), result.model, log, result.config.explain_examples)

    def build(self, run):
        return classify_run.load_model(run)

    def evaluate(self, run, data: Path, out_dir: Path, refer_below: float | None = None, progress: bool = True) -> dict:
        return classify.evaluate(run, data, out_dir, refer_below, progress)

    def predict(self, run, images: Sequence[Path], progress: bool = True, refer_below: float | None = None, backend: str = "auto",
                batch_size: int = 64, max_error: float | None = None, prediction_sets: float | None = None):
        """(list of ClassPrediction, list of Problem): see :func:`vislearn.tasks.classify.run.predict` for the referral options."""
        return classify_run.predict(run, images, refer_below, backend, batch_size, progress=progress, max_error=max_error,
                                    prediction_sets=prediction_sets)

    def explain(self, run, image: Path, out_dir: Path, method: str | None = None, target: str | None = None) -> dict:
        """Grad-CAM and Integrated Gradients overlays (or one ``method``) and layer views: {method: PNG, "target", "layers"}."""
        from ...explain.gallery import explain_image, write_layer_views

        model = self.build(run)
        methods = (method,) if method else ("gradcam", "integrated_gradients")
        written = explain_image(model, str(image), run.preprocessing, run.class_names, out_dir, Path(image).stem, target, methods)
        written["layers"] = [v["image"] for v in write_layer_views(model, str(image), run.preprocessing, out_dir)]
        return written

    def explain_targets(self, run) -> tuple[str, ...]:
        return tuple(run.class_names)


TASKS.register("classify")(Classification())
