"""The segment task object: what the API and the CLI call on a segmentation run (see :class:`~vislearn.tasks.base.Task`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ...errors import VislearnError
from ..base import TASKS, Flag, FlagGroup, finish_with_details, train_returning_result
from ..predictions import SegmentationMask
from . import explain as segment_explain
from . import outputs as segment_outputs
from . import train as segment
from .model import load_segmentation_model

PREDICT_FLAGS = FlagGroup("segment runs", "options of `predict` on a segment run", (
    Flag("--tile-overlap", "tile_overlap", {"type": float, "help": (
        "overlap of the sliding-window tiles, 0..0.9 (default 0.25)")}),
))


@dataclass(frozen=True)
class Segmentation:
    """A class per pixel from image/mask pairs or COCO polygons, scored by IoU and Dice; Grad-CAM per class region."""

    summary_keys = segment.SUMMARY_KEYS
    train_flags = None
    commands = MappingProxyType({"eval": segment_outputs.cli_eval, "predict": segment_outputs.cli_predict,
                                 "explain": segment_explain.cli_explain})
    verb_flags = MappingProxyType({"predict": PREDICT_FLAGS})

    train = train_returning_result(segment.train)
    finish = finish_with_details(segment_outputs.finish)

    def build(self, run):
        return load_segmentation_model(run)

    def evaluate(self, run, data: Path, out_dir: Path, refer_below: float | None = None, progress: bool = True) -> dict:
        return segment_outputs.evaluate(run, data, out_dir, progress=progress)

    def predict(self, run, images: Sequence[Path], progress: bool = True, tile_overlap: float | None = None):
        """(list of SegmentationMask, list of Problem); images larger than the training tile are tiled with ``tile_overlap``."""
        overlap = segment_outputs.tile_overlap(run.config) if tile_overlap is None else tile_overlap
        problems: list = []
        model = run.kept("segment-model", lambda: self.build(run))
        found = segment_outputs.predict_masks(model, [str(p) for p in images], run.class_names, run.preprocessing, overlap,
                                              run.config.device, run.config.precision, problems)
        names = tuple(run.class_names)
        predictions = [SegmentationMask(p.path, p.mask_hw, p.class_fractions, names) for p in found]
        return predictions, problems

    def explain(self, run, image: Path, out_dir: Path, method: str | None = None, target: str | None = None) -> dict:
        """Grad-CAM of each shown class's mean logit over its own pixels (or only ``target``): {"classes": rows with the PNG of each}."""
        if method not in (None, "gradcam"):
            raise VislearnError(f"segment runs are explained with gradcam only (got --method {method})")
        rows = segment_explain.explain_classes(self.build(run), str(image), run.preprocessing, run.class_names, out_dir,
                                               Path(image).stem, target)
        return {"classes": rows}

    def explain_targets(self, run) -> tuple[str, ...]:
        return tuple(run.class_names)


TASKS.register("segment")(Segmentation())
