"""Export of a classify run: the network (logits, and the features its unlike-training referral reads) in ONNX;
temperature, confidence threshold, class names and the class Gaussians in the sidecar, applied in numpy."""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data import Sample, eval_transform, make_loader
from ..engine.predict import export_onnx
from ..errors import CalibrationError
from ..metrics.referral import LOW, UNLIKE
from ..models.with_features import WithFeatures, split_outputs
from ..tasks import classify_run
from .bundle import Bundle, preprocessing_entry, read_inputs
from .parity import NEAR_THRESHOLD, Check, decision_check, flag_check, tensor_check
from .written import GraphOptions, Written


class ClassOutcome(NamedTuple):
    """One image through one chain: the decision and the numbers it was made from."""

    label: str
    confidence: float
    refer_to_human: bool
    refer_reason: str
    unlike_score: float | None
    logits_k: np.ndarray


def write(run, graph: Path, options: GraphOptions) -> Written:
    referrer = classify_run.referrer(run)
    if referrer.set_level is not None:
        raise CalibrationError("this run refers by conformal prediction sets (MAPIE), which the export does not carry yet; "
                               "export a run trained without --prediction-sets")
    model = classify_run.load_model(run)
    with_features = classify_run.has_referral_data(run)
    export_onnx(WithFeatures(model, len(run.class_names)) if with_features else model, graph, run.preprocessing.image_size,
                options.opset, options.dynamic_batch)
    finite = math.isfinite(referrer.confidence_threshold)
    decision = {"class_names": list(run.class_names), "temperature": classify_run.temperature(run),
                "confidence_threshold": referrer.confidence_threshold if finite else None, "refer_every_image": not finite,
                "threshold_rule": referrer.threshold_rule, "unlike_threshold": None, "feature_normalisation": None}
    arrays = {}
    if referrer.unlike is not None:
        decision["unlike_threshold"] = referrer.unlike.threshold
        decision["feature_normalisation"] = "signed square root, then unit length (L2)"
        arrays = {"class_means_kd": referrer.unlike.means_kd.numpy(), "precision_dd": referrer.unlike.precision_dd.numpy()}
    outputs = ("(B, K + D): K class logits, then the D penultimate features" if with_features else "(B, K) class logits")
    rule = ("probabilities = softmax(logits / temperature); label = argmax; refer_to_human when the Mahalanobis distance of "
            "the normalised features to the nearest class mean (arrays) is above unlike_threshold ('unlike training images'), "
            "else when the top probability is below confidence_threshold ('low confidence')")
    return Written(preprocessing_entry(run.preprocessing), {"outputs": outputs}, {**decision, "rule": rule}, arrays)


def reference(run, paths: list[str]) -> dict[str, ClassOutcome]:
    """The run's own chain: ``classify_run.predict`` on the PyTorch backend, and the raw logits of the same forward pass."""
    predictions, _ = classify_run.predict(run, paths, backend="torch", progress=False, workers=0)
    _, forward = classify_run.runner(run, "torch")
    k = len(run.class_names)
    logits = []
    for batch in make_loader([Sample(p.path, -1) for p in predictions], eval_transform(run.preprocessing), 64, False, 0):
        logits += list(split_outputs(forward(batch.images), k)[0].numpy())
    return {p.path: ClassOutcome(p.predicted, p.confidence, p.refer_to_human, p.refer_reason, p.unlike_score, row)
            for p, row in zip(predictions, logits)}


def exported(bundle: Bundle, paths: list[str], batch_size: int = 32) -> dict[str, ClassOutcome]:
    """The export's chain, from its files only: sidecar preprocessing, ONNX Runtime, the decision rule in numpy."""
    rule = bundle.task
    k = len(rule["class_names"])
    found = {}
    for start in range(0, len(paths), batch_size):
        kept, inputs = read_inputs(paths[start:start + batch_size], bundle.sidecar["preprocessing"])
        if not kept:
            continue
        outputs = bundle.run(np.stack(inputs))[0]
        found.update(zip(kept, decide(outputs[:, :k], outputs[:, k:], rule, bundle.arrays)))
    return found


def decide(logits_bk: np.ndarray, features_bd: np.ndarray, rule: dict, arrays: dict) -> list[ClassOutcome]:
    """The sidecar's decision rule on a batch (numpy): the same as :class:`vislearn.metrics.referral.Referrer`."""
    scaled = logits_bk.astype(np.float64) / rule["temperature"]
    probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    unlike = unlike_scores(features_bd, arrays) if rule["unlike_threshold"] is not None else [None] * len(probs)
    threshold = math.inf if rule["refer_every_image"] else rule["confidence_threshold"]
    rows = []
    for p, score, logits in zip(probs, unlike, logits_bk):
        confidence = float(p.max())
        reason = UNLIKE if score is not None and score > rule["unlike_threshold"] else LOW if confidence < threshold else ""
        rows.append(ClassOutcome(rule["class_names"][int(p.argmax())], confidence, bool(reason), reason, score, logits))
    return rows


def unlike_scores(features_bd: np.ndarray, arrays: dict) -> list[float]:
    """(B, D) -> B distances to the nearest class mean (Mahalanobis, shared precision) of the normalised features."""
    features_bd = features_bd[:, : arrays["class_means_kd"].shape[1]]  # as Referrer.unlike_scores reads them
    rooted = np.sign(features_bd) * np.sqrt(np.abs(features_bd.astype(np.float64)))
    unit = rooted / np.maximum(np.linalg.norm(rooted, axis=1, keepdims=True), 1e-12)
    centred = unit[:, None, :] - arrays["class_means_kd"][None].astype(np.float64)  # (B, K, D)
    squared = np.einsum("bkd,de,bke->bk", centred, arrays["precision_dd"].astype(np.float64), centred)
    return np.sqrt(np.maximum(squared, 0).min(axis=1)).tolist()


def compare(torch_out: dict[str, ClassOutcome], onnx_out: dict[str, ClassOutcome], rule: dict) -> list[Check]:
    paths = sorted(set(torch_out) & set(onnx_out))
    ref, got = [torch_out[p] for p in paths], [onnx_out[p] for p in paths]
    threshold = math.inf if rule["refer_every_image"] else rule["confidence_threshold"]
    near = [abs(r.confidence - threshold) <= NEAR_THRESHOLD or
            (r.unlike_score is not None and abs(r.unlike_score - rule["unlike_threshold"]) <= NEAR_THRESHOLD) for r in ref]
    checks = [decision_check("labels", [r.label for r in ref], [g.label for g in got]),
              flag_check("refer_to_human", [r.refer_to_human for r in ref], [g.refer_to_human for g in got], near,
                         f"{sum(r.refer_to_human for r in ref)} of {len(ref)} images referred by PyTorch"),
              flag_check("refer reasons", [r.refer_reason for r in ref], [g.refer_reason for g in got], near),
              tensor_check("logits", [r.logits_k for r in ref], [g.logits_k for g in got], "export vs PyTorch, raw"),
              tensor_check("confidence", [np.float64(r.confidence) for r in ref], [np.float64(g.confidence) for g in got],
                           "calibrated (temperature from the sidecar)")]
    if rule["unlike_threshold"] is not None:
        checks.append(tensor_check("unlike-training score", [np.float64(r.unlike_score) for r in ref],
                                   [np.float64(g.unlike_score) for g in got], "class Gaussians run in numpy from the sidecar's arrays"))
    return checks

