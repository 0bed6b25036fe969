"""`watch --serve`: the live page, MJPEG stream, counts and events on a real loopback socket; bounded viewers; clean stop."""
import http.client
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from vislearn.errors import VislearnError
from vislearn.watch.analysers import FrameResult
from vislearn.watch.board import LiveBoard
from vislearn.watch.live import BOUNDARY, LiveServer
from vislearn.watch.loop import watch


def _picture(value: int) -> Image.Image:
    return Image.fromarray(np.full((24, 32, 3), value, np.uint8))


def _get(server: LiveServer, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1].strip("/")), timeout=5)
    connection.request("GET", path)
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, answer.getheader("Content-Type"), body


@pytest.fixture
def served():
    board = LiveBoard()
    with LiveServer(board, port=0, max_viewers=1) as server:
        yield board, server


def _open_stream(server: LiveServer) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1].strip("/")), timeout=5)
    connection.request("GET", "/stream.mjpg")
    return connection.getresponse()


def _next_jpeg(stream: http.client.HTTPResponse) -> bytes:
    assert stream.readline().strip() == f"--{BOUNDARY}".encode()
    headers = dict(line.decode().strip().split(": ", 1) for line in iter(stream.readline, b"\r\n"))
    body = stream.read(int(headers["Content-Length"]))
    stream.readline()
    return body


def test_the_page_the_newest_frame_counts_and_events_are_served(served):
    board, server = served
    assert _get(server, "/frame.jpg")[0] == 503  # nothing analysed yet
    board.publish(_picture(200), {"line_counts": {"cup": {"in": 2}}}, {"processed_fps": 9.5})
    board.add_event({"event": "crossed line", "track_id": 3})
    board.add_event({"event": "left zone", "track_id": 4})
    status, kind, page = _get(server, "/")
    assert status == 200 and kind.startswith("text/html") and b'src="/stream.mjpg"' in page
    assert b"http://" not in page and b"https://" not in page  # nothing from a CDN
    status, kind, jpeg = _get(server, "/frame.jpg")
    assert status == 200 and kind == "image/jpeg" and Image.open(io.BytesIO(jpeg)).size == (32, 24)
    state = json.loads(_get(server, "/counts")[2])
    assert state == {"frames": 1, "counts": {"line_counts": {"cup": {"in": 2}}}, "figures": {"processed_fps": 9.5}, "ended": False}
    events = json.loads(_get(server, "/events")[2])
    assert [e["event"] for e in events["events"]] == ["crossed line", "left zone"] and events["last"] == 2
    assert json.loads(_get(server, "/events?after=1")[2])["events"] == [{"seq": 2, "event": "left zone", "track_id": 4}]
    assert _get(server, "/events?after=x")[0] == 400 and _get(server, "/nothing")[0] == 404


def test_the_stream_sends_each_new_frame_and_ends_with_the_source(served):
    board, server = served
    board.publish(_picture(10), {}, {})
    stream = _open_stream(server)
    assert stream.status == 200 and stream.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    first = np.asarray(Image.open(io.BytesIO(_next_jpeg(stream))))
    board.publish(_picture(240), {}, {})
    second = np.asarray(Image.open(io.BytesIO(_next_jpeg(stream))))
    assert first.mean() < 30 and second.mean() > 220
    board.close()
    assert stream.read() == b""  # the stream ends (within the read timeout) once the source has ended


def test_viewers_are_bounded_and_a_closed_stream_frees_its_place(served):
    board, server = served
    board.publish(_picture(10), {}, {})
    stream = _open_stream(server)
    _next_jpeg(stream)
    assert _get(server, "/stream.mjpg")[0] == 503  # max_viewers=1
    assert _get(server, "/counts")[0] == 200  # the JSON pages are not held back by the stream
    stream.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the server notices the closed viewer at its next frame
        board.publish(_picture(20), {}, {})
        again = _open_stream(server)
        if again.status == 200:
            break
        again.read()
        time.sleep(0.05)
    assert again.status == 200
    again.close()


def test_stop_ends_open_streams_and_closes_the_socket():
    board = LiveBoard()
    server = LiveServer(board, port=0).__enter__()
    board.publish(_picture(10), {}, {})
    stream = _open_stream(server)
    _next_jpeg(stream)
    started = time.monotonic()
    server.stop()
    assert stream.read() == b"" and time.monotonic() - started < 4
    with pytest.raises(OSError):
        _get(server, "/counts")


def test_only_loopback_may_be_bound_and_a_taken_port_is_named():
    with pytest.raises(VislearnError, match="this computer only"):
        LiveServer(LiveBoard(), host="0.0.0.0", port=0)
    with LiveServer(LiveBoard(), port=0) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(VislearnError, match=f"--port {port}"):
            LiveServer(LiveBoard(), port=port)


class Counter:
    """A stand-in analyser: one event every third frame, a count of the frames seen."""

    def __init__(self):
        self.frames = 0

    def analyse(self, frame):
        self.frames += 1
        return FrameResult(Image.fromarray(frame.image_hwc), {}, [{"event": "third"}] if self.frames % 3 == 0 else [])

    def summary(self):
        return {"frames_seen": self.frames}


def test_watch_publishes_every_frame_its_counts_and_events_to_the_board(tmp_path):
    from vislearn.data.samples.tracks import write_tracks_sample

    write_tracks_sample(tmp_path / "t", limit=9, size=64)
    board, seen = LiveBoard(), []
    board.publish = lambda picture, counts, figures, original=board.publish: (seen.append(counts), original(picture, counts, figures))
    summary = watch(None, str(tmp_path / "t" / "video.mp4"), log=lambda m: None, analyser=Counter(), board=board)
    state = board.state()
    assert summary["processed_frames"] == 9 and state["frames"] == 9 and state["ended"]
    assert [c["frames_seen"] for c in seen] == list(range(1, 10)) and state["figures"]["processed_frames"] == 9
    events, last = board.events_after(0)
    assert last == 3 and [e["frame"] for e in events] == [2, 5, 8]


def test_watch_serve_refuses_a_host_other_computers_can_reach_before_loading_the_run(tmp_path, capsys):
    from vislearn.cli import main
    from vislearn.data.samples.tracks import write_tracks_sample

    write_tracks_sample(tmp_path / "t", limit=2, size=32)
    assert main(["watch", str(tmp_path / "no-run"), str(tmp_path / "t" / "video.mp4"), "--serve", "--host", "0.0.0.0"]) != 0
    assert "this computer only" in capsys.readouterr().err  # not "no such run": the host was checked first
