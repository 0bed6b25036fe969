"""What to label next: uncertain images, spread over the collection (active learning).

- **Uncertainty** of an image is one minus the margin between its two most probable classes (calibrated
  probabilities): 0 for a sure prediction, 1 when two classes tie.
- **Diversity**: a weighted k-center greedy walk on the embeddings (Sener & Savarese 2018's core set, each
  image's distance to the chosen ones multiplied by its uncertainty). The first pick is the most uncertain
  image; each next one maximises ``uncertainty x distance to the nearest image already chosen``, so that 100
  suggestions are 100 different questions, not 100 near-copies of the one the model finds hardest.
"""
from __future__ import annotations

import numpy as np


def margin_uncertainty(probs_nk: np.ndarray) -> np.ndarray:
    """(N, K) probabilities -> (N,) 1 - (p_top1 - p_top2); a single class gives 0."""
    probs_nk = np.asarray(probs_nk, dtype=np.float64)
    if probs_nk.shape[1] < 2:
        return np.zeros(len(probs_nk))
    top2 = -np.sort(-probs_nk, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def weighted_k_center(features_nd: np.ndarray, weights_n: np.ndarray, k: int) -> list[int]:
    """Indices of ``k`` images chosen greedily by weight x distance (Euclidean) to the nearest chosen image.

    ``features_nd`` (N, D) embeddings, ``weights_n`` (N,) >= 0 (uncertainty). Deterministic: ties go to the lower
    index. Fewer than ``k`` images: all of them, in the order chosen. O(N k D) time, O(N) extra memory."""
    features = np.asarray(features_nd, dtype=np.float64)
    weights = np.maximum(np.asarray(weights_n, dtype=np.float64), 0) + 1e-9  # a sure image can still be picked last
    n = len(features)
    if n == 0 or k <= 0:
        return []
    chosen = [int(np.argmax(weights))]
    nearest = np.linalg.norm(features - features[chosen[0]], axis=1)
    while len(chosen) < min(k, n):
        gain = weights * nearest
        gain[chosen] = -1.0
        pick = int(np.argmax(gain))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(features - features[pick], axis=1))
    return chosen
