"""Judging candidate pairs: each pair's verdict computed once, the cheap pre-judge before the full pixel test.

:func:`judge_candidates` is the duplicate finder's loop over its candidate pairs (:mod:`vislearn.organize.duplicates`):

1. pairs of the same bytes, or of the same size and perceptual hash (maybe the same pixels), go straight to the
   full test;
2. every other pair gets a rough aligned residual from :mod:`vislearn.organize.prejudge` (thousands of pairs at
   a time on small thumbnails); above ``PASS_RESIDUAL`` it is not the same photo and goes no further;
3. the rest are judged by the full pixel test (:mod:`vislearn.organize.verdict`), the most alike first, and a pair
   whose two photos are already joined by exact/near verdicts is skipped: it cannot change which photos form a
   group, and every member of a group is judged against the kept file anyway.

:class:`Judging` counts what each step decided, with its time, for the organize log.
"""
from __future__ import annotations

import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vislearn.organize.pixels import Picture, read_picture, same_decoded_pixels
from vislearn.organize.prejudge import PASS_RESIDUAL, SIDE, prejudge, thumbnail
from vislearn.organize.progress import progress_bar
from vislearn.organize.records import ImageRecord
from vislearn.organize.verdict import REMOVABLE, SAME_BYTES, SAME_PIXELS, PairVerdict, judge_pictures

PICTURE_CACHE = 4096  # pictures kept in memory while judging pairs (16 KB each)


class Judging(NamedTuple):
    """What the duplicate finder decided about its candidate pairs, for the log."""
    candidates: int  # candidate pairs (hashes, embeddings)
    screened: int  # of those, looked at by the pre-judge (the others: same bytes, or same size and hash)
    rejected: int  # pre-judge residual above PASS_RESIDUAL: not the same photo, not judged further
    skipped: int  # both photos already joined by exact/near verdicts of other pairs
    judged: int  # judged by the full pixel test
    read_seconds: float  # reading the thumbnails
    prejudge_seconds: float
    judge_seconds: float  # the full pixel test (and the skipping)
    verdicts: dict  # kind -> count among the judged pairs
    closest_copy: float  # the largest pre-judge residual among pairs the full test found exact/near: the gate's margin
    candidate_seconds: float = 0.0  # finding the candidate pairs (hashes, embedding neighbours)
    grouping_seconds: float = 0.0  # forming the groups: each member judged against the kept file
    grouping_judged: int = 0  # pairs decided while forming the groups (pre-judge, then full test; not candidate pairs)


class PairJudge:
    """Verdicts of pairs (i, j), each computed once; pictures read on first use and kept in a bounded cache."""

    def __init__(self, records: list[ImageRecord], root: str | Path | None, digests: np.ndarray):
        self.records, self.root, self.digests = records, Path(root) if root is not None else None, digests
        self.known: dict[tuple[int, int], PairVerdict] = {}
        self.pictures: OrderedDict[int, Picture | None] = OrderedDict()
        self.thumbnails_nss: np.ndarray | None = None  # set by :meth:`thumbnails`: later pairs are pre-judged first
        self.thumbnail_read_n: np.ndarray | None = None

    def screened(self, a: int, b: int) -> bool:
        """Whether the pair goes through the pre-judge: not for the same bytes, nor for the same size and perceptual hash
        (maybe the same pixels), which go straight to the full test."""
        ra, rb = self.records[a], self.records[b]
        return bool(self.digests[a] != self.digests[b]) and (ra.width, ra.height, ra.phash) != (rb.width, rb.height, rb.phash)

    def path(self, k: int) -> Path:
        return self.root / self.records[k].path if self.root is not None else Path(self.records[k].path)

    def picture(self, k: int) -> Picture | None:
        if k in self.pictures:
            self.pictures.move_to_end(k)
        else:
            self.pictures[k] = read_picture(self.path(k))
            if len(self.pictures) > PICTURE_CACHE:
                self.pictures.popitem(last=False)
        return self.pictures[k]

    def thumbnails(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, SIDE, SIDE) uint8 thumbnails of the records at ``indices`` (others zero) and (N,) whether each was read."""
        n = len(self.records)
        out, valid = np.zeros((n, SIDE, SIDE), np.uint8), np.zeros(n, bool)
        for k in indices.tolist():
            small = thumbnail(self.picture(k))
            if small is not None:
                out[k], valid[k] = small, True
        self.thumbnails_nss, self.thumbnail_read_n = out, valid
        return out, valid

    def __call__(self, a: int, b: int, prejudged: bool = False) -> PairVerdict:
        """The pair's verdict; ``prejudged``: the pair already passed the pre-judge (else it is pre-judged first when
        the thumbnails are there: a group's kept file against members that only chain to it)."""
        key = (min(a, b), max(a, b))
        if key not in self.known:
            self.known[key] = self._judge(*key, prejudged)
        return self.known[key]

    def against(self, keep: int, others: list[int]) -> list[PairVerdict]:
        """Verdicts of ``keep`` against each of ``others``; the pairs not decided yet are pre-judged in one batch first."""
        todo = [m for m in others if (min(keep, m), max(keep, m)) not in self.known]
        if todo and self.thumbnails_nss is not None:
            residual = prejudge(self.thumbnails_nss, self.thumbnail_read_n, np.full(len(todo), keep), np.array(todo)).residual
            for m, r in zip(todo, residual.tolist()):
                if r > PASS_RESIDUAL and self.screened(keep, m):
                    self.known[(min(keep, m), max(keep, m))] = _rejected(r)
        return [self(keep, m, prejudged=True) for m in others]

    def _judge(self, a: int, b: int, prejudged: bool) -> PairVerdict:
        ra, rb = self.records[a], self.records[b]
        if self.digests[a] == self.digests[b]:
            return SAME_BYTES
        if (ra.width, ra.height, ra.phash) == (rb.width, rb.height, rb.phash) and same_decoded_pixels(self.path(a), self.path(b)):
            return SAME_PIXELS
        if not prejudged and self.thumbnails_nss is not None:
            residual = float(prejudge(self.thumbnails_nss, self.thumbnail_read_n, np.array([a]), np.array([b])).residual[0])
            if residual > PASS_RESIDUAL:
                return _rejected(residual)
        pa, pb = self.picture(a), self.picture(b)
        if pa is None or pb is None:
            return PairVerdict(None, "none", float("inf"), 0.0, "a file could not be read")
        return judge_pictures(pa, pb)


def _rejected(residual: float) -> PairVerdict:
    return PairVerdict(None, "pre-judge", residual, PASS_RESIDUAL,
                       f"rough aligned residual {residual:.3f} on {SIDE}-px thumbnails > {PASS_RESIDUAL}")


def judge_candidates(pairs, judge_pair: PairJudge, progress: bool) -> tuple[dict[tuple[int, int], PairVerdict], Judging]:
    """Verdicts of the candidate pairs worth the full pixel test: the pre-judge (:mod:`prejudge`) drops pairs that
    cannot be the same photo; the rest are judged most alike first, and a pair whose two photos are already joined
    by exact/near verdicts is skipped (it cannot change the groups; each member is judged against the kept file)."""
    first, second, n = pairs.first, pairs.second, len(judge_pair.records)
    residual, read_seconds, prejudge_seconds, screened = prejudged_pairs(first, second, judge_pair)
    clock = time.perf_counter()
    rejected = residual > PASS_RESIDUAL  # NaN (a file could not be read) is not rejected: the full test says so
    order = np.argsort(np.where(np.isnan(residual), np.inf, residual), kind="stable")
    order = order[~rejected[order]]
    joined = UnionFind(n)
    for a, b in judge_pair.known:
        joined.union(a, b)
    verdicts, skipped, judged = {}, 0, []
    for p in progress_bar(order.tolist(), enabled=progress, desc="judging duplicate candidates", unit="pair"):
        a, b = int(first[p]), int(second[p])
        if joined.find(a) == joined.find(b):
            skipped += 1
            continue
        verdict = verdicts[(a, b)] = judge_pair(a, b, prejudged=True)
        judged.append(p)
        if verdict.kind in REMOVABLE or verdict.links:
            joined.union(a, b)
    copies = [residual[p] for p, v in zip(judged, verdicts.values()) if v.kind in REMOVABLE]
    judging = Judging(len(first), screened, int(rejected.sum()), skipped, len(verdicts), read_seconds,
                      prejudge_seconds, time.perf_counter() - clock, dict(Counter(str(v.kind) for v in verdicts.values())),
                      float(np.nanmax(copies, initial=0.0)) if copies else float("nan"))
    return verdicts, judging


def prejudged_pairs(first: np.ndarray, second: np.ndarray, judge_pair: PairJudge) -> tuple[np.ndarray, float, float, int]:
    """(P,) pre-judge residual of each pair (-1: not screened, the same bytes or the same size and hash, judged first;
    NaN: a thumbnail could not be read), the seconds reading thumbnails and pre-judging, and how many were screened."""
    clock = time.perf_counter()
    screen = np.array([judge_pair.screened(a, b) for a, b in zip(first.tolist(), second.tolist())], bool)
    thumbnails, valid = judge_pair.thumbnails(np.unique(np.concatenate([first[screen], second[screen]])))
    read_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    residual = np.full(len(first), -1.0, np.float32)
    residual[screen] = prejudge(thumbnails, valid, first[screen], second[screen]).residual
    return residual, read_seconds, time.perf_counter() - clock, int(screen.sum())


class UnionFind:
    """Groups of record indices joined pair by pair; ``union`` may refuse to grow a group beyond ``cap`` members."""

    def __init__(self, n: int):
        self.parent, self.size = list(range(n)), [1] * n

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: int, b: int, cap: int | None = None) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb and (cap is None or self.size[ra] + self.size[rb] <= cap):
            self.parent[rb], self.size[ra] = ra, self.size[ra] + self.size[rb]


def judging_summary(j: Judging | None) -> str:
    if j is None:
        return ""
    per_pair = lambda seconds, count: f"{1000 * seconds / max(count, 1):.2f} ms/pair"
    return (f"; of {j.candidates:,} candidate pairs, {j.rejected:,} rejected by the pre-judge (rough aligned residual on "
            f"{SIDE}-px thumbnails > {PASS_RESIDUAL}; {j.read_seconds:.1f} s reading thumbnails, "
            f"{per_pair(j.prejudge_seconds, j.screened)}), {j.skipped:,} skipped (both already in one exact/near group), "
            f"{j.judged:,} judged on pixels ({per_pair(j.judge_seconds, j.judged)}; "
            + ", ".join(f"{k} {c:,}" for k, c in sorted(j.verdicts.items()))
            + f"; the pre-judge residual of exact/near pairs reached {j.closest_copy:.3f} of {PASS_RESIDUAL}); "
            f"candidates found in {j.candidate_seconds:.1f} s, groups formed in {j.grouping_seconds:.1f} s "
            f"({j.grouping_judged:,} more pairs decided: members against the kept files)")
