"""Export of a classify run: the network (logits, and the features its unlike-training referral reads) in ONNX;
temperature, confidence threshold, class names, the class Gaussians and the conformal prediction sets' APS threshold
in the sidecar, applied in numpy."""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..data import Sample, eval_transform, make_loader
from ..engine.predict import export_onnx
from ..metrics import calibrated_probs
from ..metrics.conformal import aps_sets
from ..metrics.referral import LOW, UNLIKE
from ..models.with_features import WithFeatures, split_outputs
from ..tasks.classify import run as classify_run
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
    prediction_set: tuple[str, ...] | None = None  # the conformal set's classes, when the run refers by sets
    near_set_edge: bool = False  # (reference chain) a cumulative probability within NEAR_THRESHOLD of the run's APS threshold


def write(run, graph: Path, options: GraphOptions) -> Written:
    referrer = classify_run.referrer(run)
    model = classify_run.load_model(run)
    with_features = classify_run.has_referral_data(run)
    export_onnx(WithFeatures(model, len(run.class_names)) if with_features else model, graph, run.preprocessing.image_size,
                options.opset, options.dynamic_batch)
    finite = math.isfinite(referrer.confidence_threshold)
    decision = {"class_names": list(run.class_names), "temperature": classify_run.temperature(run),
                "confidence_threshold": referrer.confidence_threshold if finite else None, "refer_every_image": not finite,
                "threshold_rule": referrer.threshold_rule, "unlike_threshold": None, "feature_normalisation": None,
                "prediction_sets": None}
    if referrer.set_level is not None:
        decision["prediction_sets"] = {"level": referrer.set_level, "aps_quantile": referrer.aps_quantile,
                                       "rule": ("classes by decreasing probability up to the first whose cumulative "
                                                "probability reaches aps_quantile (within 1e-8), and any class tied with "
                                                "it (MAPIE's APS, include_last_label=True)")}
    arrays = {}
    if referrer.unlike is not None:
        decision["unlike_threshold"] = referrer.unlike.threshold
        decision["feature_normalisation"] = "signed square root, then unit length (L2)"
        arrays = {"class_means_kd": referrer.unlike.means_kd.numpy(), "precision_dd": referrer.unlike.precision_dd.numpy()}
    outputs = ("(B, K + D): K class logits, then the D penultimate features" if with_features else "(B, K) class logits")
    rule = ("probabilities = softmax(logits / temperature); label = argmax; refer_to_human when the Mahalanobis distance of "
            "the normalised features to the nearest class mean (arrays) is above unlike_threshold ('unlike training images'), "
            "else, with prediction_sets, when the set holds other than one class ('ambiguous: a|b'), "
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
    referrer = classify_run.referrer(run)
    quantile = referrer.aps_quantile
    return {p.path: ClassOutcome(p.predicted, p.confidence, p.refer_to_human, p.refer_reason, p.unlike_score, row,
                                 None if p.prediction_set is None else tuple(p.prediction_set),
                                 quantile is not None and _near_set_edge(row, referrer.temperature, quantile))
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
    names = rule["class_names"]
    sets = rule.get("prediction_sets")
    members_b = aps_sets(probs, sets["aps_quantile"]) if sets else [None] * len(probs)
    rows = []
    for p, score, logits, members in zip(probs, unlike, logits_bk, members_b):
        confidence = float(p.max())
        chosen = None if members is None else tuple(names[k] for k in np.flatnonzero(members))
        if score is not None and score > rule["unlike_threshold"]:
            reason = UNLIKE
        elif chosen is not None and len(chosen) != 1:
            reason = "ambiguous: " + ("|".join(chosen) if chosen else "no class")
        else:
            reason = LOW if confidence < threshold else ""
        rows.append(ClassOutcome(names[int(p.argmax())], confidence, bool(reason), reason, score, logits, chosen))
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
    if rule.get("prediction_sets"):
        quantile = rule["prediction_sets"]["aps_quantile"]
        checks.append(flag_check("prediction sets", [r.prediction_set for r in ref], [g.prediction_set for g in got],
                                 [r.near_set_edge for r in ref],
                                 f"APS at {rule['prediction_sets']['level']:.0%}, threshold {quantile:.4f} from the sidecar"))
    if rule["unlike_threshold"] is not None:
        checks.append(tensor_check("unlike-training score", [np.float64(r.unlike_score) for r in ref],
                                   [np.float64(g.unlike_score) for g in got], "class Gaussians run in numpy from the sidecar's arrays"))
    return checks



def _near_set_edge(logits_k: np.ndarray, temperature: float, quantile: float) -> bool:
    """True when some cumulative probability (classes by decreasing probability) lies within NEAR_THRESHOLD of the
    APS threshold: there a float rounding may add or drop the set's last class."""
    probs = calibrated_probs(torch.as_tensor(logits_k)[None], temperature)[0].double().numpy()
    return bool(np.any(np.abs(np.cumsum(np.sort(probs)[::-1]) - quantile) <= NEAR_THRESHOLD))
