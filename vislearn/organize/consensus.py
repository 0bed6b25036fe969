"""The final groups at a chosen K: the consensus of Ward's cut and several k-means runs, so that one
method's habit does not decide the groups.

Why (benchmarks/organize_groups.py, confusion of groups against the true kinds): at the K that modularity
chooses, Ward alone merged three look-alike garments (coat, pullover, shirt: 452 of 2,000 Fashion-MNIST items)
into one group and split the bags in two. The adjusted Rand index counts pairs, so one oversized merged group
costs it far more than NMI (ARI 0.495 against 0.524 for k-means given the true count). k-means draws different,
seed-dependent borders; images that every run puts together are grouped together, the rest follow the majority
(average linkage on the share of runs that agree): ARI 0.536 there, digits and photo crops stay above k-means.
On digits drawn as raw pixels k-means' borders are worse and so is the consensus: :func:`cluster.ward_by_modularity`
keeps it only where its modularity on the kNN graph beats Ward's cut.
"""
from __future__ import annotations

import itertools

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score

RUNS = 8  # k-means runs (different seeds) next to Ward's cut
MAX_POINTS = 2000  # the co-association matrix is (points, points): at most 16 MB in float32


def consensus_groups(points_nd: np.ndarray, ward_labels: np.ndarray, k: int, weight_n: np.ndarray | None = None,
                     runs: int = RUNS, seed: int = 0) -> tuple[np.ndarray, float]:
    """Labels (P,) 0..k-1 of the points (P, d) that Ward's cut (P,) and ``runs`` k-means runs agree on, and their
    agreement: the mean adjusted Rand index between the partitions (1 = every run drew the same groups).
    ``weight_n`` (P,): how many images each point stands for (micro-clusters), used by k-means."""
    if k < 2 or len(points_nd) > MAX_POINTS or len(points_nd) <= k:
        return ward_labels, 1.0
    partitions = [ward_labels] + [KMeans(k, n_init=1, random_state=seed + r).fit(points_nd, sample_weight=weight_n).labels_
                                  for r in range(runs)]
    together = np.zeros((len(points_nd),) * 2, np.float32)
    for labels in partitions:
        together += labels[:, None] == labels[None, :]
    together /= len(partitions)
    labels = AgglomerativeClustering(k, metric="precomputed", linkage="average").fit_predict(1.0 - together)
    agreement = float(np.mean([adjusted_rand_score(a, b) for a, b in itertools.combinations(partitions, 2)]))
    return labels, agreement
