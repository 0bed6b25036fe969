"""Bad input gives one clear message and never hangs: refused URL schemes, empty or missing files, a corrupt packet mid-file."""
import time

import pytest

from vislearn.cli import main
from vislearn.data.samples.tracks import write_tracks_sample
from vislearn.watch.analysers import FrameResult
from vislearn.watch.loop import watch
from vislearn.watch.sources import SourceError, parse_source


class Counter:
    def __init__(self):
        self.frames = 0

    def analyse(self, frame):
        from PIL import Image

        self.frames += 1
        return FrameResult(Image.fromarray(frame.image_hwc), {}, [])


@pytest.mark.parametrize("source", ["ftp://example.com/a.mp4", "file:///etc/passwd", "concat:a.mp4|b.mp4", "pipe:0", "udp://1.2.3.4:5"])
def test_a_url_scheme_that_is_not_allowed_is_refused_before_anything_is_opened(source):
    with pytest.raises(SourceError, match="not allowed"):
        parse_source(source)


def test_sources_are_told_apart():
    assert parse_source("0").kind == "webcam"
    assert parse_source("rtsp://127.0.0.1:8554/cam").kind == "stream" and parse_source("HTTPS://x/y.mjpg").live
    with pytest.raises(SourceError, match="no such video file"):
        parse_source("missing.mp4")


def test_an_empty_file_is_refused_with_a_clear_message(tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert main(["watch", str(tmp_path), str(empty)]) == 2
    assert "empty (0 bytes)" in capsys.readouterr().err


def test_a_file_that_is_not_a_video_is_refused(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError, match="cannot be read as a video|no frame could be decoded"):
        watch(None, str(junk), log=lambda m: None, analyser=Counter())


def test_a_corrupt_packet_mid_file_costs_frames_not_the_run(tmp_path):
    write_tracks_sample(tmp_path / "t", limit=40, size=64, objects=2)
    video = tmp_path / "t" / "video.mp4"
    data = bytearray(video.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 400] = bytes(400)  # a stretch of zeros inside the frames' data
    video.write_bytes(bytes(data))
    counter, started = Counter(), time.monotonic()
    summary = watch(None, str(video), log=lambda m: None, analyser=counter)
    assert 10 <= counter.frames <= 40 and summary["processed_frames"] == counter.frames
    assert time.monotonic() - started < 20
