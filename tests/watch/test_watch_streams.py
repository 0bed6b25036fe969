"""Live sources: a loopback MJPEG stream killed and restarted mid-stream, a consumer slower than its source, streams that never connect."""
import socket
import threading
import time

import numpy as np
import pytest
from mjpeg_server import MjpegServer
from PIL import Image

from vislearn.watch.analysers import FrameResult
from vislearn.watch.loop import watch
from vislearn.watch.reader import FrameReader
from vislearn.watch.sources import SourceError, parse_source

RED, BLUE = (220, 20, 20), (20, 20, 220)


class Recorder:
    """An analyser that remembers each frame's dominant colour; ``delay_s`` makes it a slow model."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s, self.colours, self.seen = delay_s, [], threading.Event()

    def analyse(self, frame):
        time.sleep(self.delay_s)
        self.colours.append("red" if frame.image_hwc[..., 0].mean() > frame.image_hwc[..., 2].mean() else "blue")
        self.seen.set()
        return FrameResult(Image.fromarray(frame.image_hwc), {}, [])

    def summary(self):
        return {}


def test_watch_reconnects_after_the_stream_server_is_killed_and_restarted(tmp_path):
    first = MjpegServer(RED, frames=10_000).__enter__()
    port, recorder, result = first.port, Recorder(), {}

    def run():
        result["summary"] = watch(None, first.url, events=tmp_path / "events.jsonl", timeout_s=2.0, give_up_s=3.0,
                                  log=lambda m: None, analyser=recorder)

    thread = threading.Thread(target=run)
    thread.start()
    assert recorder.seen.wait(15)
    time.sleep(0.3)
    first.__exit__()  # killed mid-stream
    time.sleep(0.6)
    with MjpegServer(BLUE, frames=10_000, port=port):  # back on the same port
        deadline = time.monotonic() + 15
        while recorder.colours.count("blue") < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    thread.join(timeout=15)  # gone for good: watch gives up after give_up_s
    assert not thread.is_alive()
    summary = result["summary"]
    assert "red" in recorder.colours and "blue" in recorder.colours
    assert recorder.colours.index("blue") > recorder.colours.index("red")
    assert summary["reconnects"] >= 1 and "giving up" in summary["error"]
    kinds = [line for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert any('"stream dropped"' in k for k in kinds) and any('"reconnected"' in k for k in kinds) and any('"gave up"' in k for k in kinds)


def test_a_model_slower_than_the_stream_keeps_lag_under_a_second_and_counts_dropped_frames():
    recorder = Recorder(delay_s=0.1)  # 10 frames a second against a 30 FPS source
    with MjpegServer(RED, frames=60, fps=30) as server:
        summary = watch(None, server.url, give_up_s=0.5, timeout_s=1.0, log=lambda m: None, analyser=recorder)
    assert summary["dropped_frames"] >= 20  # about 40 of the 60 frames arrive while the model is busy
    assert summary["processed_frames"] <= 40
    assert summary["lag_s"]["max"] < 1.0


def test_a_stream_that_never_answers_is_given_up_with_a_clear_message():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never says a word
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/live"
    try:
        started = time.monotonic()
        with pytest.raises(SourceError, match="giving up"):
            watch(None, url, timeout_s=0.3, give_up_s=0.6, log=lambda m: None, analyser=Recorder())
        assert time.monotonic() - started < 10
    finally:
        silent.close()


def test_a_stream_that_connects_but_never_sends_a_frame_backs_off_and_is_given_up():
    with MjpegServer(RED, frames=0, repeat=True) as server:  # answers every request with headers and nothing else
        started = time.monotonic()
        with pytest.raises(SourceError, match="giving up"):
            watch(None, server.url, timeout_s=0.5, give_up_s=1.0, log=lambda m: None, analyser=Recorder())
        assert time.monotonic() - started < 10


def test_a_file_is_read_frame_by_frame_on_the_videos_own_clock(tmp_path):
    from vislearn.data.samples.tracks import write_tracks_sample

    write_tracks_sample(tmp_path / "t", limit=12, size=48, objects=2)
    with FrameReader(parse_source(str(tmp_path / "t" / "video.mp4")), keep=2, log=lambda m: None) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(12)) and reader.stats.dropped == 0
    assert np.allclose([f.clock_s for f in frames], np.arange(12) / 30, atol=1e-3)  # the video's own clock
