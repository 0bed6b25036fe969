"""Candidate duplicate pairs without an N x N matrix: close perceptual hashes and close embeddings.

- equal perceptual hashes, and hashes within ``max_hamming`` bits found by multi-index hashing
  (:func:`hash_neighbours`: 4 chunks of 16 bits; two hashes within d bits agree to within d // 4 bits on at
  least one chunk, so each chunk is probed with its few flipped variants);
- each photo's nearest neighbours with cosine >= ``min_cosine`` (:func:`embedding_neighbours`, FAISS: exact up to
  10,000 photos; above, an exact search on the embeddings reduced by PCA to ``REDUCED_DIMS``, whose
  ``REDUCED_SHORTLIST`` x k closest are re-ranked by their full cosine), which finds the crops that move a 64-bit
  hash too far.

Memory grows with N and the number of close pairs: 100,000 photos give a few hundred thousand pairs
(benchmarks/organize_scale.py). :mod:`vislearn.organize.duplicates` judges each pair on its pixels.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vislearn.errors import VislearnError

HASH_BITS, CHUNKS = 64, 4
CHUNK_BITS = HASH_BITS // CHUNKS
KNN_NEIGHBOURS = 8
APPROXIMATE_ABOVE = 10_000  # brute-force kNN over N photos costs N^2 D; an IVF index is cheaper above this
NEIGHBOUR_CHUNK = 4096  # photos queried (or pairs compared) at a time
REDUCED_DIMS = 128  # PCA dimensions for the neighbour search above APPROXIMATE_ABOVE photos
REDUCED_SHORTLIST = 2  # neighbours found in the reduced space per neighbour kept (re-ranked by the full cosine)
REDUCED_NPROBE = 32  # IVF cells (of about 4 sqrt(N)) scanned per photo in the reduced space
PCA_SAMPLE = 10_000  # photos the reduction is fitted on


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


def takes_index(n: int) -> bool:
    """Whether :func:`embedding_neighbours` over ``n`` photos uses a search index handed to it (above
    :data:`APPROXIMATE_ABOVE` it searches reduced embeddings of its own, and an index would only hold memory)."""
    return n <= APPROXIMATE_ABOVE


def embedding_neighbours(embeddings_nd: np.ndarray, min_cosine: float, k: int = KNN_NEIGHBOURS, index=None):
    """Pairs ``(i, j)``, i < j, among each photo's ``k`` nearest neighbours with cosine >= ``min_cosine``.

    Up to :data:`APPROXIMATE_ABOVE` photos an exact search: ``index``, a :class:`~vislearn.organize.search.SearchIndex`
    over the same rows in the same order (ids = row numbers, as ``SearchIndex.build`` gives), e.g. the collection's
    search index, or one built here. Above, :func:`reduced_neighbours` (an exact search over N^2 x 128, not N^2 x D,
    nor an approximate index's lost neighbours). Queried in chunks: memory grows with N k, not N^2."""
    from vislearn.organize.search import SearchIndex

    n = len(embeddings_nd)
    if index is not None and len(index) != n:
        raise VislearnError(f"the neighbour index holds {len(index)} photos, the embeddings {n}: build it on the same rows")
    if not takes_index(n):
        return reduced_neighbours(embeddings_nd, min_cosine, k)
    if index is None:
        index = SearchIndex.build(embeddings_nd, [str(i) for i in range(n)], exact_below=APPROXIMATE_ABOVE + 1)
    return _neighbour_pairs(index.index, embeddings_nd, min_cosine, k)


def _neighbour_pairs(faiss_index, queries_nd: np.ndarray, min_cosine: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) pairs, i < j, of each row and its ``k`` best hits in ``faiss_index`` (ids = rows) scoring >= ``min_cosine``."""
    n = len(queries_nd)
    k = min(k + 1, n)
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, n, NEIGHBOUR_CHUNK):
        scores, ids = faiss_index.search(np.ascontiguousarray(queries_nd[start:start + NEIGHBOUR_CHUNK], dtype=np.float32), k)
        rows = np.repeat(np.arange(start, start + len(ids)), k).reshape(ids.shape)
        keep = (scores >= min_cosine) & (ids >= 0) & (ids != rows)
        firsts.append(rows[keep])
        seconds.append(ids[keep].astype(np.int64))
    i, j = np.concatenate(firsts), np.concatenate(seconds)
    return np.minimum(i, j), np.maximum(i, j)


def reduced_neighbours(embeddings_nd: np.ndarray, min_cosine: float, k: int = KNN_NEIGHBOURS,
                       dims: int = REDUCED_DIMS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`embedding_neighbours` for many photos: PCA to ``dims`` (:func:`vislearn.organize.cluster.reduce`:
    fitted on a sample, applied in chunks), an exact inner-product search there for each photo's ``REDUCED_SHORTLIST * k`` closest, and of those the ``k`` with the
    highest full cosine, if >= ``min_cosine``. Memory: N x ``dims`` floats plus the chunk's hits."""
    import faiss

    from vislearn.organize.cluster import reduce

    reduced = reduce(embeddings_nd, dims=min(dims, embeddings_nd.shape[1]), seed=seed, fit_sample=PCA_SAMPLE)  # centred, unit
    n = len(reduced)
    cells = max(1, min(int(4 * np.sqrt(n)), n // 39))
    index = faiss.index_factory(reduced.shape[1], f"IVF{cells},Flat", faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(n, min(n, 50 * cells), replace=False)
    index.train(reduced[np.sort(sample)])
    index.add(reduced)
    index.nprobe = min(cells, REDUCED_NPROBE)
    shortlist = min(REDUCED_SHORTLIST * k + 1, n)
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, n, NEIGHBOUR_CHUNK):
        _, ids = index.search(reduced[start:start + NEIGHBOUR_CHUNK], shortlist)
        rows = np.repeat(np.arange(start, start + len(ids)), shortlist).reshape(ids.shape)
        valid = (ids >= 0) & (ids != rows)
        cosine = np.full(ids.shape, -np.inf, np.float32)
        cosine[valid] = pair_cosines(embeddings_nd, rows[valid], ids[valid].astype(np.int64))
        best = np.argsort(-cosine, axis=1, kind="stable")[:, :k]
        rows, ids, cosine = (np.take_along_axis(a, best, 1) for a in (rows, ids, cosine))
        keep = cosine >= min_cosine
        firsts.append(rows[keep])
        seconds.append(ids[keep].astype(np.int64))
    i, j = np.concatenate(firsts), np.concatenate(seconds)
    return np.minimum(i, j), np.maximum(i, j)


def closest_partners(first: np.ndarray, second: np.ndarray, closeness: np.ndarray, per_photo: int) -> np.ndarray:
    """(P,) whether each pair ``(first[p], second[p])`` is one of the ``per_photo`` closest pairs (highest
    ``closeness``; ties: the earlier pair) of either of its two photos. Sorting, no loop: O(P log P)."""
    node = np.concatenate([first, second])
    pair = np.tile(np.arange(len(first)), 2)
    order = np.lexsort((pair, -np.tile(np.asarray(closeness, np.float64), 2), node))  # by photo, closest first
    ranked = node[order]
    rank = np.arange(len(ranked)) - np.searchsorted(ranked, ranked, side="left")
    keep = np.zeros(len(first), bool)
    keep[pair[order][rank < per_photo]] = True
    return keep


def candidate_pairs(hashes_n: np.ndarray, embeddings_nd: np.ndarray | None, max_hamming: int,
                    min_cosine: float, neighbour_index=None, hash_partners: int | None = None) -> Pairs:
    """Distinct candidate pairs from the hashes and, if given, the embeddings, with both kinds of evidence.
    ``neighbour_index``: see :func:`embedding_neighbours`. ``hash_partners``: of the pairs within ``max_hamming`` bits,
    only each photo's ``hash_partners`` closest (by embedding cosine; without embeddings by Hamming distance) are
    candidates: on a collection of look-alikes (28-px grey items) the pairs within the distance grow as N^2, a photo's
    copy is among its closest (:func:`closest_partners`); None: all of them."""
    hashes_n = np.asarray(hashes_n, dtype=np.uint64)
    i, j = hash_neighbours(hashes_n, max_hamming)
    if hash_partners is not None:
        closeness = (pair_cosines(embeddings_nd, i, j) if embeddings_nd is not None
                     else -popcount64(hashes_n[i] ^ hashes_n[j]))
        keep = closest_partners(i, j, closeness, hash_partners)
        i, j = i[keep], j[keep]
    if embeddings_nd is not None:
        ei, ej = embedding_neighbours(embeddings_nd, min_cosine, index=neighbour_index)
        i, j = np.concatenate([i, ei]), np.concatenate([j, ej])
    codes = np.unique(i * len(hashes_n) + j)
    i, j = codes // len(hashes_n), codes % len(hashes_n)
    bits = popcount64(hashes_n[i] ^ hashes_n[j])
    if embeddings_nd is None:
        return Pairs(i, j, bits, np.full(len(i), np.nan))
    return Pairs(i, j, bits, pair_cosines(embeddings_nd, i, j))


def pair_cosines(embeddings_nd: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine of rows ``first[p]`` and ``second[p]`` of (N, D) for each pair p, a chunk of pairs at a time (P,):
    gathering all pairs' rows at once would take 2 P D floats (7 GB for 400,000 pairs of 2,240 numbers)."""
    out = np.empty(len(first), np.float32)
    for start in range(0, len(first), NEIGHBOUR_CHUNK):
        a = embeddings_nd[first[start:start + NEIGHBOUR_CHUNK]]
        b = embeddings_nd[second[start:start + NEIGHBOUR_CHUNK]]
        norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        out[start:start + NEIGHBOUR_CHUNK] = np.einsum("nd,nd->n", a, b) / norms
    return out
