"""Judging candidate pairs: each pair's verdict computed once, the cheap pre-judge before the full pixel test.

:func:`judge_candidates` is the duplicate finder's loop over its candidate pairs (:mod:`vislearn.organize.duplicates`):

1. pairs of the same bytes, or of the same size and perceptual hash (maybe the same pixels), go straight to the
   full test;
2. every other pair gets a rough alignment and aligned residual from :mod:`vislearn.organize.prejudge` (thousands
   of pairs at a time on small thumbnails); above ``PASS_RESIDUAL`` it is not the same photo and goes no further,
   nor does a pair whose rough alignment is clearly not one picture inside the other (``GEOMETRY_GATE``: two
   crops of one scene, a moved camera, a zoomed part);
3. the rest are judged by the full pixel test (:mod:`vislearn.organize.verdict`, over several cores:
   :mod:`vislearn.organize.full_test`), the most alike first, and a pair whose two photos are already joined by
   exact/near verdicts is skipped: it cannot change which photos form a group, and every member of a group is
   judged against the kept file anyway.

:class:`Judging` counts what each step decided, with its time, for the organize log.
"""
from __future__ import annotations

import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vislearn.organize.fine_judge import FINE_GATE, FINE_SIDE, UPPER_BOUNDS, fine_thumbnail
from vislearn.organize.full_test import PARALLEL_FROM, FullTest, full_test_workers
from vislearn.organize.pixels import Picture, read_picture, same_decoded_pixels
from vislearn.organize.prejudge import GEOMETRY_GATE, PASS_RESIDUAL, SIDE, thumbnail
from vislearn.organize.screening import PARALLEL_SCREEN_FROM, Thumbnails, screen_in_parallel, screen_pairs
from vislearn.organize.progress import progress_bar
from vislearn.organize.records import ImageRecord, keep_order
from vislearn.organize.verdict import REMOVABLE, SAME_BYTES, SAME_PIXELS, PairVerdict, judge_pictures

PICTURE_CACHE = 4096  # pictures kept in memory while judging pairs (16 KB each)
BATCH_PER_WORKER = 32  # pairs handed to the full test at a time, per worker (a pair joined meanwhile is still judged)


class Judging(NamedTuple):
    """What the duplicate finder decided about its candidate pairs, for the log."""
    candidates: int  # candidate pairs (hashes, embeddings)
    screened: int  # of those, looked at by the pre-judge (the others: same bytes, or same size and hash)
    rejected: int  # pre-judge residual above PASS_RESIDUAL: not the same photo, not judged further
    off_geometry: int  # passed the residual, but the rough alignment is not one picture inside the other (GEOMETRY_GATE)
    # and touching no duplicate group (a pair that touches one is judged: its pixels may link a photo into it)
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
    workers: int = 1  # processes that ran the full test
    joined_to_kept: int = 0  # photos of off-geometry pairs that joined a duplicate group, judged against its kept file
    rough_similar: int = 0  # off-geometry or finely settled pairs shown as similar by their look (overlap >= SIMILAR_OVERLAP)
    fine_settled: int = 0  # of the pairs the pre-judge let through, settled by the fine look (not a copy; fine_judge)
    fine_seconds: float = 0.0  # the fine look (within prejudge_seconds)


class PairJudge:
    """Verdicts of pairs (i, j), each computed once; pictures read on first use and kept in a bounded cache."""

    def __init__(self, records: list[ImageRecord], root: str | Path | None, digests: np.ndarray):
        self.records, self.root, self.digests = records, Path(root) if root is not None else None, digests
        self.known: dict[tuple[int, int], PairVerdict] = {}
        self.pictures: OrderedDict[int, Picture | None] = OrderedDict()
        self.thumbnails_nss: np.ndarray | None = None  # set by :meth:`thumbnails`: later pairs are pre-judged first
        self.thumbnail_read_n: np.ndarray | None = None
        self.size_n2: np.ndarray | None = None  # upright (width, height) of each picture read for a thumbnail
        self.fine_nss: np.ndarray | None = None  # (N, FINE_SIDE, FINE_SIDE) uint8 thumbnails for the fine look
        self.fine_seconds = 0.0  # spent in the fine look so far

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
        """(N, SIDE, SIDE) uint8 thumbnails of the records at ``indices`` (others zero) and (N,) whether each was read;
        the fine look's (N, FINE_SIDE, FINE_SIDE) are made from the same read."""
        n = len(self.records)
        out, valid, size = np.zeros((n, SIDE, SIDE), np.uint8), np.zeros(n, bool), np.ones((n, 2))
        fine = np.zeros((n, FINE_SIDE, FINE_SIDE), np.uint8)
        for k in indices.tolist():
            picture = read_picture(self.path(k))  # once each, not through the cache: most are never judged in full
            small = thumbnail(picture)
            if small is not None:
                out[k], valid[k], size[k], fine[k] = small, True, (picture.width, picture.height), fine_thumbnail(picture)
        self.thumbnails_nss, self.thumbnail_read_n, self.size_n2, self.fine_nss = out, valid, size, fine
        return out, valid

    def screen(self, first: np.ndarray, second: np.ndarray, workers: int = 1) -> tuple[np.ndarray, list[PairVerdict | None]]:
        """Pre-judge the pairs ``(first[p], second[p])`` on the thumbnails (:func:`~vislearn.organize.screening.screen_pairs`:
        (P,) rough residuals and each pair's rejection or None); ``workers`` > 1 processes for many pairs."""
        thumbs = Thumbnails(self.thumbnails_nss, self.thumbnail_read_n, self.size_n2, self.fine_nss)
        if workers > 1 and len(first) >= PARALLEL_SCREEN_FROM:
            residual, verdicts, fine_seconds = screen_in_parallel(thumbs, first, second, workers)
        else:
            residual, verdicts, fine_seconds = screen_pairs(thumbs, first, second)
        self.fine_seconds += fine_seconds
        return residual, verdicts

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
            for m, rejection in zip(todo, self.screen(np.full(len(todo), keep), np.array(todo))[1]):
                if rejection is not None and self.screened(keep, m):
                    self.known[(min(keep, m), max(keep, m))] = rejection
        return [self(keep, m, prejudged=True) for m in others]

    def _judge(self, a: int, b: int, prejudged: bool) -> PairVerdict:
        ra, rb = self.records[a], self.records[b]
        if self.digests[a] == self.digests[b]:
            return SAME_BYTES
        if (ra.width, ra.height, ra.phash) == (rb.width, rb.height, rb.phash) and same_decoded_pixels(self.path(a), self.path(b)):
            return SAME_PIXELS
        if not prejudged and self.thumbnails_nss is not None:
            rejection = self.screen(np.array([a]), np.array([b]))[1][0]
            if rejection is not None:
                return rejection
        pa, pb = self.picture(a), self.picture(b)
        if pa is None or pb is None:
            return PairVerdict(None, "none", float("inf"), 0.0, "a file could not be read")
        return judge_pictures(pa, pb)


def judge_candidates(pairs, judge_pair: PairJudge, progress: bool,
                     workers: int = 1) -> tuple[dict[tuple[int, int], PairVerdict], Judging]:
    """Verdicts of the candidate pairs worth the full pixel test: the pre-judge (:mod:`prejudge`) drops pairs that
    cannot be the same photo; the rest are judged most alike first, and a pair whose two photos are already joined
    by exact/near verdicts is skipped (it cannot change the groups; each member is judged against the kept file).
    A pair whose rough alignment is not a copy's cannot be near, but it may join a photo to a duplicate group (a crop
    and a shrunk copy of one photo: their pixels agree, the original is the candidate of only one of them): when one of
    the two is in a group, the other is judged against the group's kept file (pre-judge, then the full test), round
    after round, and joins when it is a copy of that file (what the group asks of every member to be removed).
    ``workers``: processes for the full test (:func:`~vislearn.organize.full_test.full_test_workers`)."""
    first, second, n = pairs.first, pairs.second, len(judge_pair.records)
    residual, rejections, read_seconds, prejudge_seconds, screened = prejudged_pairs(first, second, judge_pair,
                                                                                     full_test_workers(workers))
    clock = time.perf_counter()
    rejected = np.array([v is not None and v.test == "pre-judge" for v in rejections], bool)
    deferred = np.array([v is not None and v.test != "pre-judge" for v in rejections], bool)
    order = np.argsort(np.where(np.isnan(residual), np.inf, residual), kind="stable")
    joined = UnionFind(n)
    for a, b in judge_pair.known:
        joined.union(a, b)
    verdicts: dict[tuple[int, int], PairVerdict] = {}
    to_judge = order[~(rejected | deferred)[order]]
    with FullTest(workers if len(to_judge) >= PARALLEL_FROM else 1) as full_test:
        judge = _InOrder(first, second, judge_pair, full_test, joined, verdicts)
        judge(to_judge, progress)
        joined_later = _join_to_kept_files(np.flatnonzero(deferred), first, second, judge_pair, full_test, joined)
    copies = [residual[p] for p, v in zip(judge.judged, verdicts.values()) if v.kind in REMOVABLE]
    kinds = Counter(str(v.kind) for v in verdicts.values())
    rough_similar = {(int(first[p]), int(second[p])): rejections[p] for p in np.flatnonzero(deferred)
                     if rejections[p].kind == "similar" and (int(first[p]), int(second[p])) not in verdicts}
    verdicts.update(rough_similar)  # shown as similar (never removed), without the full test
    fine = np.array([v is not None and v.test == "fine look" for v in rejections], bool)
    judging = Judging(len(first), screened, int(rejected.sum()), int((deferred & ~fine).sum()), judge.skipped, len(judge.judged),
                      read_seconds, prejudge_seconds, time.perf_counter() - clock, dict(kinds),
                      float(np.nanmax(copies, initial=0.0)) if copies else float("nan"), workers=full_test.workers,
                      joined_to_kept=joined_later, rough_similar=len(rough_similar), fine_settled=int(fine.sum()),
                      fine_seconds=judge_pair.fine_seconds)
    return verdicts, judging


def _join_to_kept_files(deferred: np.ndarray, first: np.ndarray, second: np.ndarray, judge_pair: PairJudge,
                        full_test: FullTest, joined: UnionFind) -> int:
    """For each candidate pair in ``deferred`` with one photo in a duplicate group (``joined``) and the other outside
    it: that other photo against the group's kept file (pre-judged together, then the full test); it joins the group
    when the verdict is exact/near. Repeated while photos join. Returns how many joined."""
    records, count, tried = judge_pair.records, 0, set()
    pairs = list(zip(first[deferred].tolist(), second[deferred].tolist()))
    while True:
        kept: dict[int, int] = {}  # group root -> its kept file
        for k in range(len(records)):
            root = joined.find(k)
            if joined.size[root] > 1 and (root not in kept or keep_order(records[k]) < keep_order(records[kept[root]])):
                kept[root] = k
        todo = sorted({(min(kept[joined.find(a)], b), max(kept[joined.find(a)], b)) for x, y in pairs
                       for a, b in ((x, y), (y, x)) if joined.find(a) in kept and joined.find(a) != joined.find(b)} - tried)
        if not todo:
            return count
        tried.update(todo)
        keeps, others = np.array(todo).T
        for pair, rejection in zip(todo, judge_pair.screen(keeps, others)[1]):
            if rejection is not None and judge_pair.screened(*pair):
                judge_pair.known[pair] = rejection
        new = [pair for pair, v in zip(todo, _judged(judge_pair, full_test, todo)) if v.kind in REMOVABLE
               and joined.find(pair[0]) != joined.find(pair[1])]
        for pair in new:
            joined.union(*pair)
        count += len(new)
        if not new:
            return count


class _InOrder:
    """Judges pairs (indices into ``first``/``second``) in the order given, skipping those already joined; returns
    whether any verdict joined two photos."""

    def __init__(self, first, second, judge_pair: PairJudge, full_test: FullTest, joined: UnionFind, verdicts: dict):
        self.first, self.second, self.judge_pair, self.full_test = first, second, judge_pair, full_test
        self.joined, self.verdicts, self.skipped, self.judged = joined, verdicts, 0, []

    def __call__(self, order: np.ndarray, progress: bool) -> bool:
        first, second, joined, any_joined = self.first, self.second, self.joined, False
        batch = BATCH_PER_WORKER * self.full_test.workers if self.full_test.workers > 1 else 1  # one process: each skip counts
        bar = progress_bar(total=len(order), enabled=progress, desc="judging duplicate candidates", unit="pair")
        for start in range(0, len(order), batch):
            chunk = order[start:start + batch].tolist()
            todo = [p for p in chunk if joined.find(first[p]) != joined.find(second[p])]
            self.skipped += len(chunk) - len(todo)
            pairs = [(int(first[p]), int(second[p])) for p in todo]
            for p, pair, verdict in zip(todo, pairs, _judged(self.judge_pair, self.full_test, pairs)):
                self.verdicts[pair] = verdict
                self.judged.append(p)
                if verdict.kind in REMOVABLE or verdict.links:
                    joined.union(*pair)
                    any_joined = True
            bar.update(len(chunk))
        bar.close()
        return any_joined


def _judged(judge_pair: PairJudge, full_test: FullTest, todo: list[tuple[int, int]]) -> list[PairVerdict]:
    """Verdicts of pairs that passed the pre-judge: the same bytes or maybe the same pixels here, the rest by the full
    test (several at once); each kept in ``judge_pair.known`` for forming the groups."""
    to_test = [(a, b) for a, b in todo if (a, b) not in judge_pair.known and judge_pair.screened(a, b)]
    tested = full_test.judge([(judge_pair.path(a), judge_pair.path(b)) for a, b in to_test])
    judge_pair.known.update(zip(to_test, tested))
    return [judge_pair(a, b, prejudged=True) for a, b in todo]


def prejudged_pairs(first: np.ndarray, second: np.ndarray, judge_pair: PairJudge,
                    workers: int = 1) -> tuple[np.ndarray, list, float, float, int]:
    """(P,) pre-judge residual of each pair (-1: not screened, the same bytes or the same size and hash, judged first;
    NaN: a thumbnail could not be read), each pair's rejection by the pre-judge or None (:meth:`PairJudge.screen`),
    the seconds reading thumbnails and pre-judging, and how many were screened; ``workers``: processes for many pairs."""
    clock = time.perf_counter()
    screen = np.array([judge_pair.screened(a, b) for a, b in zip(first.tolist(), second.tolist())], bool)
    judge_pair.thumbnails(np.unique(np.concatenate([first[screen], second[screen]])))
    read_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    residual, rejections = np.full(len(first), -1.0, np.float32), [None] * len(first)
    residual[screen], screened_rejections = judge_pair.screen(first[screen], second[screen], workers)
    for p, rejection in zip(np.flatnonzero(screen).tolist(), screened_rejections):
        rejections[p] = rejection
    return residual, rejections, read_seconds, time.perf_counter() - clock, int(screen.sum())


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
            f"{per_pair(j.prejudge_seconds, j.screened)}), {j.off_geometry:,} by its rough alignment (not one picture inside "
            f"the other: " + ", ".join(f"{k} < {v}" for k, v in GEOMETRY_GATE.items()) + f"), {j.fine_settled:,} by the fine "
            f"look ({FINE_SIDE}-px thumbnails, a copy needs " + ", ".join(f"{k} {'<=' if k in UPPER_BOUNDS else '>='} {v}"
                                                                          for k, v in FINE_GATE.items())
            + f"; {per_pair(j.fine_seconds, j.screened - j.rejected - j.off_geometry)}); through those two {j.joined_to_kept:,} "
            f"photos joined a duplicate group, judged against its kept file; {j.rough_similar:,} shown as similar by their "
            f"look), {j.skipped:,} skipped (both "
            f"already in one exact/near group), {j.judged:,} judged on pixels ({per_pair(j.judge_seconds, j.judged)} over "
            f"{j.workers} process{'es' if j.workers > 1 else ''}; "
            + ", ".join(f"{k} {c:,}" for k, c in sorted(j.verdicts.items()))
            + f"; the pre-judge residual of exact/near pairs reached {j.closest_copy:.3f} of {PASS_RESIDUAL}); "
            f"candidates found in {j.candidate_seconds:.1f} s, groups formed in {j.grouping_seconds:.1f} s "
            f"({j.grouping_judged:,} more pairs decided: members against the kept files)")
