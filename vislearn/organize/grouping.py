"""Which features to group a collection on: all of the embedder's layers, or only its middle blocks when
ImageNet's classifier recognises little in the images (small grey items, digits, a domain far from ImageNet).

Why: the deep layers describe ImageNet objects; where the images are not ImageNet objects, those layers
mostly add noise, while the middle blocks still see shapes (benchmarks/organize_groups.py: digits NMI
0.84 -> 0.88, Fashion-MNIST 0.66 -> 0.68; photo crops unchanged at 1.00). The choice is said in words.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .cluster import Grouping, group_images

# a mix -> the embedder parts it joins (names as in Embedder.parts); a mix is possible only when the embedder has all its parts
LAYER_MIXES = {
    "all layers": (),
    "middle blocks 4-5": ("block 4 (2x2 grid)", "block 5"),
}
UNFAMILIAR = 0.25  # median top-1 ImageNet probability below which the images count as far from ImageNet
WEAK_MODULARITY = 0.6  # below, the groups are loose: the log suggests features learnt on the collection


class GroupedCollection(NamedTuple):
    grouping: Grouping
    features: str  # the layer mix grouped on, e.g. "middle blocks 4-5"
    why: str  # the choice of features in words, for the log and the gallery


def layer_mix(embedding_nd: np.ndarray, parts: tuple[tuple[str, int], ...], names: tuple[str, ...]) -> np.ndarray:
    """(N, D') the named parts of the embedding (N, D), each L2-normalised, joined, unit rows; all of it for ``()``."""
    if not names:
        return embedding_nd
    edges = np.cumsum([0] + [width for _, width in parts])
    where = {name: (edges[i], edges[i + 1]) for i, (name, _) in enumerate(parts)}
    cols = [embedding_nd[:, slice(*where[n])] for n in names]
    x = np.hstack([c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12) for c in cols])
    return x / np.sqrt(len(cols))


def choose_layer_mix(parts: tuple[tuple[str, int], ...], top5_prob: np.ndarray | None) -> tuple[str, str]:
    """(mix name, why in words): the middle blocks when the median top-1 ImageNet probability of the images
    (N, 5) is under :data:`UNFAMILIAR` and the embedder has those blocks; else all layers."""
    have = {name for name, _ in parts}
    if top5_prob is None or not len(top5_prob) or not set(LAYER_MIXES["middle blocks 4-5"]) <= have:
        return "all layers", "features: all layers"
    familiarity = float(np.median(top5_prob[:, 0]))
    if familiarity < UNFAMILIAR:
        return "middle blocks 4-5", (f"features: middle blocks 4-5, because ImageNet's classifier recognises little here (median top-1 "
                                     f"probability {familiarity:.2f} < {UNFAMILIAR}): its deep layers would describe these images poorly")
    return "all layers", f"features: all layers (the images look like ImageNet photos: median top-1 probability {familiarity:.2f})"


def group_collection(embedding_nd: np.ndarray, parts: tuple[tuple[str, int], ...] = (), top5_prob: np.ndarray | None = None,
                     n_groups: int | None = None, seed: int = 0, progress: bool = False) -> GroupedCollection:
    """Group (N, D) embeddings on the layer mix :func:`choose_layer_mix` picks. ``parts``: the embedder's
    (name, width) layout; ``top5_prob`` (N, 5): its ImageNet top-5 probabilities (None: no classifier)."""
    mix, why = choose_layer_mix(parts, top5_prob)
    grouping = group_images(layer_mix(embedding_nd, parts, LAYER_MIXES[mix]), n_groups, seed=seed, progress=progress)
    quality = max(grouping.k_scores.values(), default=0.0)
    if quality < WEAK_MODULARITY and not n_groups:
        why += (f"; the groups are loose (modularity {quality:.2f} < {WEAK_MODULARITY}): features learnt on the collection "
                f"may group it better: --embedder self-supervised")
    return GroupedCollection(grouping._replace(chosen_by=f"{grouping.chosen_by}; {why}"), mix, why)
