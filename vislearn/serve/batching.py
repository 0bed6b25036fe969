"""Dynamic batching: requests for one run that arrive within ``max_wait_ms`` of each other (up to ``max_batch``) go
through the model in one call, on ``workers`` worker threads per run (1 unless the run's model may be called from two
threads at once: then one batch decodes while the other is in the model).

While a batch runs, new requests queue; the next batch takes them at once, so under load batches fill by themselves
and an idle server answers a lone request after at most ``max_wait_ms``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

_STOP = object()


@dataclass
class _Item:
    request: Any
    future: asyncio.Future = field(repr=False)


class Batcher:
    """``await batcher.submit(request)`` -> that request's answer; ``answer_batch(list) -> list`` does the work."""

    def __init__(self, answer_batch: Callable[[list], list], max_batch: int = 16, max_wait_ms: float = 10.0,
                 on_batch: Callable[[int], None] | None = None, name: str = "run", torch_threads: int | None = None,
                 workers: int = 1):
        if max_batch < 1 or max_wait_ms < 0 or workers < 1:
            raise ValueError(f"max_batch and workers must be >= 1 and max_wait_ms >= 0 (got {max_batch}, {workers}, {max_wait_ms})")
        self.answer_batch, self.max_batch, self.max_wait_s = answer_batch, max_batch, max_wait_ms / 1000
        self.on_batch = on_batch or (lambda n: None)
        # torch's intra-op thread count is per thread: a run whose model runs in ONNX Runtime keeps its small torch
        # steps (resize, normalise, referral) on one thread instead of waking a pool for each of them
        initializer = (lambda: torch.set_num_threads(torch_threads)) if torch_threads else None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"vislearn-serve-{name}", initializer=initializer)
        self.workers = workers
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._free: asyncio.Semaphore | None = None
        self._in_flight: set[asyncio.Task] = set()

    def start(self) -> None:
        self._queue, self._free = asyncio.Queue(), asyncio.Semaphore(self.workers)
        self._worker = asyncio.get_running_loop().create_task(self._loop())

    async def submit(self, request: Any) -> Any:
        if self._queue is None:
            raise RuntimeError("the batcher is not running")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(request, future))
        return await future

    async def run_now(self, function: Callable[[], Any]) -> Any:
        """``function()`` on the run's worker thread (between batches): warm-up and anything else that uses the model."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def stop(self) -> None:
        """Answer everything already queued, then stop (graceful shutdown)."""
        if self._queue is not None and self._worker is not None:
            await self._queue.put(_STOP)
            await self._worker
            await asyncio.gather(*self._in_flight)
        self._executor.shutdown(wait=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                return
            await self._free.acquire()  # a worker is free: take what has queued meanwhile, then wait up to max_wait
            batch, deadline = [first], loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait() if loop.time() >= deadline else \
                        await asyncio.wait_for(self._queue.get(), deadline - loop.time())
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            live = [item for item in batch if not item.future.done()]  # a request whose client timed out is dropped
            if not live:
                self._free.release()
                continue
            self.on_batch(len(live))
            task = loop.create_task(self._answer(live))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _answer(self, live: list[_Item]) -> None:
        failed: Exception | None = None
        try:
            answers = await asyncio.get_running_loop().run_in_executor(self._executor, self.answer_batch, [item.request for item in live])
        except Exception as exc:  # the whole batch failed: every request in it gets the error
            answers, failed = [None] * len(live), exc
        finally:
            self._free.release()
        for item, answer in zip(live, answers):
            if item.future.done():
                continue
            if failed is not None:
                item.future.set_exception(failed)
            else:
                item.future.set_result(answer)
