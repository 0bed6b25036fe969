"""Grouping embeddings without labels: PCA to a few dimensions, Ward's agglomerative clustering with the
number of groups chosen by modularity on the images' kNN graph (or given), an "other" group for images far
from their centre, and each group's most typical images (closest to its centre).

Measured on labelled sets (docs/organize.md, benchmarks/organize_groups.py): the silhouette chose 2 groups
for 10 kinds of clothes and 20 for 10 digits; modularity chose within 1.5x of the true count on clothes,
digits and photo crops with 5-12 kinds.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.decomposition import PCA

from .consensus import RUNS, consensus_groups
from .progress import progress_bar

OTHER = -1  # group id of outliers
MAX_WARD_POINTS = 2000
MIN_SPREAD = 0.03  # cosine: a very tight group must not call its ordinary members outliers
KNN, MAX_KNN = 10, 50  # neighbours per image in the graph the number of groups is judged on (see neighbours_for)
GRAPH_SAMPLE = 5000  # images in that graph (a random sample above this)
MIN_MODULARITY = 0.4  # below, no split is worth it: one group
PCA_SAMPLE = 20_000  # rows the PCA is fitted on (all of them below this)
PCA_CHUNK = 8192  # rows projected at a time
CLOSE_NEIGHBOURS = 5  # a far image stays in its group when it is among this many nearest neighbours of a member


class Grouping(NamedTuple):
    group_n: np.ndarray  # (N,) int: group id 0..K-1, or OTHER (-1) for outliers
    n_groups: int
    typical: list[list[int]]  # per group, image indices from most to least typical (at most ``n_typical``)
    similarity_n: np.ndarray  # (N,) cosine similarity of each image to its group's centre
    chosen_by: str  # how K was decided, in words
    k_scores: dict[int, float]  # K -> modularity of its groups on the kNN graph (what "auto" chose from)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def reduce(embedding_nd: np.ndarray, dims: int = 32, seed: int = 0, fit_sample: int = PCA_SAMPLE) -> np.ndarray:
    """Centred, PCA to ``dims`` (drops noise directions shared by all photos), unit rows: (N, dims).

    Above ``fit_sample`` rows the PCA is fitted on a random sample of that many and applied in chunks, so
    memory stays at the input plus (N, dims): a centred float copy of 100,000 x 2,240 would be another 0.9 GB."""
    n, width = embedding_nd.shape
    dims = min(dims, n - 1, width)
    if dims >= width:
        return _unit((embedding_nd - embedding_nd.mean(0)).astype(np.float32))
    fit_rows = np.sort(np.random.default_rng(seed).choice(n, fit_sample, replace=False)) if n > fit_sample else slice(None)
    sample = np.asarray(embedding_nd[fit_rows], dtype=np.float32)
    pca = PCA(dims, random_state=seed, svd_solver="randomized" if len(sample) > 2000 else "full").fit(sample)
    out = np.empty((n, dims), np.float32)
    for start in range(0, n, PCA_CHUNK):
        out[start:start + PCA_CHUNK] = pca.transform(embedding_nd[start:start + PCA_CHUNK])
    return _unit(out)


def knn_graph(x_nd: np.ndarray, k: int = KNN) -> sparse.csr_matrix:
    """(N, N) symmetric 0/1 adjacency joining each unit row of ``x_nd`` (N, d) to its ``k`` nearest (FAISS, inner product)."""
    import faiss

    x = np.ascontiguousarray(x_nd, dtype=np.float32)
    k = min(k, len(x) - 1)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, neighbours = index.search(x, k + 1)
    rows = np.repeat(np.arange(len(x)), k)
    cols = neighbours[:, 1:].ravel()
    keep = cols >= 0
    a = sparse.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])), shape=(len(x), len(x)))
    a = ((a + a.T) > 0).astype(np.float32).tolil()
    a.setdiag(0)  # an exact duplicate may come before the image itself among its neighbours
    return a.tocsr()


def modularity(adjacency: sparse.csr_matrix, labels_n: np.ndarray) -> float:
    """Newman's modularity of a partition (N,) of the graph: the share of edges inside groups minus what
    random edges with the same degrees would put there. 0 for one group; near 1 for separate groups."""
    degree = np.asarray(adjacency.sum(1)).ravel()
    total = degree.sum()
    _, group = np.unique(labels_n, return_inverse=True)
    member = sparse.csr_matrix((np.ones(len(group)), (np.arange(len(group)), group)))
    inside = (member.T @ adjacency @ member).diagonal()
    return float((inside / total - (member.T @ degree / total) ** 2).sum())


def neighbours_for(n: int) -> int:
    """Neighbours per image in the kNN graph: N/40 within [KNN, MAX_KNN], and at most N/10 for small collections.
    A fixed 10 splits large kinds of large collections into pieces (fashion items, 5 kinds -> 9 groups); more
    neighbours than a group has images merges groups."""
    return int(np.clip(n // 40, min(KNN, max(3, n // 10)), MAX_KNN))


def _ward_modularity(x_nd: np.ndarray, ks: list[int], max_points: int, seed: int, progress: bool = False):
    """Ward's tree on (N, d) unit rows and the modularity of its cut at each K in ``ks`` on the kNN graph:
    (tree, points (P, d), assign (N,) image -> point, K -> modularity, labels (N,) -> modularity). Above ``max_points`` images, Ward runs
    on k-means micro-clusters (its memory grows with N^2) and each image takes its micro-cluster's group; the
    graph is built on a sample of :data:`GRAPH_SAMPLE` images."""
    from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans

    points, assign = x_nd, np.arange(len(x_nd))
    if len(x_nd) > max_points:
        micro = MiniBatchKMeans(max_points, random_state=seed, n_init=1, batch_size=4096).fit(x_nd)
        points, assign = _unit(micro.cluster_centers_), micro.labels_
    tree = AgglomerativeClustering(linkage="ward", compute_full_tree=True, n_clusters=1).fit(points)
    sample = np.random.default_rng(seed).choice(len(x_nd), min(len(x_nd), GRAPH_SAMPLE), replace=False)
    graph = knn_graph(x_nd[sample], neighbours_for(len(sample)))
    ks = progress_bar(ks, enabled=progress, desc="choosing the number of groups", unit="K")
    judge = (lambda labels_n: modularity(graph, labels_n[sample]))
    return tree, points, assign, {k: judge(_cut(tree, k)[assign]) for k in ks}, judge


def ward_by_modularity(x_nd: np.ndarray, k_min: int, k_max: int, n_groups: int | None = None, max_points: int = MAX_WARD_POINTS,
                       seed: int = 0, progress: bool = False) -> tuple[np.ndarray, dict[int, float], str]:
    """Groups at the K whose Ward's cut has the highest modularity on the images' kNN graph (or at ``n_groups``):
    (labels (N,), K -> modularity, how the groups were drawn in words). The groups are that cut, or the
    consensus of it and k-means runs at the same K (:func:`consensus.consensus_groups`) when the consensus has
    the higher modularity on the same graph (Ward alone merges look-alike kinds into one oversized group on
    Fashion-MNIST, k-means draws worse borders between digits drawn as pixels: the graph tells which). One group when no K
    reaches :data:`MIN_MODULARITY`: a single round blob's kNN graph can also be cut into "modular" pieces (up to
    ~0.3 in 24 dimensions), while real kinds reach 0.5-0.9 (benchmarks/organize_groups.py).

    Why modularity: it asks whether each image's nearest neighbours fall in its own group, a local test that
    does not reward one wide gap the way the silhouette does (the silhouette picks 2 groups for 10 kinds of
    clothes: garments vs shoes).
    """
    ks = [n_groups] if n_groups else list(range(k_min, k_max + 1))
    tree, points, assign, scores, judge = _ward_modularity(x_nd, ks, max_points, seed, progress)
    best = max(scores, key=scores.get)
    if not n_groups and scores[best] < MIN_MODULARITY:
        return np.zeros(len(x_nd), int), scores, ""
    ward = _cut(tree, best)
    weight = np.bincount(assign, minlength=len(points)).astype(float)
    agreed, agreement = consensus_groups(points, ward, best, weight, seed=seed)
    q_ward, q_agreed = scores[best], judge(agreed[assign])
    if q_agreed > q_ward:
        return agreed[assign], scores, (f"the groups: the consensus of Ward's cut and {RUNS} k-means runs at K={best} (average linkage on how "
                                        f"often two images share a group; mean ARI between the runs {agreement:.2f}), its modularity "
                                        f"{q_agreed:.3f} > Ward's cut alone {q_ward:.3f}")
    return ward[assign], scores, (f"the groups: Ward's cut (modularity {q_ward:.3f}; the consensus with {RUNS} k-means runs "
                                  f"reached {q_agreed:.3f})")


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
                 outlier_mads: float = 6.0, min_group: int = 3, seed: int = 0, progress: bool = False) -> Grouping:
    """Group N embeddings (N, D). ``n_groups`` None chooses K in 1..``k_max`` by kNN-graph modularity.
    Large collections are grouped on samples (said in ``chosen_by``, see :func:`sampling_used`)."""
    n = len(embedding_nd)
    if n < 3:
        labels = np.zeros(n, int)
        return Grouping(labels, int(n > 0), [list(range(n))] if n else [], np.ones(n), "too few images to group", {})
    x = reduce(embedding_nd, dims=dims, seed=seed)
    k_max = max(2, min(k_max, n // max(min_group, 2), n - 1))
    labels, k_scores, drawn = ward_by_modularity(x, 2, k_max, n_groups=min(n_groups, n) if n_groups else None, seed=seed,
                                                     progress=progress)
    k = int(labels.max()) + 1
    chosen_by = f"given (--groups {n_groups})" if n_groups else _why(k_scores, k, k_max)
    chosen_by += f"; {drawn}" if drawn else ""
    chosen_by += sampling_used(n)
    labels, similarity = _mark_outliers(x, labels, outlier_mads, min_group)
    labels = _renumber_by_size(labels)
    k_final = int(labels.max()) + 1 if (labels >= 0).any() else 0
    typical = [list(np.flatnonzero(labels == g)[np.argsort(-similarity[labels == g])][:n_typical]) for g in range(k_final)]
    return Grouping(labels, k_final, typical, similarity, chosen_by, k_scores)


def sampling_used(n: int) -> str:
    """The samples grouping N images used, in words ("" when none): what keeps memory and time linear in N."""
    used = [f"PCA fitted on {PCA_SAMPLE:,} sampled images" if n > PCA_SAMPLE else "",
            f"Ward's tree on {MAX_WARD_POINTS:,} k-means micro-clusters (each image takes its micro-cluster's group)" if n > MAX_WARD_POINTS else "",
            f"modularity judged on the kNN graph of {GRAPH_SAMPLE:,} sampled images" if n > GRAPH_SAMPLE else ""]
    used = [u for u in used if u]
    return f"; at {n:,} images: {', '.join(used)}" if used else ""


def _why(k_scores: dict[int, float], k: int, k_max: int) -> str:
    """The choice in words, with the runners-up, for the log and the gallery."""
    ranked = sorted(k_scores, key=k_scores.get, reverse=True)[:3]
    others = ", ".join(f"K={r}: {k_scores[r]:.2f}" for r in ranked if r != k)
    if k == 1:
        return f"one group: no split among K=2..{k_max} reaches modularity {MIN_MODULARITY} on the kNN graph (best {others})"
    return (f"K={k}, the highest modularity ({k_scores[k]:.2f}) of Ward's groups on the nearest-neighbour graph "
            f"among K=2..{k_max} (next: {others})")


def _mark_outliers(x: np.ndarray, labels: np.ndarray, mads: float, min_group: int) -> tuple[np.ndarray, np.ndarray]:
    """Groups smaller than ``min_group``, and images much further from their centre than images usually are
    (median - ``mads`` robust spreads over the whole collection) that are no other member's close neighbour
    (:func:`_close_to_a_member`), become OTHER. x: (N, d) unit rows; returns (labels (N,), similarity to centre (N,))."""
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
        far = np.flatnonzero(grouped & (similarity < median - mads * spread))
        labels[far[~_close_to_a_member(x, far, labels)]] = OTHER
    return labels, similarity


def _close_to_a_member(x: np.ndarray, rows: np.ndarray, labels: np.ndarray, k: int = CLOSE_NEIGHBOURS) -> np.ndarray:
    """(len(rows),) bool: is image ``rows[i]`` among the ``k`` nearest neighbours of another image of its own group?

    An unusual but real member (an odd crop of a scene shot three times in a burst) is its siblings' nearest
    neighbour; an image that belongs nowhere is nobody's. Only the far images and their neighbours are searched."""
    import faiss

    if not len(rows):
        return np.zeros(0, bool)
    xs = np.ascontiguousarray(x, dtype=np.float32)
    index = faiss.IndexFlatIP(xs.shape[1])
    index.add(xs)
    k = min(k, len(xs) - 1)
    _, near = index.search(xs[rows], k + 1)
    mates = np.unique(near[near >= 0])
    sims, _ = index.search(xs[mates], k + 1)
    kth = dict(zip(mates.tolist(), sims[:, -1]))  # similarity of each mate's k-th nearest neighbour (itself first)
    return np.array([any(j != i and labels[j] == labels[i] and float(xs[i] @ xs[j]) >= kth[j] for j in near[r] if j >= 0)
                     for r, i in enumerate(rows)], bool)


def _renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Group 0 is the largest; OTHER stays -1."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(v), OTHER) for v in labels])
