"""Dynamic batching: concurrent requests share model calls up to max_batch, each gets its own answer in order, a
failing batch fails only its own requests, and stopping answers everything already queued."""
import asyncio
import threading
import time

import pytest

from vislearn.serve.batching import Batcher


def _run(coroutine):
    return asyncio.run(coroutine)


class Recorder:
    """answer_batch that doubles numbers, records batch sizes and the thread, and can be slow or fail."""

    def __init__(self, delay_s=0.0, fail_on=None):
        self.sizes, self.threads, self.delay_s, self.fail_on = [], set(), delay_s, fail_on

    def __call__(self, batch):
        self.sizes.append(len(batch))
        self.threads.add(threading.get_ident())
        time.sleep(self.delay_s)
        if self.fail_on is not None and self.fail_on in batch:
            raise RuntimeError("model failed")
        return [2 * x for x in batch]


def test_concurrent_requests_share_batches_up_to_max_batch():
    recorder = Recorder(delay_s=0.05)

    async def main():
        batcher = Batcher(recorder, max_batch=4, max_wait_ms=50)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.stop()
        return answers

    assert _run(main()) == [2 * i for i in range(10)]
    assert sum(recorder.sizes) == 10 and max(recorder.sizes) == 4 and len(recorder.sizes) <= 4
    assert len(recorder.threads) == 1 and threading.get_ident() not in recorder.threads  # one worker thread, not the loop's


def test_a_lone_request_waits_no_longer_than_max_wait():
    recorder = Recorder()

    async def main():
        batcher = Batcher(recorder, max_batch=16, max_wait_ms=1)
        batcher.start()
        answer = await asyncio.wait_for(batcher.submit(21), timeout=30)
        await batcher.stop()
        return answer

    assert _run(main()) == 42 and recorder.sizes == [1]


def test_a_failing_batch_fails_its_own_requests_only():
    recorder = Recorder(fail_on=3)

    async def main():
        batcher = Batcher(recorder, max_batch=1, max_wait_ms=0)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
        await batcher.stop()
        return answers

    answers = _run(main())
    assert [a for i, a in enumerate(answers) if i != 3] == [0, 2, 4, 8]
    assert isinstance(answers[3], RuntimeError)


def test_stop_answers_everything_already_queued():
    recorder = Recorder(delay_s=0.02)

    async def main():
        batcher = Batcher(recorder, max_batch=2, max_wait_ms=0)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.submit(i)) for i in range(7)]
        await asyncio.sleep(0)  # all seven queued
        await batcher.stop()
        return [p.result() for p in pending]

    assert _run(main()) == [2 * i for i in range(7)]


def test_a_request_given_up_by_its_client_is_not_computed():
    recorder = Recorder(delay_s=0.2)

    async def main():
        batcher = Batcher(recorder, max_batch=1, max_wait_ms=0)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.05)  # the first is in the model
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(2), timeout=0.01)
        await first
        await batcher.stop()

    _run(main())
    assert recorder.sizes == [1]


def test_two_workers_run_two_batches_at_once_and_every_answer_comes_back():
    """With workers=2 a second batch starts while the first is still in the model (pipelining decode and inference)."""
    running, most = 0, 0
    lock = threading.Lock()

    def slow(batch):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return [2 * x for x in batch]

    async def main():
        batcher = Batcher(slow, max_batch=2, max_wait_ms=0, workers=2)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit(i) for i in range(8)))
        await batcher.stop()
        return answers

    assert _run(main()) == [2 * i for i in range(8)] and most == 2


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(Recorder(), max_batch=0)
