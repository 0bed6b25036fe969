"""Two cores on two images at once: a batch's per-image work split into one slice per thread, each slice on one
thread (ONNX Runtime's runs and FAISS's searches release the GIL), instead of every operator split across threads.

Measured on the shared 2-core machine (load 11-15), CPU ms per 250 px image: the scoring front 58 with one ONNX
Runtime session of 2 threads, 50 as 2 slices of 1 thread; the fine bank search 19.5 with FAISS's 2 OpenMP threads,
14.3 as 2 slices of 1 (14.1 on one thread alone): threads that wait on each other between small operators cost CPU
that two independent slices do not.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, TypeVar

import numpy as np

T = TypeVar("T")


@lru_cache(maxsize=4)
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="vislearn-slice")


def in_slices(work: Callable[[np.ndarray], T], items: np.ndarray, threads: int) -> list[T]:
    """``work`` on ``threads`` near-equal slices of ``items`` (along the first axis) at once; results in slice order.
    Fewer items than threads, or one thread: ``work(items)`` in the calling thread."""
    if threads < 2 or len(items) < threads:
        return [work(items)]
    return list(_pool(threads).map(work, np.array_split(items, threads)))
