"""Grouping embeddings without labels: spectral clustering on a k-nearest-neighbour graph, the number of
groups chosen by the largest eigengap (or given), an "other" group for images far from every centre,
and each group's most typical images (closest to its centre).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import spectral_embedding
from sklearn.neighbors import NearestNeighbors

OTHER = -1  # group id of outliers
MIN_SPREAD = 0.03  # cosine: a very tight group must not call its ordinary members outliers


class Grouping(NamedTuple):
    group_n: np.ndarray  # (N,) int: group id 0..K-1, or OTHER (-1) for outliers
    n_groups: int
    typical: list[list[int]]  # per group, image indices from most to least typical (at most ``n_typical``)
    similarity_n: np.ndarray  # (N,) cosine similarity of each image to its group's centre
    chosen_by: str  # how K was decided, in words
    eigengaps: dict[int, float]  # K -> gap after the K-th eigenvalue (what "auto" chose from)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def reduce(embedding_nd: np.ndarray, dims: int = 32, seed: int = 0) -> np.ndarray:
    """Centred, PCA to ``dims`` (drops noise directions shared by all photos), unit rows: (N, dims)."""
    x = embedding_nd - embedding_nd.mean(0)
    dims = min(dims, len(x) - 1, x.shape[1])
    if dims < x.shape[1]:
        x = PCA(dims, random_state=seed, svd_solver="randomized" if len(x) > 2000 else "full").fit_transform(x)
    return _unit(x.astype(np.float32))


def knn_graph(x_nd: np.ndarray, neighbours: int) -> sparse.csr_matrix:
    """Symmetric (N, N) affinity: 1 between mutual-or-one-way k nearest neighbours (cosine)."""
    k = min(neighbours, len(x_nd) - 1)
    graph = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x_nd).kneighbors_graph(mode="connectivity")
    return ((graph + graph.T) > 0).astype(np.float64).tocsr()


def choose_k(eigenvalues: np.ndarray, k_min: int, k_max: int) -> tuple[int, dict[int, float]]:
    """K with the largest gap between the K-th and (K+1)-th smallest Laplacian eigenvalues."""
    gaps = {k: float(eigenvalues[k] - eigenvalues[k - 1]) for k in range(k_min, min(k_max, len(eigenvalues) - 1) + 1)}
    return max(gaps, key=gaps.get), gaps


def laplacian_eigenvalues(graph: sparse.csr_matrix, n: int) -> np.ndarray:
    """The ``n`` smallest eigenvalues of the normalised graph Laplacian (0 for each connected piece)."""
    from scipy.sparse.csgraph import laplacian
    from scipy.sparse.linalg import eigsh

    lap = laplacian(graph, normed=True)
    n = min(n, graph.shape[0] - 2)
    if graph.shape[0] <= 1500:
        return np.sort(np.linalg.eigvalsh(lap.toarray()))[:n]
    # shift-invert near 0 finds the smallest ones quickly on a sparse graph
    values = eigsh(lap, k=n, sigma=-1e-3, which="LM", return_eigenvectors=False)
    return np.sort(values)


def group_images(embedding_nd: np.ndarray, n_groups: int | None = None, k_max: int = 30, neighbours: int = 10,
                 n_typical: int = 8, outlier_mads: float = 6.0, min_group: int = 3, seed: int = 0) -> Grouping:
    """Group N unit embeddings (N, D). ``n_groups`` None chooses K in 2..``k_max`` by eigengap."""
    n = len(embedding_nd)
    if n < 3:
        labels = np.zeros(n, int)
        return Grouping(labels, int(n > 0), [list(range(n))] if n else [], np.ones(n), "too few images to group", {})
    x = reduce(embedding_nd, seed=seed)
    graph = knn_graph(x, neighbours)
    k_max = max(2, min(k_max, n // max(min_group, 2)))
    if n_groups:
        k, gaps, chosen_by = min(n_groups, n), {}, f"given (--groups {n_groups})"
    else:
        k, gaps = choose_k(laplacian_eigenvalues(graph, k_max + 2), 2, k_max)
        chosen_by = f"largest eigengap of the neighbour graph among K=2..{k_max}"
    with warnings.catch_warnings():  # a graph in several pieces is fine: each piece is a group
        warnings.simplefilter("ignore", UserWarning)
        spectral = _unit(spectral_embedding(graph, n_components=k, random_state=seed, drop_first=False))
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(spectral)
    labels, similarity = _mark_outliers(x, labels, outlier_mads, min_group)
    labels = _renumber_by_size(labels)
    k_final = int(labels.max()) + 1 if (labels >= 0).any() else 0
    typical = [list(np.flatnonzero(labels == g)[np.argsort(-similarity[labels == g])][:n_typical]) for g in range(k_final)]
    return Grouping(labels, k_final, typical, similarity, chosen_by, gaps)


def _mark_outliers(x: np.ndarray, labels: np.ndarray, mads: float, min_group: int) -> tuple[np.ndarray, np.ndarray]:
    """Images much further from their centre than their group's usual spread, and groups too small, become OTHER."""
    labels = labels.copy()
    similarity = np.zeros(len(x))
    for g in np.unique(labels):
        members = labels == g
        if members.sum() < min_group:
            labels[members] = OTHER
            continue
        centre = _unit(x[members].mean(0, keepdims=True))[0]
        sims = x[members] @ centre
        similarity[members] = sims
        median = np.median(sims)
        spread = max(1.4826 * np.median(np.abs(sims - median)), MIN_SPREAD)
        far = np.flatnonzero(members)[sims < median - mads * spread]
        labels[far] = OTHER
    return labels, similarity


def _renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Group 0 is the largest; OTHER stays -1."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(v), OTHER) for v in labels])
