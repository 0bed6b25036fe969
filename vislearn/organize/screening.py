"""The cheap gates of every candidate pair (pre-judge, rough alignment, fine look), over several cores for many pairs.

:func:`screen_pairs` is :meth:`vislearn.organize.judging.PairJudge.screen`'s work on plain arrays: each pair's numbers do
not depend on the batch it is in (``tests/organize/test_organize_screen_batches.py``), so :func:`screen_in_parallel`
cuts many pairs into chunks, hands each chunk with only the thumbnails it needs to a worker process (``spawn``, one
torch thread each) and gets the same verdicts back in order. A bounded number of chunks is in flight at a time: memory
stays at a few chunks' thumbnails, not the whole collection's per chunk.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import NamedTuple

import numpy as np

from vislearn.organize.fine_judge import FINE_GATE, FINE_SIDE, UPPER_BOUNDS, FineLook, fine_look, fine_passes
from vislearn.organize.prejudge import (GEOMETRY_GATE, PASS_RESIDUAL, SIDE, geometry, off_geometry, prejudge,
                                        whole_picture_residual)
from vislearn.organize.verdict import SIMILAR_OVERLAP, SIMILAR_RESIDUAL, PairVerdict

SAME_SHAPE = 0.02  # aspect ratios this close: the full test also compares the two whole (pixels.pixel_matches)
PARALLEL_SCREEN_FROM = 100_000  # pairs (~200 CPU s of gates) below which starting two workers (~34 CPU s measured) is not worth it
CHUNK_PAIRS = 4096  # pairs per worker task (their thumbnails: at most ~24 MB)


class Thumbnails(NamedTuple):
    """Every photo's thumbnails, (N, ...) each; rows not read are zero with ``read_n`` False."""
    small_nss: np.ndarray  # (N, SIDE, SIDE) uint8, the pre-judge's
    read_n: np.ndarray  # (N,) bool
    size_n2: np.ndarray  # (N, 2) upright (width, height) of each picture
    fine_nss: np.ndarray  # (N, FINE_SIDE, FINE_SIDE) uint8, the fine look's


def screen_pairs(thumbs: Thumbnails, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, list[PairVerdict | None], float]:
    """(P,) rough residuals of the pairs ``(first[p], second[p])`` (NaN: a thumbnail is missing), the rejection of each
    pair that cannot be a copy (a :class:`PairVerdict` that says why), else None (the full test decides), and the
    seconds spent in the fine look."""
    found = prejudge(thumbs.small_nss, thumbs.read_n, first, second)
    shape = geometry(found.params, thumbs.size_n2[first], thumbs.size_n2[second])
    off = off_geometry(shape)
    (wa, ha), (wb, hb) = thumbs.size_n2[first].T, thumbs.size_n2[second].T
    same_shape = np.abs(wa * hb / (ha * wb) - 1) < SAME_SHAPE  # the full test compares these whole too
    whole = off & same_shape
    if whole.any():
        off[whole] = whole_picture_residual(thumbs.small_nss, first[whole], second[whole]) > PASS_RESIDUAL
    verdicts = [_rejected(r) if r > PASS_RESIDUAL else _off_geometry(r, shape, p) if off[p] else None
                for p, r in enumerate(found.residual.tolist())]
    through = np.array([v is None for v in verdicts], bool) & ~np.isnan(found.residual)
    clock = time.perf_counter()
    if through.any():
        look = _fine(thumbs, first[through], second[through], found.params[through], same_shape[through])
        passes = fine_passes(look)
        for q, p in enumerate(np.flatnonzero(through).tolist()):
            if not passes[q]:
                verdicts[p] = _finely_settled(look, q)
    return found.residual, verdicts, time.perf_counter() - clock


def screen_in_parallel(thumbs: Thumbnails, first: np.ndarray, second: np.ndarray,
                       workers: int) -> tuple[np.ndarray, list[PairVerdict | None], float]:
    """:func:`screen_pairs` over ``workers`` processes, a chunk of pairs at a time (the fine look's seconds summed over
    the workers)."""
    residual, verdicts, fine_seconds = np.full(len(first), np.nan, np.float32), [None] * len(first), 0.0
    starts = deque(range(0, len(first), CHUNK_PAIRS))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_quiet_worker) as pool:
        running = deque()
        while starts or running:
            while starts and len(running) < 2 * workers:
                start = starts.popleft()
                chunk = _chunk(thumbs, first[start:start + CHUNK_PAIRS], second[start:start + CHUNK_PAIRS])
                running.append((start, pool.submit(screen_pairs, *chunk)))
            start, future = running.popleft()
            chunk_residual, chunk_verdicts, seconds = future.result()
            fine_seconds += seconds
            residual[start:start + len(chunk_residual)] = chunk_residual
            verdicts[start:start + len(chunk_verdicts)] = chunk_verdicts
    return residual, verdicts, fine_seconds


def _chunk(thumbs: Thumbnails, first: np.ndarray, second: np.ndarray) -> tuple[Thumbnails, np.ndarray, np.ndarray]:
    """The chunk's own thumbnails (only the photos its pairs name) and its pairs renumbered into them."""
    rows, local = np.unique(np.concatenate([first, second]), return_inverse=True)
    return Thumbnails(*(a[rows] for a in thumbs)), local[:len(first)], local[len(first):]


def _quiet_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _fine(thumbs: Thumbnails, first: np.ndarray, second: np.ndarray, params_p4: np.ndarray, same_shape: np.ndarray) -> FineLook:
    """:func:`~vislearn.organize.fine_judge.fine_look` of the pairs from the pre-judge's alignment; pairs of the same
    shape are also looked at whole (unmoved), and the better look counts."""
    look = fine_look(thumbs.fine_nss, thumbs.read_n, thumbs.size_n2, first, second, params_p4)
    if not same_shape.any():
        return look
    unmoved = np.tile(np.array([1.0, 0.0, 1.0, 0.0], np.float32), (int(same_shape.sum()), 1))
    whole = fine_look(thumbs.fine_nss, thumbs.read_n, thumbs.size_n2, first[same_shape], second[same_shape], unmoved)
    rows = np.flatnonzero(same_shape)
    better = whole.residual < look.residual[rows]
    merged = [np.array(x, copy=True) for x in (look.residual, look.worst_window, *look.shape)]
    for values, whole_values in zip(merged, (whole.residual, whole.worst_window, *whole.shape)):
        values[rows[better]] = whole_values[better]
    return FineLook(merged[0], merged[1], type(look.shape)(*merged[2:]))


def _rejected(residual: float) -> PairVerdict:
    return PairVerdict(None, "pre-judge", residual, PASS_RESIDUAL,
                       f"rough aligned residual {residual:.3f} on {SIDE}-px thumbnails > {PASS_RESIDUAL}")


def _off_geometry(residual: float, shape, p: int) -> PairVerdict:
    """Not a copy by the rough alignment; ``similar`` (shown, never removed: a burst, the same scene shot again) when the
    rough residual passed and the two overlap as much as the full test asks of similar pairs."""
    numbers = ", ".join(f"{name} {getattr(shape, name)[p]:.2f}" for name in GEOMETRY_GATE)
    bounds = ", ".join(f"{name} >= {bound}" for name, bound in GEOMETRY_GATE.items())
    kind = "similar" if shape.overlap[p] >= SIMILAR_OVERLAP else None
    return PairVerdict(kind, "rough look", residual, PASS_RESIDUAL, f"rough residual {residual:.3f} but the rough alignment "
                       f"on {SIDE}-px thumbnails is not one picture inside the other ({numbers}; a copy needs {bounds})")


def _finely_settled(look: FineLook, q: int) -> PairVerdict:
    """Not a copy by the fine look; ``similar`` (shown, never removed) when it looks alike and overlaps as the full test
    asks of similar pairs."""
    r, w = float(look.residual[q]), float(look.worst_window[q])
    numbers = (f"residual {r:.3f}, worst window {w:.3f}, inside {look.shape.inside[q]:.2f}, overlap {look.shape.overlap[q]:.2f}, "
               f"scale {look.shape.scale[q]:.2f}, side {look.shape.side[q]:.2f}")
    bounds = ", ".join(f"{name} {'<=' if name in UPPER_BOUNDS else '>='} {bound}" for name, bound in FINE_GATE.items())
    kind = "similar" if r <= SIMILAR_RESIDUAL and look.shape.overlap[q] >= SIMILAR_OVERLAP else None
    return PairVerdict(kind, "fine look", r, FINE_GATE["residual"], f"{numbers} on {FINE_SIDE}-px thumbnails (a copy needs {bounds})")
