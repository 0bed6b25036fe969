"""Exact and near-duplicate photos: same bytes, or the same picture resized, re-compressed, cropped a little.

Candidates come without an N x N matrix, so 50,000 photos take seconds:
- equal sha256 digests (exact), equal perceptual hashes, and hashes within ``max_hamming`` bits found by
  multi-index hashing (``hash_neighbours``: 4 chunks of 16 bits; two hashes within d bits agree to within
  d // 4 bits on at least one chunk, so each chunk is probed with its few flipped variants);
- when embeddings are given, each photo's nearest neighbours with cosine >= ``min_cosine``
  (``search.SearchIndex``: exact FAISS, approximate above 10,000 photos), which finds the crops that move
  a 64-bit hash too far.

Each candidate pair is then checked on its pixels (``pixels.pixel_mismatch``: 64 px thumbnails aligned over
crops of up to 10 %). Without pixels (``check_pixels=False``, or a file that cannot be read) a pair counts
when its hashes are within ``UNCHECKED_HAMMING`` bits, or its cosine is at least ``UNCHECKED_COSINE``.
Pairs join into groups by connected components (union-find). Each group keeps one file: the largest
resolution, then the larger file, then the shorter path, then the first in sort order.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vislearn.errors import VislearnError
from vislearn.organize.pixels import Thumbnail, pixel_mismatch, read_thumbnail
from vislearn.organize.records import ImageRecord

HASH_BITS, CHUNKS = 64, 4
CHUNK_BITS = HASH_BITS // CHUNKS
KNN_NEIGHBOURS = 8
UNCHECKED_HAMMING, UNCHECKED_COSINE = 4, 0.97  # without pixels: precision 1.0 on the planted test, recall 0.65
APPROXIMATE_ABOVE = 10_000  # brute-force kNN over N photos costs N^2 D; an IVF index is cheaper above this


class DuplicateGroup(NamedTuple):
    keep: str  # the suggested file to keep
    remove: list[str]  # the others, same picture
    kind: str  # "exact" (all the same bytes) | "near"
    reason: str  # why they are duplicates and why ``keep`` was chosen


class Pairs(NamedTuple):
    """Candidate pairs ``first[i] < second[i]`` (indices into the records) with their evidence."""
    first: np.ndarray
    second: np.ndarray
    hash_bits: np.ndarray  # Hamming distance of their perceptual hashes
    cosine: np.ndarray  # cosine of their embeddings (NaN without embeddings)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits per uint64 element."""
    x = np.asarray(x, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x).astype(np.int64)
    return np.unpackbits(x.reshape(-1, 1).view(np.uint8), axis=1).sum(1).reshape(x.shape).astype(np.int64)


def _flip_masks(bits: int, max_flips: int) -> np.ndarray:
    """All ``bits``-bit masks with at most ``max_flips`` bits set (1 + 16 + 120 + 560 for 16 bits, 3 flips)."""
    masks = np.arange(1 << bits, dtype=np.uint64)
    return masks[popcount64(masks) <= max_flips]


def hash_neighbours(hashes_n: np.ndarray, max_hamming: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, i < j, whose 64-bit hashes differ in at most ``max_hamming`` bits.

    Enough pairs to connect every such photo, not all of them: photos with equal hashes pair only with the
    first photo that has that hash, and close hashes pair through those first photos (a thousand black
    frames are 999 pairs, not 499,500).

    Multi-index hashing: distinct hashes are looked up chunk by chunk with each chunk's variants within
    ``max_hamming // 4`` flipped bits (137 variants for up to 11 bits, 697 for up to 15). Memory and time
    grow with the number of close pairs, not with N^2.
    """
    if not 0 <= max_hamming < 16:
        raise VislearnError(f"max_hamming={max_hamming}: use 0..15 bits of the 64-bit perceptual hash")
    hashes = np.asarray(hashes_n, dtype=np.uint64)
    unique, first_of, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    same = np.flatnonzero(first_of[inverse] != np.arange(len(hashes)))
    firsts, seconds = [first_of[inverse[same]]], [same]
    masks = _flip_masks(CHUNK_BITS, max_hamming // CHUNKS)
    found: list[np.ndarray] = []
    for c in range(CHUNKS):
        keys = ((unique >> np.uint64(c * CHUNK_BITS)) & np.uint64((1 << CHUNK_BITS) - 1)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        bucket_size = np.bincount(keys, minlength=1 << CHUNK_BITS)  # a table per chunk value: O(1) lookups
        bucket_start = np.cumsum(bucket_size) - bucket_size
        for mask in masks.astype(np.int64):
            probe = keys ^ mask
            counts = bucket_size[probe]
            if not counts.any():
                continue
            a = np.repeat(np.arange(len(unique)), counts)
            b = order[np.repeat(bucket_start[probe] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())]
            keep = (a < b) & (popcount64(unique[a] ^ unique[b]) <= max_hamming)  # most bucket mates are far
            found.append(a[keep] * len(unique) + b[keep])
    if found:
        codes = np.unique(np.concatenate(found))
        firsts.append(first_of[codes // len(unique)])
        seconds.append(first_of[codes % len(unique)])
    i, j = np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64)
    return np.minimum(i, j), np.maximum(i, j)


def embedding_neighbours(embeddings_nd: np.ndarray, min_cosine: float, k: int = KNN_NEIGHBOURS):
    """Pairs ``(i, j)``, i < j, among each photo's ``k`` nearest neighbours with cosine >= ``min_cosine``."""
    from vislearn.organize.search import SearchIndex

    n = len(embeddings_nd)
    index = SearchIndex.build(embeddings_nd, [str(i) for i in range(n)], exact_below=APPROXIMATE_ABOVE)
    hits = index.search(embeddings_nd, min(k + 1, n))
    rows = [(i, int(h.path)) for i, row in enumerate(hits) for h in row if h.score >= min_cosine and int(h.path) != i]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = np.asarray(rows, dtype=np.int64).T
    return np.minimum(i, j), np.maximum(i, j)


def candidate_pairs(hashes_n: np.ndarray, embeddings_nd: np.ndarray | None, max_hamming: int,
                    min_cosine: float) -> Pairs:
    """Distinct candidate pairs from the hashes and, if given, the embeddings, with both kinds of evidence."""
    hashes_n = np.asarray(hashes_n, dtype=np.uint64)
    i, j = hash_neighbours(hashes_n, max_hamming)
    if embeddings_nd is not None:
        ei, ej = embedding_neighbours(embeddings_nd, min_cosine)
        i, j = np.concatenate([i, ei]), np.concatenate([j, ej])
    codes = np.unique(i * len(hashes_n) + j)
    i, j = codes // len(hashes_n), codes % len(hashes_n)
    bits = popcount64(hashes_n[i] ^ hashes_n[j])
    if embeddings_nd is None:
        return Pairs(i, j, bits, np.full(len(i), np.nan))
    unit = embeddings_nd / np.maximum(np.linalg.norm(embeddings_nd, axis=1, keepdims=True), 1e-12)
    return Pairs(i, j, bits, np.einsum("nd,nd->n", unit[i], unit[j]))


def find_duplicates(records: list[ImageRecord], embeddings_nd: np.ndarray | None = None, max_hamming: int = 11,
                    min_cosine: float = 0.8, root: str | Path | None = None, check_pixels: bool = True,
                    max_mismatch: float = 1.0) -> list[DuplicateGroup]:
    """Groups of the same picture among ``records``; ``embeddings_nd`` (N, D) rows align with the records.

    Exact duplicates: equal sha256. Near: candidates by hash (within ``max_hamming`` bits) or embedding
    (cosine >= ``min_cosine``), confirmed on pixels (mismatch <= ``max_mismatch``) from the files at
    ``root / record.path`` (``record.path`` itself without ``root``). Groups come largest first.
    """
    n = len(records)
    if embeddings_nd is not None:
        embeddings_nd = np.asarray(embeddings_nd, dtype=np.float32)
        if embeddings_nd.ndim != 2 or len(embeddings_nd) != n:
            raise VislearnError(f"{n} records but embeddings of shape {embeddings_nd.shape}: give one embedding "
                                "row per record, in the same order")
    if n < 2:
        return []
    hashes = np.array([r.phash for r in records], dtype=np.uint64)
    digests = np.unique([r.sha256 for r in records], return_inverse=True)[1]
    pairs = candidate_pairs(hashes, embeddings_nd, max_hamming, min_cosine)
    pairs = _drop(pairs, digests[pairs.first] == digests[pairs.second])  # same bytes: joined below anyway
    mismatch = np.full(len(pairs.first), np.nan)
    if check_pixels:
        thumbnails = _Thumbnails(records, root)
        for k, (a, b) in enumerate(zip(pairs.first.tolist(), pairs.second.tolist())):
            ta, tb = thumbnails[a], thumbnails[b]
            if ta is not None and tb is not None:
                mismatch[k] = pixel_mismatch(ta, tb)
    unchecked = (pairs.hash_bits <= UNCHECKED_HAMMING) | (pairs.cosine >= UNCHECKED_COSINE)
    near = np.where(np.isnan(mismatch), unchecked, mismatch <= max_mismatch)
    exact_first = np.unique(digests, return_index=True)[1][digests]  # each record's first twin by digest
    i = np.concatenate([pairs.first[near], exact_first])
    j = np.concatenate([pairs.second[near], np.arange(n)])
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members = [m for m in np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1]) if len(m) > 1]
    evidence = {(a, b): m for a, b, m in zip(pairs.first[near].tolist(), pairs.second[near].tolist(), mismatch[near])}
    groups = [_group(records, m.tolist(), hashes, embeddings_nd, digests, evidence) for m in members]
    return sorted(groups, key=lambda g: (-len(g.remove), g.keep))


class _Thumbnails:
    """Thumbnails read on first use (only photos in some candidate pair are ever opened)."""

    def __init__(self, records: list[ImageRecord], root: str | Path | None):
        self.records, self.root, self.cache = records, Path(root) if root is not None else None, {}

    def __getitem__(self, k: int) -> Thumbnail | None:
        if k not in self.cache:
            path = self.records[k].path
            self.cache[k] = read_thumbnail(self.root / path if self.root is not None else path)
        return self.cache[k]


def _drop(pairs: Pairs, mask: np.ndarray) -> Pairs:
    return Pairs(*(x[~mask] for x in pairs))


def keep_order(record: ImageRecord) -> tuple:
    """Sort key: the file to keep sorts first (largest resolution, larger file, shorter path, path)."""
    return (-record.width * record.height, -record.file_bytes, len(record.path), record.path)


def _group(records: list[ImageRecord], members: list[int], hashes: np.ndarray, embeddings_nd: np.ndarray | None,
           digests: np.ndarray, evidence: dict[tuple[int, int], float]) -> DuplicateGroup:
    ranked = sorted(members, key=lambda m: keep_order(records[m]))
    keep, others = ranked[0], ranked[1:]
    keeper = records[keep]
    if all(digests[m] == digests[keep] for m in others):
        return DuplicateGroup(keeper.path, [records[m].path for m in others], "exact",
                              f"same bytes (sha256 {keeper.sha256[:12]}...); kept the shortest path")
    bits = popcount64(hashes[others] ^ hashes[keep])
    reason = f"phash distance {_span(bits.tolist(), '{}')}"
    if embeddings_nd is not None:  # only this group's rows: normalising all N per group cost O(groups x N x D)
        rows = embeddings_nd[[keep] + others]
        unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        reason += f", cosine {_span((unit[1:] @ unit[0]).tolist(), '{:.2f}')}"
    reason += " to the kept file"
    member_set = set(members)
    checked = [v for (a, b), v in evidence.items() if a in member_set and not np.isnan(v)]
    if checked:
        reason += f"; pixels match after alignment (mismatch {_span(checked, '{:.2f}')} of a 1-pixel shift)"
    same_bytes = sum(digests[m] == digests[keep] for m in others)
    if same_bytes:
        reason = f"{same_bytes} with the same bytes; " + reason
    return DuplicateGroup(keeper.path, [records[m].path for m in others], "near",
                          f"{reason}; kept {_why_kept(keeper, [records[m] for m in others])}")


def _span(values: list[float], fmt: str) -> str:
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def _why_kept(keeper: ImageRecord, others: list[ImageRecord]) -> str:
    pixels = keeper.width * keeper.height
    size = f"{keeper.width}x{keeper.height}"
    if all(o.width * o.height < pixels for o in others):
        return f"the largest resolution ({size})"
    if all(o.width * o.height <= pixels and o.file_bytes < keeper.file_bytes for o in others):
        return f"the largest file at the largest resolution ({size}, {keeper.file_bytes:,} bytes)"
    return f"the shortest path among equal sizes ({size}, {keeper.file_bytes:,} bytes)"
