"""Exact and near-duplicate photos: same bytes, or the same picture resized, re-compressed, cropped a little.

Candidate pairs come from :mod:`vislearn.organize.candidates` without an N x N matrix (equal or close
perceptual hashes, close embeddings through FAISS), so 100,000 photos fit in bounded memory.

Every candidate pair is then judged on its pixels (:mod:`vislearn.organize.verdict`: same bytes or decoded
pixels = exact; the same pixels after alignment = near; a looser match = similar). A pair whose files cannot
be read is never a duplicate. Exact and near pairs join into groups (connected components), and so do similar
pairs whose pixels agree (two copies of one photo: a crop and a shrunk copy); each group keeps
one file (the largest resolution, then the larger file, then the shorter path) and suggests removing only
the members that pass a test directly against that file, so a chain of look-alikes cannot pull a different
photo in. Similar pairs form small groups (at most ``MAX_SIMILAR_GROUP`` photos) that are shown, never removed.
"""
from __future__ import annotations

import time

from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vislearn.errors import VislearnError
from vislearn.organize.candidates import candidate_pairs
from vislearn.organize.judging import Judging, PairJudge, UnionFind, judge_candidates, judging_summary
from vislearn.organize.records import ImageRecord, keep_order
from vislearn.organize.verdict import NEAR_RESIDUAL, NEAR_SIDE, NEAR_WORST_WINDOW, REMOVABLE, SAME_BYTES, PairVerdict

MAX_SIMILAR_GROUP = 8  # similar pairs chain through look-alikes: a group stops growing here


class PairEvidence(NamedTuple):
    path: str  # a member of the group
    matched_to: str  # the file it was compared with (the kept one for exact and near groups)
    verdict: PairVerdict  # the test it passed, with its number


class DuplicateGroups(list):
    """The groups (a list of :class:`DuplicateGroup`), with ``judging``: how the candidate pairs were decided."""

    def __init__(self, groups=(), judging: Judging | None = None):
        super().__init__(groups)
        self.judging = judging


class DuplicateGroup(NamedTuple):
    keep: str  # the suggested file to keep (for similar groups: the first photo; all are kept)
    remove: list[str]  # the others, the same photo; empty for similar groups
    kind: str  # "exact" (all the same bytes or pixels) | "near" | "similar"
    reason: str  # why they are duplicates and why ``keep`` was chosen
    evidence: tuple[PairEvidence, ...] = ()  # one per other member: which test it passed, with its number
    similar: tuple[str, ...] = ()  # similar groups: the other photos (never suggested for removal)


def find_duplicates(records: list[ImageRecord], embeddings_nd: np.ndarray | None = None, max_hamming: int = 11,
                    min_cosine: float = 0.8, root: str | Path | None = None, neighbour_index=None,
                    progress: bool = False, workers: int = 1, hash_partners: int | None = None,
                    similar: bool = True) -> list[DuplicateGroup]:
    """Groups of the same photo (exact, near) and of similar photos among ``records``; ``embeddings_nd`` (N, D)
    rows align with the records. Candidates by hash (within ``max_hamming`` bits) or embedding (cosine >=
    ``min_cosine``), each judged on the pixels of the files at ``root / record.path`` (``record.path`` itself
    without ``root``). Exact and near groups come first, largest first; then the similar groups.
    ``neighbour_index``: a search index over the same rows to reuse (:func:`embedding_neighbours`); ``progress``:
    a bar over the candidate pairs being judged; ``workers``: processes for the full pixel test (-1: one per core).
    ``hash_partners``: hash candidates bounded per photo (:func:`~vislearn.organize.candidates.candidate_pairs`; None:
    all within ``max_hamming``); ``similar``: False returns the exact and near groups only (the similar groups, shown
    by organize and never removed, are not formed)."""
    n = len(records)
    if embeddings_nd is not None:
        embeddings_nd = np.asarray(embeddings_nd, dtype=np.float32)
        if embeddings_nd.ndim != 2 or len(embeddings_nd) != n:
            raise VislearnError(f"{n} records but embeddings of shape {embeddings_nd.shape}: give one embedding "
                                "row per record, in the same order")
    if n < 2:
        return DuplicateGroups()
    hashes = np.array([r.phash for r in records], dtype=np.uint64)
    digests = np.unique([r.sha256 for r in records], return_inverse=True)[1]
    clock = time.perf_counter()
    pairs = candidate_pairs(hashes, embeddings_nd, max_hamming, min_cosine, neighbour_index, hash_partners)
    candidate_seconds = time.perf_counter() - clock
    judge_pair = PairJudge(records, root, digests)
    exact_first = np.unique(digests, return_index=True)[1][digests]  # each record's first twin by digest
    for a, b in zip(exact_first.tolist(), range(n)):
        if a != b:
            judge_pair.known[(a, b)] = SAME_BYTES
    verdicts, judging = judge_candidates(pairs, judge_pair, progress, workers)
    verdicts.update(judge_pair.known)
    clock, judged_before = time.perf_counter(), len(judge_pair.known)
    removable = [(a, b) for (a, b), v in verdicts.items() if v.kind in REMOVABLE or v.links]
    groups = [g for members in _components(n, removable) for g in _split(records, members, judge_pair)]
    similar_groups = _similar_groups(records, verdicts, groups) if similar else []
    judging = judging._replace(candidate_seconds=candidate_seconds, grouping_seconds=time.perf_counter() - clock,
                               grouping_judged=len(judge_pair.known) - judged_before)
    return DuplicateGroups(sorted(groups, key=lambda g: (-len(g.remove), g.keep)) + similar_groups, judging)


def _similar_groups(records: list[ImageRecord], verdicts: dict[tuple[int, int], PairVerdict],
                    groups: list[DuplicateGroup]) -> list[DuplicateGroup]:
    """Groups of similar photos (best pairs first, at most ``MAX_SIMILAR_GROUP``), but not those lying inside one
    exact/near group."""
    grouped = {path for g in groups for path in [g.keep, *g.remove]}
    similar = sorted((v.score, a, b) for (a, b), v in verdicts.items() if v.kind == "similar")
    members = _capped_groups(len(records), [(a, b) for _, a, b in similar])
    found = [_similar_group(records, m, inside) for m, inside in zip(members, _pairs_inside(members, verdicts))]
    return [g for g in found if not {g.keep, *g.similar} <= grouped]


def _components(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Connected components with more than one member, each as sorted record indices."""
    if not pairs:
        return []
    i, j = np.asarray(pairs, dtype=np.int64).T
    _, labels = connected_components(coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n)), directed=False)
    order = np.argsort(labels, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(labels))[:-1])
    return [m.tolist() for m in members if len(m) > 1]


def _split(records: list[ImageRecord], members: list[int], judge_pair: PairJudge) -> list[DuplicateGroup]:
    """The component's best file keeps the members that pass a test against it directly; the rest start over."""
    remaining, groups = sorted(members, key=lambda m: keep_order(records[m])), []
    while len(remaining) > 1:
        keep, rest = remaining[0], remaining[1:]
        passed = list(zip(rest, judge_pair.against(keep, rest)))
        matched = [(m, v) for m, v in passed if v.kind in REMOVABLE]
        if matched:
            groups.append(_group(records, keep, matched))
        remaining = [m for m, v in passed if v.kind not in REMOVABLE]
    return groups


def _capped_groups(n: int, pairs: list[tuple[int, int]], cap: int = MAX_SIMILAR_GROUP) -> list[list[int]]:
    """Groups joined pair by pair (best first), never beyond ``cap`` members."""
    joined = UnionFind(n)
    for a, b in pairs:
        joined.union(a, b, cap)
    groups: dict[int, list[int]] = {}
    for k in sorted({k for pair in pairs for k in pair}):
        groups.setdefault(joined.find(k), []).append(k)
    return [g for g in groups.values() if len(g) > 1]


def duplicates_summary(groups: list[DuplicateGroup]) -> str:
    """One log line: how many groups and files of each kind, and the tests that decided."""
    count = {kind: [g for g in groups if g.kind == kind] for kind in ("exact", "near", "similar")}
    return (f"duplicates: {len(count['exact'])} exact groups ({sum(len(g.remove) for g in count['exact'])} files to remove: same bytes "
            f"or pixels), {len(count['near'])} near ({sum(len(g.remove) for g in count['near'])} to remove: aligned pixel residual "
            f"<= {NEAR_RESIDUAL}, worst window <= {NEAR_WORST_WINDOW}, one inside the other keeping >= {NEAR_SIDE} of each side), "
            f"{len(count['similar'])} similar "
            "groups (shown, never suggested for removal)" + judging_summary(getattr(groups, "judging", None)))


def _group(records: list[ImageRecord], keep: int, matched: list[tuple[int, PairVerdict]]) -> DuplicateGroup:
    keeper, others = records[keep], [records[m] for m, _ in matched]
    evidence = tuple(PairEvidence(records[m].path, keeper.path, v) for m, v in matched)
    kind = "exact" if all(v.kind == "exact" for _, v in matched) else "near"
    tests = sorted({v.test for _, v in matched})
    reason = f"{', '.join(tests)}"
    pixel_scores = [v.score for _, v in matched if v.test == "aligned pixels"]
    if pixel_scores:
        reason += f" (residual {_span(pixel_scores, '{:.3f}')} <= {NEAR_RESIDUAL})"
    return DuplicateGroup(keeper.path, [o.path for o in others], kind, f"{reason}; kept {_why_kept(keeper, others)}", evidence)


def _pairs_inside(groups: list[list[int]], verdicts: dict[tuple[int, int], PairVerdict]) -> list[list[tuple[int, int, PairVerdict]]]:
    """For each group, its similar pairs (a, b, verdict) in the verdicts' order: one pass over the verdicts (a pass per
    group was O(groups x pairs): hours at 100,000 photos with ~1 M verdicts and ~10^4 similar groups)."""
    group_of = {k: g for g, members in enumerate(groups) for k in members}
    inside: list[list[tuple[int, int, PairVerdict]]] = [[] for _ in groups]
    for (a, b), v in verdicts.items():
        if v.kind == "similar" and a in group_of and group_of[a] == group_of.get(b):
            inside[group_of[a]].append((a, b, v))
    return inside


def _similar_group(records: list[ImageRecord], members: list[int], inside: list[tuple[int, int, PairVerdict]]) -> DuplicateGroup:
    first, rest = members[0], members[1:]
    evidence = tuple(PairEvidence(records[b].path, records[a].path, v) for a, b, v in inside)
    scores = [v.score for _, _, v in inside]
    reason = (f"similar, not the same photo: aligned look (residual {_span(scores, '{:.3f}')}), failed the near test; "
              "nothing suggested")
    return DuplicateGroup(records[first].path, [], "similar", reason, evidence, tuple(records[m].path for m in rest))


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
