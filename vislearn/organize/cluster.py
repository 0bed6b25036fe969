"""Grouping embeddings without labels: PCA to a few dimensions, Ward's agglomerative clustering with the
number of groups chosen by the best silhouette (or given), an "other" group for images far from their
centre, and each group's most typical images (closest to its centre).

Measured on labelled sets (docs/organize.md): Ward + silhouette on 24 PCA dimensions of the multi-layer
embedding chose the true K on the photo collection; spectral clustering with an eigengap K did worse.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.decomposition import PCA

OTHER = -1  # group id of outliers
MAX_WARD_POINTS = 2000
MIN_SPREAD = 0.03  # cosine: a very tight group must not call its ordinary members outliers


class Grouping(NamedTuple):
    group_n: np.ndarray  # (N,) int: group id 0..K-1, or OTHER (-1) for outliers
    n_groups: int
    typical: list[list[int]]  # per group, image indices from most to least typical (at most ``n_typical``)
    similarity_n: np.ndarray  # (N,) cosine similarity of each image to its group's centre
    chosen_by: str  # how K was decided, in words
    silhouettes: dict[int, float]  # K -> mean cosine silhouette (what "auto" chose from)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def reduce(embedding_nd: np.ndarray, dims: int = 32, seed: int = 0) -> np.ndarray:
    """Centred, PCA to ``dims`` (drops noise directions shared by all photos), unit rows: (N, dims)."""
    x = embedding_nd - embedding_nd.mean(0)
    dims = min(dims, len(x) - 1, x.shape[1])
    if dims < x.shape[1]:
        x = PCA(dims, random_state=seed, svd_solver="randomized" if len(x) > 2000 else "full").fit_transform(x)
    return _unit(x.astype(np.float32))


def ward_by_silhouette(x_nd: np.ndarray, k_min: int, k_max: int, n_groups: int | None = None, max_points: int = MAX_WARD_POINTS,
                       seed: int = 0) -> tuple[np.ndarray, dict[int, float]]:
    """Ward's agglomerative clustering, K by the best cosine silhouette (or ``n_groups``): (labels (N,), K -> silhouette).

    Above ``max_points`` images, Ward runs on k-means micro-clusters (its memory grows with N^2) and
    each image takes its micro-cluster's group; silhouettes are computed on a sample.
    """
    from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
    from sklearn.metrics import silhouette_score

    points, assign = x_nd, np.arange(len(x_nd))
    if len(x_nd) > max_points:
        micro = MiniBatchKMeans(max_points, random_state=seed, n_init=1, batch_size=4096).fit(x_nd)
        points, assign = _unit(micro.cluster_centers_), micro.labels_
    tree = AgglomerativeClustering(linkage="ward", compute_full_tree=True, n_clusters=k_min).fit(points)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x_nd), min(len(x_nd), 5000), replace=False)
    scores, best = {}, None
    for k in ([n_groups] if n_groups else range(k_min, k_max + 1)):
        labels = _cut(tree, k)[assign]
        if len(np.unique(labels[sample])) < 2:
            continue
        scores[k] = float(silhouette_score(x_nd[sample], labels[sample], metric="cosine"))
        if best is None or scores[k] > scores[best[0]]:
            best = (k, labels)
    return (best[1] if best else np.zeros(len(x_nd), int)), scores


def _cut(tree, k: int) -> np.ndarray:
    """Labels of the fitted full Ward tree cut into ``k`` clusters (no refit)."""
    n = len(tree.labels_)
    parent = np.arange(2 * n - 1)
    for i, (a, b) in enumerate(tree.children_[: n - k]):
        parent[a] = parent[b] = n + i

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    roots = np.array([root(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1]


def group_images(embedding_nd: np.ndarray, n_groups: int | None = None, k_max: int = 30, dims: int = 24, n_typical: int = 8,
                 outlier_mads: float = 6.0, min_group: int = 3, seed: int = 0) -> Grouping:
    """Group N embeddings (N, D). ``n_groups`` None chooses K in 2..``k_max`` by the best silhouette."""
    n = len(embedding_nd)
    if n < 3:
        labels = np.zeros(n, int)
        return Grouping(labels, int(n > 0), [list(range(n))] if n else [], np.ones(n), "too few images to group", {})
    x = reduce(embedding_nd, dims=dims, seed=seed)
    k_max = max(2, min(k_max, n // max(min_group, 2), n - 1))
    labels, silhouettes = ward_by_silhouette(x, 2, k_max, n_groups=min(n_groups, n) if n_groups else None, seed=seed)
    chosen_by = f"given (--groups {n_groups})" if n_groups else f"best silhouette among K=2..{k_max} (Ward clustering)"
    labels, similarity = _mark_outliers(x, labels, outlier_mads, min_group)
    labels = _renumber_by_size(labels)
    k_final = int(labels.max()) + 1 if (labels >= 0).any() else 0
    typical = [list(np.flatnonzero(labels == g)[np.argsort(-similarity[labels == g])][:n_typical]) for g in range(k_final)]
    return Grouping(labels, k_final, typical, similarity, chosen_by, silhouettes)


def _mark_outliers(x: np.ndarray, labels: np.ndarray, mads: float, min_group: int) -> tuple[np.ndarray, np.ndarray]:
    """Groups smaller than ``min_group``, and images much further from their centre than images usually are
    (median - ``mads`` robust spreads over the whole collection), become OTHER."""
    labels = labels.copy()
    similarity = np.zeros(len(x))
    for g in np.unique(labels):
        members = labels == g
        if members.sum() < min_group:
            labels[members] = OTHER
            continue
        similarity[members] = x[members] @ _unit(x[members].mean(0, keepdims=True))[0]
    grouped = labels != OTHER
    if grouped.any():
        median = np.median(similarity[grouped])
        spread = max(1.4826 * np.median(np.abs(similarity[grouped] - median)), MIN_SPREAD)
        labels[grouped & (similarity < median - mads * spread)] = OTHER
    return labels, similarity


def _renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Group 0 is the largest; OTHER stays -1."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(v), OTHER) for v in labels])
