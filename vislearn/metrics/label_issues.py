"""Likely label mistakes by confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty
in Dataset Labels", JAIR 2021), written here: cleanlab is AGPL-3.0, which vislearn's Apache-2.0 licence cannot take on.

Input: every image's given label and its **out-of-sample** predicted probabilities (from a model that did not train on
that image's label). Steps, as in the paper:

1. Per-class thresholds ``t_j``: the mean probability of class j over the images labelled j (a class the model is
   generally unsure of gets a low threshold, so it is not flagged wholesale).
2. The confident joint ``C[i, j]``: images labelled i whose probability of j reaches ``t_j`` (the most probable such j
   when several do) -- "confidently j while labelled i".
3. Calibrated to the label counts, ``C`` estimates how many images labelled i truly are j.
4. Prune by noise rate: in each class i, for each j != i, the ``round(Q[i, j] * N)`` images with the largest margin
   ``p_j - p_i`` are label issues; an image is kept as an issue only if it is also off the diagonal of the
   confident joint (the paper's "both").

Issues are ranked by the normalised margin ``p_given - max_{j != given} p_j`` (most negative first), each with the
suggested label ``argmax_j p_j``. vislearn keeps only issues whose suggestion is more probable than the given label
(the paper's "both" may also flag an image whose given label is still the most probable one: a person shown
"2 -> 2?" learns nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelIssues:
    """indices_m: the images flagged, most likely mistake first; suggested_m: argmax label of each; margin_m: its
    ``p_given - max other p`` (more negative: surer); confident_joint_kk: the calibrated counts (rows: given label)."""

    indices_m: np.ndarray
    suggested_m: np.ndarray
    margin_m: np.ndarray
    confident_joint_kk: np.ndarray


def class_thresholds(labels_n: np.ndarray, probs_nk: np.ndarray) -> np.ndarray:
    """(K,) mean probability of class j over images labelled j (a class with no image: 1.0, never reached)."""
    k = probs_nk.shape[1]
    return np.array([probs_nk[labels_n == j, j].mean() if np.any(labels_n == j) else 1.0 for j in range(k)])


def confident_joint(labels_n: np.ndarray, probs_nk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated (K, K) counts, (N,) the confident class of each image or -1 where no class reaches its threshold)."""
    labels_n, probs_nk = np.asarray(labels_n), np.asarray(probs_nk, dtype=np.float64)
    n, k = probs_nk.shape
    above = probs_nk >= class_thresholds(labels_n, probs_nk)[None, :] - 1e-12
    confident = np.where(above.any(1), np.where(above, probs_nk, -np.inf).argmax(1), -1)
    counts = np.zeros((k, k))
    counted = confident >= 0
    np.add.at(counts, (labels_n[counted], confident[counted]), 1)
    label_counts = np.bincount(labels_n, minlength=k).astype(np.float64)
    row_sums = counts.sum(1, keepdims=True)
    calibrated = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0) * label_counts[:, None]
    return calibrated, confident


def find_label_issues(labels_n, probs_nk) -> LabelIssues:
    """Confident learning's label issues ("both": pruned by noise rate and off the confident joint's diagonal)."""
    labels_n, probs_nk = np.asarray(labels_n, dtype=np.int64), np.asarray(probs_nk, dtype=np.float64)
    if probs_nk.ndim != 2 or len(labels_n) != len(probs_nk):
        raise ValueError(f"labels (N,) and probabilities (N, K) must match (got {labels_n.shape} and {probs_nk.shape})")
    n, k = probs_nk.shape
    joint, confident = confident_joint(labels_n, probs_nk)
    noise = np.rint(joint / max(joint.sum(), 1e-12) * n).astype(int)
    np.fill_diagonal(noise, 0)
    pruned = np.zeros(n, dtype=bool)
    for i in range(k):
        members = np.flatnonzero(labels_n == i)
        for j in np.argsort(-noise[i]):  # largest flows first, each image taken once
            if noise[i, j] == 0:
                break
            free = members[~pruned[members]]
            margin = probs_nk[free, j] - probs_nk[free, i]
            pruned[free[np.argsort(-margin)[: noise[i, j]]]] = True
    argmax = probs_nk.argmax(1)
    # a suggestion a person is shown says which class it more likely is: the model's most probable class, not the given one
    issues = np.flatnonzero(pruned & (confident >= 0) & (confident != labels_n) & (argmax != labels_n))
    margin = probs_nk[issues, labels_n[issues]] - probs_nk[issues, argmax[issues]]
    order = np.argsort(margin, kind="stable")
    return LabelIssues(issues[order], argmax[issues[order]], margin[order], joint)
