"""Which image of review's list a person reads first: the order of the likely label mistakes.

Two orders, chosen per data set from confident learning's own estimate of the label noise (the confident joint):

- ``margin`` (the normalised margin, :func:`vislearn.metrics.label_issues.label_quality`): each probability against
  its class's usual level. Right when mistakes fall anywhere (a labeller's slips, files dropped in a wrong folder).
- ``pairs`` (:func:`pair_posterior`): the probability that the given label is wrong, given the image's probabilities
  and the estimated *noise pairs* ``T[i, j] = P(labelled i | truly j)``: ``1 - p_i T[i, i] / sum_j p_j T[i, j]``.
  When mistakes come in pairs (a labeller who mixes up coats and pullovers, sandals and sneakers), a coat labelled
  pullover is a likely mistake while a shirt the model takes for a pullover, a confusion the labels never make, is
  not: the margin ranks both alike.

``auto`` takes ``pairs`` only when the estimate says the noise is in pairs and is large enough to trust: on average
(weighted by each true class's share of the noise) at least :data:`PAIRS_MIN_SHARE` of a true class's mislabelled
images sit in one wrong class, and the confident joint counts at least :data:`PAIRS_MIN_COUNT` images off its
diagonal. Measured (benchmarks/review_mistakes.py, precision at the number flipped: the flagged images first, then
the rest, each part in the ranking's order; the same out-of-fold probabilities ranked both ways; **bold**: auto's choice):

| set | share, off-diagonal count | margin | pairs |
|---|---|---|---|
| Fashion-MNIST 40,000, 5 % confusable | 0.84, 2,537 | 0.787 | **0.837** |
| Fashion-MNIST 40,000, 10 % confusable | 0.90, 4,491 | 0.835 | **0.871** |
| Fashion-MNIST 20,000, 5 % / 10 % confusable | 0.84 / 0.87, 1,419 / 2,393 | 0.777 / 0.800 | **0.826 / 0.844** |
| Fashion-MNIST 10,000, 10 % confusable | 0.82, 1,360 | 0.753 | **0.804** |
| Fashion-MNIST 40,000, 5 % / 10 % random | 0.23 / 0.20, 2,631 / 4,547 | **0.916 / 0.915** | 0.882 / 0.908 |
| Fashion-MNIST 10,000, 10 % random / confusable, seed 1 (fresh draws) | 0.25 / 0.84, 1,265 / 1,277 | **0.892** / 0.758 | 0.846 / **0.802** |
| Fashion-MNIST 3,000, 5 % / 10 % confusable | 0.72 / 0.79, 361 / 469 | **0.694 / 0.719** | 0.629 / 0.700 |
| digits 5 % / 10 %, random | 0.34 / 0.33, 64 / 108 | **0.975 / 0.980** | 0.949 / 0.959 |
| digits 5 % / 10 %, confusable | 1.00, 78 / 125 | **0.990 / 0.976** | 0.980 / 0.970 |

On random flips the pairs' estimate is spread thin and the margin wins; on small sets (3,000 Fashion-MNIST items,
a base model right for 0.87) the confident joint is mostly the model's own confusions, not the labels' pairs.
"""
from __future__ import annotations

import numpy as np

PAIRS_MIN_SHARE = 0.6  # random flips: 0.20-0.34; flips to one confusable class: 0.72-1.00
PAIRS_MIN_COUNT = 1000  # images off the confident joint's diagonal: Fashion-MNIST 3,000 had 361-469, 10,000 1,360
RANKING_SAYS = {"margin": "normalised margin (each probability against its class's usual level)",
                "pairs": "probability of a mistake under the estimated noise pairs (which label each class is mistaken for)"}


def noise_pairs(joint_kk: np.ndarray) -> np.ndarray:
    """(K, K) ``T[i, j] = P(labelled i | truly j)`` from the calibrated confident joint (rows: given label); a class
    nothing is confidently counted in keeps its own label (``T[j, j] = 1``)."""
    joint = np.asarray(joint_kk, dtype=np.float64)
    columns = joint.sum(0, keepdims=True)
    pairs = np.divide(joint, columns, out=np.zeros_like(joint), where=columns > 0)
    empty = columns[0] <= 0
    pairs[empty, empty] = 1.0
    return pairs


def pair_posterior(labels_n: np.ndarray, probs_nk: np.ndarray, joint_kk: np.ndarray) -> np.ndarray:
    """(N,) the probability that each given label is wrong: ``1 - p_given T[given, given] / sum_j p_j T[given, j]``
    (``T``: :func:`noise_pairs`); 1 where no class, the given one included, leads to the given label."""
    labels_n = np.asarray(labels_n, dtype=np.int64)
    weighted_nk = np.clip(np.asarray(probs_nk, dtype=np.float64), 1e-12, None) * noise_pairs(joint_kk)[labels_n]
    total = weighted_nk.sum(1)
    right = weighted_nk[np.arange(len(labels_n)), labels_n]
    return 1.0 - np.divide(right, total, out=np.zeros_like(total), where=total > 0)


def noise_shape(joint_kk: np.ndarray) -> tuple[float, float]:
    """(share, count): the noise-weighted mean share of a true class's mislabelled images that sit in its most frequent
    wrong label, and how many images the confident joint puts off its diagonal."""
    off = np.asarray(joint_kk, dtype=np.float64).copy()
    np.fill_diagonal(off, 0.0)
    count = float(off.sum())
    if count <= 0:
        return 0.0, 0.0
    per_class = off.sum(0)
    top = np.divide(off.max(0), per_class, out=np.zeros_like(per_class), where=per_class > 0)
    return float((per_class / count * top).sum()), count


def choose_ranking(joint_kk: np.ndarray, asked: str = "auto") -> tuple[str, str]:
    """(``margin`` or ``pairs``, why): ``asked`` itself unless ``auto``, which reads :func:`noise_shape`."""
    share, count = noise_shape(joint_kk)
    seen = f"the estimated noise puts {share:.2f} of a class's mistakes in one wrong label, {count:.0f} images off the diagonal"
    if asked != "auto":
        return asked, f"asked for ({seen})"
    if share >= PAIRS_MIN_SHARE and count >= PAIRS_MIN_COUNT:
        return "pairs", f"{seen}: mistakes come in pairs (at least {PAIRS_MIN_SHARE} and {PAIRS_MIN_COUNT})"
    short = [f"share below {PAIRS_MIN_SHARE}" if share < PAIRS_MIN_SHARE else "",
             f"fewer than {PAIRS_MIN_COUNT} to trust pairs" if count < PAIRS_MIN_COUNT else ""]
    return "margin", f"{seen}: {', '.join(s for s in short if s)}"
