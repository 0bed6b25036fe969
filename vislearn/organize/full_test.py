"""The full pixel test (:func:`~vislearn.organize.verdict.judge_pictures`) of many pairs of files, over several cores.

The test costs ~50-150 ms a pair in Python and NumPy, one core each; a collection of look-alikes sends thousands of
pairs to it. :class:`FullTest` judges a batch of pairs of files in worker processes (``spawn``: no state shared with
the parent, whose torch and FAISS threads a fork could deadlock), each worker reading every file once into its own
bounded cache of pictures. One worker judges in this process, exactly as before. Starting a worker imports vislearn
(seconds; ~20 s on a loaded machine), so callers ask for workers only for many pairs (:data:`PARALLEL_FROM`).
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from vislearn.organize.pixels import read_picture
from vislearn.organize.verdict import PairVerdict, judge_pictures

PICTURE_CACHE = 4096  # pictures kept per worker (16 KB each)
PARALLEL_FROM = 256  # pairs to judge in all below which a single process is faster than starting workers
PAIRS_PER_TASK = 8  # pairs sent to a worker at a time


def full_test_workers(workers: int = -1) -> int:
    """Processes for the full test: ``workers`` < 0 means one per core (the parent only waits meanwhile)."""
    return max(1, (os.cpu_count() or 1) if workers < 0 else workers)


@functools.lru_cache(maxsize=PICTURE_CACHE)
def _picture(path: str):
    return read_picture(path)


def judge_files(path_a: str, path_b: str) -> PairVerdict:
    """The full test of two files' pixels; a file that cannot be read is never a duplicate."""
    a, b = _picture(path_a), _picture(path_b)
    if a is None or b is None:
        return PairVerdict(None, "none", float("inf"), 0.0, "a file could not be read")
    return judge_pictures(a, b)


def _judge_many(pairs: list[tuple[str, str]]) -> list[PairVerdict]:
    return [judge_files(a, b) for a, b in pairs]


def _quiet_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one core per worker: the workers are the parallelism


class FullTest:
    """``judge(pairs of paths)`` -> verdicts in order; a context manager that owns its worker processes."""

    def __init__(self, workers: int = 1):
        self.workers, self._pool = full_test_workers(workers), None

    def __enter__(self) -> FullTest:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def judge(self, pairs: list[tuple[str | Path, str | Path]]) -> list[PairVerdict]:
        pairs = [(str(a), str(b)) for a, b in pairs]
        if self.workers == 1 or len(pairs) < 2:
            return _judge_many(pairs)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=_quiet_worker)
        tasks = [pairs[k:k + PAIRS_PER_TASK] for k in range(0, len(pairs), PAIRS_PER_TASK)]
        return [v for verdicts in self._pool.map(_judge_many, tasks) for v in verdicts]
