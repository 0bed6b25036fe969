"""Likely label mistakes by confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty
in Dataset Labels", JAIR 2021), written here: cleanlab is AGPL-3.0, which vislearn's Apache-2.0 licence cannot take on.

Input: every image's given label and its **out-of-sample** predicted probabilities (from a model that did not train on
that image's label). Steps, as in the paper:

1. Per-class thresholds ``t_j``: the mean probability of class j over the images labelled j (a class the model is
   generally unsure of gets a low threshold, so it is not flagged wholesale).
2. The confident joint ``C[i, j]``: images labelled i whose probability of j reaches ``t_j`` (the most probable such j
   when several do) -- "confidently j while labelled i".
3. Calibrated to the label counts, ``C`` estimates how many images labelled i truly are j.
4. Two ways of picking the images, as the paper gives them:
   - prune by class: in each class i, the ``round(sum_{j != i} Q[i, j] * N)`` images labelled i with the lowest
     self-confidence ``p_i``;
   - "both": prune by noise rate (for each j != i, the ``round(Q[i, j] * N)`` images labelled i with the largest
     margin ``p_j - p_i``) and off the diagonal of the confident joint.
   An image either picks is an issue; the "both" ones are marked ``both`` (the stricter test, precision 1.000 on
   digits with flipped labels, where prune by class alone reaches 0.86-0.92).

Issues are ranked by the **normalised margin** (lowest first), or, where confident learning's estimate says the
labels' mistakes come in pairs (coats labelled pullover, sandals labelled sneaker), by the probability of a mistake
under those pairs (:mod:`.label_ranking`, chosen per data set and said in the log). The normalised margin: ``log(p_given / t_given) - max_{j != given}
log(p_j / t_j)``, each probability measured against its class's threshold, so that 0.35 for a class the model is
usually sure of (t = 0.9) counts as less likely than 0.25 for a class it is always unsure of (t = 0.5), and an image
whose best other class is far above that class's usual level counts as more likely a mistake. Each issue carries the
suggested label ``argmax_j p_j``. vislearn keeps only issues whose suggestion is more probable than the given label
(a person shown "2 -> 2?" learns nothing).

Why both ways and this ranking (measured, benchmarks/review_mistakes.py): on Fashion-MNIST (3,000 images, 288 labels
flipped at random) "both" alone, ranked by margin, flagged 336 at precision 0.616 with recall 0.719 (0.715 at 288):
its confident-joint test drops flipped images whose probabilities are spread over several classes. The union ranked
by self-confidence flags 499, precision 0.868 at 288 and recall 0.924; on digits (1,797, 5 and 10 % flipped, seeds
1-2) precision at the number flipped 0.92-0.96 against 1.000 with recall 0.77-0.81 before.

Why the normalised margin rather than self-confidence (the same lists re-ranked, out-of-fold probabilities of the
benchmark's runs): Fashion-MNIST 10 % flipped to the most confusable kind, precision at the number flipped 0.678 ->
0.716; at random 0.868 -> 0.872; digits (5 % random, 10 % confusable) unchanged at 0.974 and 0.985. Among the first
320 by self-confidence sit 17 real shirts (the shirt threshold is 0.35); the normalised margin swaps them and a few
others for flipped coats, pullovers and sandals (thresholds 0.46-0.70).
Beyond the flagged set (:func:`ranked_beyond`): when a person asks for more suggestions than were flagged, the list
goes on with the unflagged images ordered by the same normalised margin, as cleanlab ranks every image by its label
quality score; each suggests its most probable other class. The flagged set itself is unchanged.

Tried on the same Fashion-MNIST confusable probabilities and not kept: the plain margin ``p_given - p_other`` (0.725,
but 0.809 at random), weighting by the confident joint's pair noise rates (0.716-0.722; random 0.705-0.861: at 3,000 images the joint is
mostly the model's own confusions; from 10,000 on it is what :mod:`.label_ranking` uses), 10 folds
or 3 fold seeds averaged (0.716-0.722), a second round with the flagged images left out of the heads (0.731; random
0.861), frozen ImageNet Lite0 features (112 px, linear head accuracy 0.80) blended in (0.700-0.713).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .label_ranking import choose_ranking, pair_posterior


@dataclass(frozen=True)
class LabelIssues:
    """indices_m: the images flagged, most likely mistake first (by ``ranked_by``); quality_m: their normalised margin
    (:func:`label_quality`; ascending when ranked by the margin); suggested_m: argmax label of
    each; margin_m: its ``p_given - max other p``; both_m: flagged by the stricter "both" test too; confident_joint_kk:
    the calibrated counts (rows: given label)."""

    indices_m: np.ndarray
    quality_m: np.ndarray
    suggested_m: np.ndarray
    margin_m: np.ndarray
    both_m: np.ndarray
    confident_joint_kk: np.ndarray
    mistake_m: np.ndarray | None = None  # the probability each given label is wrong under the estimated noise pairs
    ranked_by: str = "margin"  # the order (:data:`RANKINGS`): "margin" or "pairs"
    why: str = ""  # why that order (:func:`.label_ranking.choose_ranking`)


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


def label_quality(labels_n: np.ndarray, probs_nk: np.ndarray, thresholds_k: np.ndarray) -> np.ndarray:
    """(N,) normalised margin ``log(p_given / t_given) - max_{j != given} log(p_j / t_j)``; below 0: some other class
    is further above its usual level than the given one (lower: more likely a mistake)."""
    rows = np.arange(len(labels_n))
    relative_nk = np.log(np.clip(probs_nk, 1e-9, None)) - np.log(np.clip(thresholds_k, 1e-9, None))[None, :]
    given = relative_nk[rows, labels_n].copy()
    relative_nk[rows, labels_n] = -np.inf
    return given - relative_nk.max(1)


def noise_counts(joint_kk: np.ndarray, n: int) -> np.ndarray:
    """(K, K) int: how many of the ``n`` images are estimated labelled i while truly j (diagonal 0)."""
    noise = np.rint(joint_kk / max(joint_kk.sum(), 1e-12) * n).astype(int)
    np.fill_diagonal(noise, 0)
    return noise


def pruned_by_class(labels_n: np.ndarray, probs_nk: np.ndarray, noise_kk: np.ndarray) -> np.ndarray:
    """(N,) bool: in each class i, the ``noise_kk[i].sum()`` images labelled i of lowest self-confidence."""
    pruned = np.zeros(len(labels_n), dtype=bool)
    self_confidence = probs_nk[np.arange(len(labels_n)), labels_n]
    for i in range(probs_nk.shape[1]):
        members = np.flatnonzero(labels_n == i)
        pruned[members[np.argsort(self_confidence[members], kind="stable")[: noise_kk[i].sum()]]] = True
    return pruned


def pruned_by_noise_rate(labels_n: np.ndarray, probs_nk: np.ndarray, noise_kk: np.ndarray) -> np.ndarray:
    """(N,) bool: for each i and j != i, the ``noise_kk[i, j]`` images labelled i of largest ``p_j - p_i``."""
    pruned = np.zeros(len(labels_n), dtype=bool)
    for i in range(probs_nk.shape[1]):
        members = np.flatnonzero(labels_n == i)
        for j in np.argsort(-noise_kk[i], kind="stable"):  # largest flows first, each image taken once
            if noise_kk[i, j] == 0:
                break
            free = members[~pruned[members]]
            margin = probs_nk[free, j] - probs_nk[free, i]
            pruned[free[np.argsort(-margin, kind="stable")[: noise_kk[i, j]]]] = True
    return pruned


# each ranking's sort key from (normalised margin, probability of a mistake), lowest first; see :mod:`.label_ranking`;
# ``auto`` chooses between them
RANKINGS = {"margin": lambda quality, mistake: quality, "pairs": lambda quality, mistake: -mistake}


def _ranked(candidates: np.ndarray, labels_n, probs_nk, joint_kk, thresholds_k, ranked_by: str):
    """(order of ``candidates`` by the ranking ``ranked_by``, ties by the normalised margin; their normalised margin;
    their probability of a mistake under the pairs of ``joint_kk``, None without it), each computed once."""
    quality = label_quality(labels_n[candidates], probs_nk[candidates], thresholds_k)
    mistake = pair_posterior(labels_n[candidates], probs_nk[candidates], joint_kk) if joint_kk is not None else None
    return np.lexsort((quality, RANKINGS[ranked_by](quality, mistake))), quality, mistake


def find_label_issues(labels_n, probs_nk, rank: str = "auto") -> LabelIssues:
    """Confident learning's label issues: pruned by class or by "both", suggestion above the given label, ranked by
    ``rank``: the normalised margin (:func:`label_quality`), the noise pairs' probability of a mistake, or ``auto``,
    the pairs where the estimated noise comes in pairs (:func:`.label_ranking.choose_ranking`)."""
    if rank != "auto" and rank not in RANKINGS:
        raise ValueError(f"unknown ranking {rank!r}; known: auto, {', '.join(RANKINGS)}")
    labels_n, probs_nk = np.asarray(labels_n, dtype=np.int64), np.asarray(probs_nk, dtype=np.float64)
    if probs_nk.ndim != 2 or len(labels_n) != len(probs_nk):
        raise ValueError(f"labels (N,) and probabilities (N, K) must match (got {labels_n.shape} and {probs_nk.shape})")
    joint, confident = confident_joint(labels_n, probs_nk)
    noise = noise_counts(joint, len(labels_n))
    argmax = probs_nk.argmax(1)
    # a suggestion a person is shown says which class it more likely is: the model's most probable class, not the given one
    both = pruned_by_noise_rate(labels_n, probs_nk, noise) & (confident >= 0) & (confident != labels_n) & (argmax != labels_n)
    issues = np.flatnonzero((pruned_by_class(labels_n, probs_nk, noise) & (argmax != labels_n)) | both)
    ranked_by, why = choose_ranking(joint, rank)
    order, quality, mistake = _ranked(issues, labels_n, probs_nk, joint, class_thresholds(labels_n, probs_nk), ranked_by)
    issues = issues[order]
    margin = probs_nk[issues, labels_n[issues]] - probs_nk[issues, argmax[issues]]
    return LabelIssues(issues, quality[order], argmax[issues], margin, both[issues], joint, mistake[order], ranked_by, why)


def ranked_beyond(labels_n, probs_nk, flagged_m, count: int, ranked_by: str = "margin",
                  joint_kk: np.ndarray | None = None) -> LabelIssues:
    """The ``count`` images not in ``flagged_m`` most likely mislabelled by the flagged set's ranking ``ranked_by``
    (``pairs`` needs the flagged set's ``joint_kk``; the thresholds of all images), most likely mistake first: the ranked list
    continued past the flagged set. Each suggests its most probable class other than the given one; ``both_m`` all
    False; ``confident_joint_kk`` empty (see the flagged set's)."""
    if ranked_by == "pairs" and joint_kk is None:
        raise ValueError("ranked_beyond by pairs needs the flagged set's confident joint (joint_kk)")
    labels_n, probs_nk = np.asarray(labels_n, dtype=np.int64), np.asarray(probs_nk, dtype=np.float64)
    rest = np.setdiff1d(np.arange(len(labels_n)), np.asarray(flagged_m, dtype=np.int64))
    order, quality, mistake = _ranked(rest, labels_n, probs_nk, joint_kk, class_thresholds(labels_n, probs_nk), ranked_by)
    order = order[: max(0, int(count))]
    chosen = rest[order]
    others = probs_nk[chosen].copy()
    others[np.arange(len(chosen)), labels_n[chosen]] = -np.inf
    suggested = others.argmax(1)
    margin = probs_nk[chosen, labels_n[chosen]] - probs_nk[chosen, suggested]
    return LabelIssues(chosen, quality[order], suggested, margin, np.zeros(len(chosen), dtype=bool), np.zeros((0, 0)),
                       None if mistake is None else mistake[order], ranked_by)
