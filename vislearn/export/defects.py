"""Export of a defects run: the whole scoring chain in one ONNX graph (method's local map, whole-image Gaussian,
upsampled and smoothed heatmap, z-scores calibrated on good images); the threshold decision in numpy.

PatchCore's memory banks are searched with FAISS in PyTorch; in the graph the same exact nearest-neighbour
distance is a matrix product against the bank (held in the graph, in float64 to keep the subtraction exact).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..anomaly.memory_bank import MemoryBank
from ..engine.predict import export_onnx
from ..tasks import TASKS
from ..tasks.defects.train import load_detector
from .bundle import Bundle, preprocessing_entry, read_inputs
from .defects_tiled import OUTPUTS as TILED_OUTPUTS
from .defects_tiled import TileDescription, tiled_scores, tiling_entry
from .parity import NEAR_THRESHOLD, Check, flag_check, tensor_check
from .written import GraphOptions, Written

OUTPUTS = ("score", "local_z", "global_z", "heatmap")
DECISION_RULE = "is_defect when score > threshold; kind 'local' when local_z >= global_z else 'global'; defect mask: heatmap > threshold"


class DefectOutcome(NamedTuple):
    is_defect: bool
    kind: str
    score: float
    heatmap_hw: np.ndarray


class DefectScoring(nn.Module):
    """images (B, 3, S, S) -> score (B,), local_z (B,), global_z (B,), heatmap (B, S, S): ``Detector.score`` as a module."""

    def __init__(self, detector):
        super().__init__()
        self.detector = detector

    def forward(self, images_bchw: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.detector.score(images_bchw))


def _banks(method) -> Iterator[MemoryBank]:
    """Every memory bank of a defect method (PatchCore's own, or inside an ensemble)."""
    for value in vars(method).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, MemoryBank):
                yield item
        if hasattr(value, "banks"):
            yield from value.banks


def _nearest_in_torch(features_md: torch.Tensor):
    bank = features_md.double()
    bank_squared = (bank * bank).sum(dim=1)

    def nearest_distances(queries_nd: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N,) exact Euclidean distance to the nearest bank vector, as FAISS IndexFlatL2 gives it."""
        queries = queries_nd.double()
        squared = (queries * queries).sum(dim=1, keepdim=True) - 2 * queries @ bank.T + bank_squared[None]
        return squared.min(dim=1).values.clamp_min(0).sqrt().float()

    return nearest_distances


@contextmanager
def traceable(detector):
    """The detector with its memory banks searched by PyTorch operations (FAISS cannot be traced), restored after."""
    banks = list(_banks(detector.method))
    for bank in banks:
        bank.nearest_distances = _nearest_in_torch(bank.features_md)
    try:
        yield detector
    finally:
        for bank in banks:
            del bank.nearest_distances


def write(run, graph: Path, options: GraphOptions) -> Written:
    detector, pre, _ = load_detector(Path(run.dir))
    if detector.tile and pre.image_size > detector.tile:
        return _write_tiled(detector, pre, graph, options)
    with traceable(detector):
        export_onnx(DefectScoring(detector), graph, pre.image_size, options.opset, options.dynamic_batch, OUTPUTS, dynamo=True)
    threshold = detector.calibration.threshold
    outputs = {"score": "(B,) image score: max(local_z, global_z), in standard deviations of good images",
               "local_z": "(B,) strongest patch, calibrated", "global_z": "(B,) whole-image Gaussian distance, calibrated",
               "heatmap": "(B, S, S) per-pixel score, same units as score"}
    decision = {"threshold": threshold, "max_false_alarm": detector.calibration.max_false_alarm,
                "rule": DECISION_RULE}
    return Written(preprocessing_entry(pre), outputs, decision)


def _write_tiled(detector, pre, graph: Path, options: GraphOptions) -> Written:
    """The graph for one tile; the tiling, stitching and scoring in the sidecar (see :mod:`.defects_tiled`)."""
    with traceable(detector):
        export_onnx(TileDescription(detector.method), graph, detector.tile, options.opset, options.dynamic_batch,
                    TILED_OUTPUTS, dynamo=True)
    tiling, arrays = tiling_entry(detector, pre.image_size)
    outputs = {"local_map": "(N, h, w) each tile's patch distances on its feature grid, in the method's units",
               "pooled": "(N, D) each tile's pooled features"}
    decision = {"threshold": detector.calibration.threshold, "max_false_alarm": detector.calibration.max_false_alarm,
                "tiling": tiling, "rule": "score, local_z, global_z and heatmap from the tiles as tiling.rule says; "
                                          f"then {DECISION_RULE}"}
    return Written(preprocessing_entry(pre), outputs, decision, arrays)


def reference(run, paths: list[str]) -> dict[str, DefectOutcome]:
    predictions, _ = TASKS.get("defects").predict(run, paths)
    return {p.path: DefectOutcome(p.is_defect, p.kind, p.score, p.heatmap_hw) for p in predictions}


def exported(bundle: Bundle, paths: list[str], batch_size: int = 16) -> dict[str, DefectOutcome]:
    threshold, tiling = bundle.task["threshold"], bundle.task.get("tiling")
    found = {}
    for start in range(0, len(paths), batch_size):
        kept, inputs = read_inputs(paths[start:start + batch_size], bundle.sidecar["preprocessing"])
        if not kept:
            continue
        images = np.stack(inputs)
        scores = tiled_scores(bundle.run, images, tiling, bundle.arrays, threshold) if tiling else bundle.run(images)
        score, local, global_, heat = scores
        for i, path in enumerate(kept):
            defect = bool(score[i] > threshold)
            kind = ("local" if local[i] >= global_[i] else "global") if defect else ""
            found[path] = DefectOutcome(defect, kind, float(score[i]), heat[i])
    return found


def compare(torch_out: dict[str, DefectOutcome], onnx_out: dict[str, DefectOutcome], rule: dict) -> list[Check]:
    paths = sorted(set(torch_out) & set(onnx_out))
    ref, got = [torch_out[p] for p in paths], [onnx_out[p] for p in paths]
    near = [abs(r.score - rule["threshold"]) <= NEAR_THRESHOLD for r in ref]
    masks_ref = np.concatenate([(r.heatmap_hw > rule["threshold"]).ravel() for r in ref]) if ref else np.zeros(0, bool)
    masks_got = np.concatenate([(g.heatmap_hw > rule["threshold"]).ravel() for g in got]) if got else np.zeros(0, bool)
    near_pixels = np.concatenate([np.abs(r.heatmap_hw - rule["threshold"]).ravel() <= NEAR_THRESHOLD for r in ref]) if ref else []
    return [flag_check("is_defect", [r.is_defect for r in ref], [g.is_defect for g in got], near,
                       f"{sum(r.is_defect for r in ref)} of {len(ref)} images defective by PyTorch"),
            flag_check("defect kind", [r.kind for r in ref], [g.kind for g in got], near),
            flag_check("defect mask pixels", masks_ref.tolist(), masks_got.tolist(), list(near_pixels)),
            tensor_check("image score", [np.float64(r.score) for r in ref], [np.float64(g.score) for g in got]),
            tensor_check("heatmap", [r.heatmap_hw for r in ref], [g.heatmap_hw for g in got],
                         "memory-bank search: FAISS in PyTorch, a float64 matrix product in the graph")]
