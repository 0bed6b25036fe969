"""The report's referral section for classify runs: what calibration decided and why, the risk/coverage
curve with the guaranteed rate, unlike-training scores, and the referred test images grouped by reason.

Inputs (all optional): ``calibration.json`` and ``calibration.safetensors`` (the calibration images) and
``predictions_test.csv`` (refer_reason, unlike_score) in the run folder.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .contact_sheet import thumbnail
from .embed import png_data_uri
from .plots import _save

EXAMPLES_PER_REASON = 8
THUMB_PX = 96


def _test_rows(run_dir: Path) -> list[dict]:
    path = run_dir / "predictions_test.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _calibration_arrays(run_dir: Path, temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(confidence, correct, unlike score) of the calibration images, or None for runs that kept none."""
    path = run_dir / "calibration.safetensors"
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    logits = tensors["logits_nk"] / temperature
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return probs.max(axis=1), probs.argmax(axis=1) == tensors["labels_n"], tensors["unlike_n"]


def risk_coverage_plot(calib: tuple, test_rows: list[dict], calibration: dict, path: Path) -> Path:
    """Error among decided images against coverage, on calibration and test images, with the promised rate."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    curves = [("calibration images", calib[0], calib[1], "#4C72B0")]
    rows = [r for r in test_rows if r.get("label")]
    if rows:
        curves.append(("test images", np.array([float(r["confidence"]) for r in rows]),
                       np.array([r["correct"] == "1" for r in rows]), "#55A868"))
    for name, confidence, correct, colour in curves:
        order = np.argsort(-confidence, kind="stable")
        decided = np.arange(1, len(order) + 1)
        ax.plot(decided / len(order), np.cumsum(~correct[order]) / decided, color=colour, label=name)
    guarantee = calibration.get("guarantee")
    if guarantee:
        ax.axhline(guarantee["max_error"], color="#C44E52", linestyle="--",
                   label=f"promised error ≤ {guarantee['max_error']:.1%} ({guarantee['level']:.0%} confidence)")
        ax.axvline(guarantee["coverage"], color="grey", linestyle=":", label=f"coverage at the threshold {guarantee['coverage']:.1%}")
    ax.set_xlabel("coverage (share of images decided without a human)")
    ax.set_ylabel("error among the decided images")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(bottom=0)
    ax.set_title("Risk / coverage: most confident images decided first")
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def unlike_histogram(calib_scores: np.ndarray, test_rows: list[dict], threshold: float, path: Path) -> Path:
    """Unlike-training scores of the held-out calibration images and of the test images, with the threshold."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    test = np.array([float(r["unlike_score"]) for r in test_rows if r.get("unlike_score")])
    high = max(float(np.max(calib_scores)), float(test.max()) if len(test) else 0.0, threshold) * 1.05
    bins = np.linspace(0, high, 40)
    ax.hist(calib_scores, bins=bins, alpha=0.6, color="#4C72B0", label=f"held-out calibration images ({len(calib_scores)})")
    if len(test):
        referred = test > threshold
        ax.hist(test[~referred], bins=bins, alpha=0.5, color="#55A868", label=f"test images kept ({int((~referred).sum())})")
        ax.hist(test[referred], bins=bins, alpha=0.8, color="#C44E52", label=f"test images referred ({int(referred.sum())})")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("distance to the training images' features (Mahalanobis, nearest class)")
    ax.set_ylabel("images")
    ax.set_title("Unlike training images")
    ax.legend(fontsize=8)
    return _save(fig, path)


def referred_examples(test_rows: list[dict]) -> list[dict]:
    """Referred test images grouped by reason: {reason, count, cells [{uri, path, label, predicted, confidence}]}."""
    groups: dict[str, list[dict]] = {}
    for row in test_rows:
        if row.get("refer_to_human") == "1":
            key = "ambiguous" if row.get("refer_reason", "").startswith("ambiguous") else (row.get("refer_reason") or "low confidence")
            groups.setdefault(key, []).append(row)
    out = []
    for reason in ("unlike training images", "ambiguous", "low confidence"):
        rows = groups.get(reason, [])
        if rows:
            cells = [{"uri": thumbnail(r["path"], THUMB_PX), "path": r["path"], "label": r.get("label", ""), "predicted": r["predicted"],
                      "confidence": r["confidence"], "why": r.get("refer_reason", "")} for r in rows[:EXAMPLES_PER_REASON]]
            out.append({"reason": reason, "count": len(rows), "cells": cells})
    return out


def referral_context(run_dir: Path, calibration: dict | None, metrics: dict | None, plots_dir: Path) -> dict | None:
    """Everything the template's referral part shows; None for runs without referral data (older runs, other tasks)."""
    if not calibration or "threshold_rule" not in calibration:
        return None
    test_rows = _test_rows(run_dir)
    calib = _calibration_arrays(run_dir, float(calibration.get("temperature", 1.0)))
    plots = {}
    if calib is not None:
        plots["risk"] = png_data_uri(risk_coverage_plot(calib, test_rows, calibration, plots_dir / "risk_coverage.png"))
        plots["unlike"] = png_data_uri(unlike_histogram(calib[2], test_rows, float(calibration["unlike_threshold"]),
                                                        plots_dir / "unlike_training.png"))
    referral = (metrics or {}).get("referral") or {}
    return {
        "temperature_reason": calibration.get("temperature_reason", ""),
        "temperature_rule": calibration.get("temperature_rule", ""),
        "calibration_images": calibration.get("calibration_images"),
        "calibration_split": calibration.get("calibration_split"),
        "threshold_rule": calibration["threshold_rule"],
        "unlike_threshold": calibration.get("unlike_threshold"),
        "unlike_rate": calibration.get("unlike_rate"),
        "test": referral,
        "plots": plots,
        "groups": referred_examples(test_rows),
    }
