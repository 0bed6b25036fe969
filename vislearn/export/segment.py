"""Export of a segment run: the network on one training-size tile in ONNX; the sliding window over the image at its
own size (tile, overlap, black padding, logits averaged) and the argmax in numpy from the sidecar."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from sklearn.metrics import accuracy_score, jaccard_score

from ..data.mask_dataset import image_tensor
from ..data.mask_transforms import to_model_input
from ..engine.predict import export_onnx
from ..engine.sliding_window import sliding_window_logits, tile_starts
from ..errors import ImageReadError
from ..tasks import TASKS
from ..tasks.segment.model import load_segmentation_model
from ..tasks.segment.outputs import tile_overlap
from .bundle import Bundle, model_input, preprocessing_entry
from .parity import TENSOR_TOLERANCE, Check, tensor_check
from .written import GraphOptions, Written


class MaskOutcome(NamedTuple):
    mask_hw: np.ndarray  # (H, W) uint8 class per pixel
    logits_khw: np.ndarray  # (K, H, W) averaged tile logits


def write(run, graph: Path, options: GraphOptions) -> Written:
    model = load_segmentation_model(run)
    tile = run.preprocessing.image_size
    export_onnx(model, graph, tile, options.opset, options.dynamic_batch)
    overlap = tile_overlap(run.config)
    rule = (f"the image at its own size, padded with black pixels to at least {tile} px, is covered by {tile} x {tile} tiles "
            f"every round({tile} x (1 - overlap)) px (the last flush with the edge); tile logits are averaged where tiles "
            "overlap, cropped back, and each pixel's class is the argmax")
    decision = {"class_names": list(run.class_names), "tile": tile, "overlap": overlap, "rule": rule}
    return Written(preprocessing_entry(run.preprocessing, resize=False), {"outputs": "(B, K, S, S) class logits per pixel"}, decision)


def reference(run, paths: list[str]) -> dict[str, MaskOutcome]:
    """The task's own predict (masks) and the sliding-window logits it argmaxes, in PyTorch."""
    predictions, _ = TASKS.get("segment").predict(run, paths, progress=False)
    model, pre = load_segmentation_model(run), run.preprocessing
    pad = (0 - torch.tensor(pre.mean)) / torch.tensor(pre.std)
    normalise, overlap = to_model_input(pre), tile_overlap(run.config)
    return {p.path: MaskOutcome(p.mask_hw, sliding_window_logits(model, normalise(image_tensor(p.path)), pre.image_size, overlap,
                                                                 pad).numpy()) for p in predictions}


def exported(bundle: Bundle, paths: list[str]) -> dict[str, MaskOutcome]:
    pre, rule = bundle.sidecar["preprocessing"], bundle.task
    pad_c = (0 - np.asarray(pre["mean"], np.float32)) / np.asarray(pre["std"], np.float32)
    found = {}
    for path in paths:
        try:
            image_chw = model_input(path, pre)
        except ImageReadError:
            continue
        logits = window_logits(bundle, image_chw, rule["tile"], rule["overlap"], pad_c)
        found[path] = MaskOutcome(logits.argmax(axis=0).astype(np.uint8), logits)
    return found


def window_logits(bundle: Bundle, image_chw: np.ndarray, tile: int, overlap: float, pad_c: np.ndarray, batch: int = 8) -> np.ndarray:
    """(K, H, W) logits of one (3, H, W) input: tiles of ``tile`` px overlapping by ``overlap``, averaged."""
    _, h, w = image_chw.shape
    hp, wp = max(h, tile), max(w, tile)
    padded = np.broadcast_to(pad_c[:, None, None], (3, hp, wp)).copy()
    padded[:, :h, :w] = image_chw
    stride = max(1, int(round(tile * (1 - overlap))))
    windows = [(y, x) for y in tile_starts(hp, tile, stride) for x in tile_starts(wp, tile, stride)]
    summed, counts = None, np.zeros((1, hp, wp), np.float32)
    for i in range(0, len(windows), batch):
        chunk = windows[i:i + batch]
        logits = bundle.run(np.stack([padded[:, y:y + tile, x:x + tile] for y, x in chunk]))[0]
        summed = np.zeros((logits.shape[1], hp, wp), np.float32) if summed is None else summed
        for (y, x), tile_logits in zip(chunk, logits):
            summed[:, y:y + tile, x:x + tile] += tile_logits
            counts[:, y:y + tile, x:x + tile] += 1
    return (summed / counts)[:, :h, :w]


def compare(torch_out: dict[str, MaskOutcome], onnx_out: dict[str, MaskOutcome], rule: dict) -> list[Check]:
    paths = sorted(set(torch_out) & set(onnx_out))
    ref, got = [torch_out[p] for p in paths], [onnx_out[p] for p in paths]
    logits = tensor_check("logits", [r.logits_khw for r in ref], [g.logits_khw for g in got], "export vs PyTorch, averaged tiles")
    return [mask_check(ref, got, len(rule["class_names"])), logits]


def mask_check(ref: list[MaskOutcome], got: list[MaskOutcome], num_classes: int) -> Check:
    """Pixels whose class differs: allowed only where PyTorch's two best logits tie within the tensor tolerance."""
    if not ref:
        return Check("mask pixels", 0, 0, None, "-", True)
    truth = np.concatenate([r.mask_hw.ravel() for r in ref])
    exported_ = np.concatenate([g.mask_hw.ravel() for g in got])
    differ = truth != exported_
    scale = max(1.0, max(float(np.abs(r.logits_khw).max()) for r in ref))
    top2 = np.concatenate([np.sort(r.logits_khw.reshape(r.logits_khw.shape[0], -1), axis=0)[-2:].T for r in ref])  # (P, 2)
    tie = (top2[:, 1] - top2[:, 0]) <= TENSOR_TOLERANCE * scale
    agreement = accuracy_score(truth, exported_)
    iou = jaccard_score(truth, exported_, labels=sorted(set(truth.tolist()) | set(exported_.tolist())), average="macro",
                        zero_division=1.0)
    return Check("mask pixels", int(differ.size), int(differ.sum()), 1 - agreement, "only where the top two logits tie",
                 bool(np.all(tie[differ])), f"pixel agreement {agreement:.6f}, IoU between the two masks {iou:.6f} "
                 f"(macro over the {num_classes} classes' present ones)")
