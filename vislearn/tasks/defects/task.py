"""The defects task object: what the API and the CLI call on a defects run (see :class:`~vislearn.tasks.base.Task`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ...errors import ImageReadError
from . import train as defects
from . import outputs as defects_outputs
from ..base import TASKS, finish_with_details, train_returning_result, FlagGroup, TrainFlag
from ..predictions import DefectPrediction

DEFECT_FLAGS = FlagGroup("defects", "options of `train defects` (learn normal from good images only)", (
    TrainFlag("--method", "method", argparse={"help": (
        "patchcore+distill (default: pretrained patch memory plus a student trained on your good images), "
        "patchcore (pretrained backbone only, fastest fit) or random-distill (no pretrained weights)")}),
    TrainFlag("--max-false-alarm", "max_false_alarm", argparse={
        "type": float, "help": (
        "share of new good images allowed above the threshold (default 0.01); n calibration images can promise it "
        "when n >= 1/rate - 1, else the threshold promises 1/(n+1) and the log warns; from 30 calibration images the "
        "threshold is also kept above a Gumbel tail fit's 90 %% bound for the rate")}),
    TrainFlag("--held-out-fraction", "held_out_fraction", argparse={"type": float, "help": (
        "share of the good images held out from fitting (default 0.2): a third tune, the rest set the threshold; "
        "n threshold images can promise false-alarm rates down to 1/(n+1)")}),
    TrainFlag("--max-memory-mb", "max_memory_mb", argparse={"type": float, "help": "PatchCore memory bank limit (default 256)"}),
    TrainFlag("--max-native-side", "max_native_side", argparse={"type": int, "help": (
        "images up to this short side are used at their own resolution, larger ones in tiles of it (default 512)")}),
))


def kept_detector(run):
    """(detector, preprocessing, config) of a run folder, loaded once per Run object (a server predicts and draws with it)."""
    return run.kept("defect-detector", lambda: defects.load_detector(Path(run.dir)))


@dataclass(frozen=True)
class Defects:
    """Defects learnt from good images only: a score per image, a heatmap and a defect mask, a calibrated threshold."""

    summary_keys = defects.SUMMARY_KEYS
    train_flags = DEFECT_FLAGS
    commands = MappingProxyType({"eval": defects_outputs.cli_eval, "predict": defects_outputs.cli_predict})
    verb_flags = MappingProxyType({})  # defects runs add no flag to eval or predict
    prediction_table = staticmethod(defects_outputs.prediction_table)

    train = train_returning_result(defects.train)
    finish = finish_with_details(defects_outputs.finish)

    def build(self, run):
        """The fitted :class:`~vislearn.anomaly.Detector` (memory bank and/or student, threshold)."""
        return defects.load_detector(Path(run.dir))[0]

    def evaluate(self, run, data: Path, out_dir: Path, refer_below: float | None = None, progress: bool = True) -> dict:
        return defects_outputs.evaluate(run, data, out_dir)

    def predict(self, run, images: Sequence[Path], progress: bool = True, batch_size: int = 32):
        """(list of DefectPrediction, list of Problem): score, is_defect, heatmap_hw and defect_mask_hw per image."""
        detector, pre, _ = kept_detector(run)
        problems: list = []
        predictions: list[DefectPrediction] = list(defects.predict_paths(detector, [str(p) for p in images], pre, batch_size, problems))
        return predictions, problems

    def explain(self, run, image: Path, out_dir: Path, method: str | None = None, target: str | None = None) -> dict:
        """The defect heatmap over the image and the defect mask: {"mask": PNG, "overlay": PNG, "score", "is_defect"}."""
        detector, pre, _ = defects.load_detector(Path(run.dir))
        problems: list = []
        found = next(defects.predict_paths(detector, [str(image)], pre, 1, problems), None)
        if found is None:
            raise ImageReadError(str(image), problems[0].reason if problems else "could not be read")
        written = defects_outputs.write_pictures(found, Path(out_dir), Path(image).stem, detector.calibration.threshold)
        return {**written, "score": found.score, "is_defect": found.is_defect}

    def explain_targets(self, run) -> tuple[str, ...]:
        return ()


TASKS.register("defects")(Defects())
