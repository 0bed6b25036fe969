"""Grouping quality when the true groups are known (parent folder names): vislearn against two baselines.

Baselines get the true number of groups; vislearn chooses its own. Scores: NMI and adjusted Rand index
(scikit-learn); vislearn's "other" images count as one more predicted group, so outliers cost score.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from ..data.images import read_image
from ..errors import ImageReadError

PIXEL_SIDE = 32


class Quality(NamedTuple):
    method: str
    n_groups: int
    nmi: float
    ari: float


def folder_labels(paths: list[str], root: str | Path) -> list[str]:
    """Each image's first folder under ``root`` ("" for images directly in it)."""
    root = Path(root).resolve()
    labels = []
    for p in paths:
        parts = Path(p).resolve().relative_to(root).parts
        labels.append(parts[0] if len(parts) > 1 else "")
    return labels


def pixel_vectors(paths: list[str], side: int = PIXEL_SIDE) -> np.ndarray:
    """(N, side*side*3) raw RGB pixels of each image squashed to side x side, in [0, 1]."""
    rows = []
    for p in paths:
        try:
            rows.append(np.asarray(read_image(p).resize((side, side)), np.float32).ravel() / 255.0)
        except ImageReadError:
            rows.append(np.zeros(side * side * 3, np.float32))
    return np.stack(rows)


def kmeans_labels(x_nd: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    return KMeans(k, n_init=10, random_state=seed).fit_predict(x_nd)


def score(method: str, truth: list[str], predicted: np.ndarray) -> Quality:
    return Quality(method, len(np.unique(predicted)), float(normalized_mutual_info_score(truth, predicted)),
                   float(adjusted_rand_score(truth, predicted)))


def compare(paths: list[str], truth: list[str], vislearn_groups: np.ndarray, embedding_nd: np.ndarray, pooled_dim: int = 0) -> list[Quality]:
    """vislearn's grouping, k-means on raw pixels and k-means on the backbone's pooled features (true K for both)."""
    k = len(set(truth))
    pooled = embedding_nd[:, -pooled_dim:] if pooled_dim else embedding_nd
    pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return [
        score("vislearn (chooses K itself)", truth, vislearn_groups),
        score(f"k-means on raw pixels (true K={k})", truth, kmeans_labels(pixel_vectors(paths), k)),
        score(f"k-means on pooled backbone features (true K={k})", truth, kmeans_labels(pooled, k)),
    ]


def quality_table(rows: list[Quality]) -> str:
    lines = [f"{'method':55s} {'groups':>6s} {'NMI':>6s} {'ARI':>6s}"]
    lines += [f"{q.method:55s} {q.n_groups:6d} {q.nmi:6.3f} {q.ari:6.3f}" for q in rows]
    return "\n".join(lines)
